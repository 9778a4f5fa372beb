// Anthropic's Messages API on `mistral serve` (/v1/messages,
// /v1/messages/count_tokens) through the official @anthropic-ai/sdk client
// (and raw fetch where the bytes matter). Run from the repository root:
//   node --test tests/serve/anthropic_test.mjs
// Env: as serve_test.mjs; MISTRAL_SHARED (default ../shared) holds Mistral's
// v3 tokenizer for the tool suite (skipped without it).
//
// Expected outputs come from the CLI: a greedy reply == `mistral generate
// --tokens $(mistral tokenize --chat F)` of the equivalent OpenAI messages.
// The tiny models never call tools by themselves, so a valid call under
// tool_choice any/tool shows the constraint; tool_use/tool_result sent back
// must give the same prompt (and so the same greedy reply) as the
// equivalent OpenAI chat messages on /v1/chat/completions.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { STORIES, skipReason, skipToolsReason, tinyV3, tmpDir, cli, cliChat, startServer, raw } from "./lib.mjs";

const SKIP = skipReason();
const SKIP_TOOLS = skipToolsReason();
const KEY = "test-key-" + Math.random().toString(36).slice(2);
const N = 24;

function anthropic(server, opts = {}) {
  return new Anthropic({ baseURL: server.base, apiKey: KEY, maxRetries: 0, timeout: 60_000, ...opts });
}

// An Anthropic conversation and its OpenAI chat messages.
const CONVERSATIONS = [
  { system: undefined, messages: [{ role: "user", content: "Tell me a story about a cat." }] },
  { system: "You are a storyteller.", messages: [{ role: "user", content: "Once there was a big tree." }] },
  {
    system: [{ type: "text", text: "You are a storyteller.", cache_control: { type: "ephemeral" } }],
    messages: [
      { role: "user", content: [{ type: "text", text: "Hi!" }] },
      { role: "assistant", content: [{ type: "text", text: "Hello. What story do you want?" }] },
      { role: "user", content: "One about a red ball." },
    ],
  },
];

function toOpenAI({ system, messages }) {
  const text = (c) => (typeof c === "string" ? c : c.map((b) => b.text).join("\n\n"));
  const out = system === undefined ? [] : [{ role: "system", content: text(system) }];
  for (const m of messages) out.push({ role: m.role, content: text(m.content) });
  return out;
}

// Reads an SSE body into [{event, data}].
function sseEvents(text) {
  return text.split("\n\n").filter((b) => b.trim()).map((b) => {
    const lines = b.split("\n");
    const ev = lines.find((l) => l.startsWith("event: "))?.slice(7);
    const data = JSON.parse(lines.find((l) => l.startsWith("data: ")).slice(6));
    return { event: ev, data };
  });
}

// The SDK's stream events, checked field by field; returns {text, stopReason, usage, types}.
function checkEvents(events, { inputTokens }) {
  const types = events.map((e) => e.type);
  assert.equal(types[0], "message_start");
  assert.equal(types.at(-1), "message_stop");
  assert.equal(types.at(-2), "message_delta");
  const start = events[0].message;
  assert.match(start.id, /^msg_/);
  assert.equal(start.type, "message");
  assert.equal(start.role, "assistant");
  assert.deepEqual(start.content, []);
  assert.equal(start.stop_reason, null);
  assert.equal(start.stop_sequence, null);
  assert.equal(start.usage.input_tokens, inputTokens);
  let text = "", open = null;
  for (const e of events.slice(1, -2)) {
    if (e.type === "ping") continue;
    if (e.type === "content_block_start") {
      assert.equal(open, null, "a block started inside another");
      open = e.index;
      assert.equal(e.content_block.type, "text");
      assert.equal(e.content_block.text, "");
    } else if (e.type === "content_block_delta") {
      assert.equal(e.index, open);
      assert.equal(e.delta.type, "text_delta");
      assert.equal(typeof e.delta.text, "string");
      text += e.delta.text;
    } else if (e.type === "content_block_stop") {
      assert.equal(e.index, open);
      open = null;
    } else {
      assert.fail(`unexpected event ${e.type}`);
    }
  }
  assert.equal(open, null, "a block was not stopped");
  const delta = events.at(-2);
  assert.ok(["end_turn", "max_tokens", "stop_sequence"].includes(delta.delta.stop_reason), delta.delta.stop_reason);
  assert.equal(typeof delta.usage.output_tokens, "number");
  return { text, stopReason: delta.delta.stop_reason, usage: delta.usage, types };
}

function assertAnthropicError(r, status, type) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.type, "error", r.text);
  assert.equal(r.json.error.type, type, r.text);
  assert.equal(typeof r.json.error.message, "string");
  assert.ok(r.json.error.message.length > 0);
}

const MODELS = [
  { name: "stories260K", model: () => STORIES },
  {
    name: "tiny-moe (synth)",
    model: () => {
      const f = path.join(tmpDir(), "tiny-moe.gguf");
      cli(["synth", f, "--shape", "tiny-moe", "--type", "f32", "--tokenizer", path.join(STORIES, "tokenizer.model")]);
      return f;
    },
  },
];

for (const M of MODELS) {
  describe(`anthropic /v1/messages: ${M.name}`, { skip: SKIP ?? false, timeout: 180_000 }, () => {
    let srv, model, client;
    before(async () => {
      model = M.model();
      srv = await startServer(model, ["--ctx", "1024", "--parallel", "4"], { apiKey: KEY });
      client = anthropic(srv);
    });
    after(async () => { if (srv) await srv.stop(); });

    test("messages.create: greedy text is the CLI's, usage counts the prompt", async () => {
      for (const conv of CONVERSATIONS) {
        const want = cliChat(model, toOpenAI(conv), N);
        const m = await client.messages.create({ model: "m", max_tokens: N, temperature: 0, ...conv, metadata: { user_id: "u1" } });
        assert.match(m.id, /^msg_/);
        assert.equal(m.type, "message");
        assert.equal(m.role, "assistant");
        const text = m.content.map((b) => { assert.equal(b.type, "text"); return b.text; }).join("");
        assert.equal(text, want.text);
        assert.equal(m.usage.input_tokens, want.promptIds.length);
        assert.ok(m.usage.output_tokens >= 1 && m.usage.output_tokens <= N);
        assert.equal(m.stop_reason, m.usage.output_tokens === N ? "max_tokens" : "end_turn");
        assert.equal(m.stop_sequence, null);
        const c = await client.messages.countTokens({ model: "m", ...conv });
        assert.equal(c.input_tokens, want.promptIds.length);
      }
    });

    test("messages.stream: the event sequence, field by field, and the same text", async () => {
      const conv = CONVERSATIONS[1];
      const want = cliChat(model, toOpenAI(conv), N);
      const stream = client.messages.stream({ model: "m", max_tokens: N, temperature: 0, ...conv });
      const events = [];
      for await (const e of stream) events.push(structuredClone(e)); // the SDK fills message_start's message in as it goes
      const got = checkEvents(events, { inputTokens: want.promptIds.length });
      assert.equal(got.text, want.text);
      const final = await stream.finalMessage();
      assert.equal(final.content[0].text, want.text);
      assert.equal(final.stop_reason, got.stopReason);
      // the wire: every "event:" names its data's type; a ping is sent
      const r = await raw(srv, "POST", "/v1/messages", { model: "m", max_tokens: 5, stream: true, ...conv }, { key: null, headers: { "x-api-key": KEY } });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type"), /^text\/event-stream/);
      const wire = sseEvents(r.text);
      for (const e of wire) assert.equal(e.event, e.data.type);
      assert.ok(wire.some((e) => e.event === "ping"));
    });

    test("stop_sequences: stop_reason stop_sequence names the one that matched", async () => {
      const conv = CONVERSATIONS[0];
      const full = cliChat(model, toOpenAI(conv), N).text;
      const stop = full.trim().split(/\s+/)[2];
      assert.ok(stop && full.includes(stop));
      const m = await client.messages.create({ model: "m", max_tokens: N, temperature: 0, ...conv, stop_sequences: ["zzzq", stop] });
      assert.equal(m.stop_reason, "stop_sequence");
      assert.equal(m.stop_sequence, stop);
      assert.equal(m.content[0].text, full.slice(0, full.indexOf(stop)));
    });

    test("a last assistant message is continued (prefill)", async () => {
      const messages = [{ role: "user", content: "Tell me a story." }, { role: "assistant", content: "Once upon a time" }];
      const want = cliChat(model, [messages[0], { ...messages[1], prefix: true }], N);
      const m = await client.messages.create({ model: "m", max_tokens: N, temperature: 0, messages });
      assert.equal(m.content[0].text, want.text);
    });

    test("max_tokens past the context: the room; model_context_window_exceeded when it fills", async () => {
      const m = await client.messages.create({ model: "m", max_tokens: 100000, temperature: 0, messages: [{ role: "user", content: "x" }] });
      assert.ok(["end_turn", "model_context_window_exceeded"].includes(m.stop_reason), m.stop_reason);
    });

    test("auth: x-api-key (the SDK's), Authorization: Bearer; errors in Anthropic's shape", async () => {
      const bearer = anthropic(srv, { apiKey: null, authToken: KEY });
      const m = await bearer.messages.create({ model: "m", max_tokens: 2, messages: [{ role: "user", content: "Hi" }] });
      assert.equal(m.type, "message");
      await assert.rejects(anthropic(srv, { apiKey: "wrong" }).messages.create({ model: "m", max_tokens: 2, messages: [{ role: "user", content: "Hi" }] }),
        (e) => e instanceof Anthropic.AuthenticationError && e.status === 401 && e.error?.error?.type === "authentication_error");
      const user = [{ role: "user", content: "Hi" }];
      const h = { "x-api-key": KEY };
      let r = await raw(srv, "POST", "/v1/messages", { model: "m", max_tokens: 2, messages: user }, { key: null });
      assertAnthropicError(r, 401, "authentication_error");
      r = await raw(srv, "POST", "/v1/messages", { model: "m", messages: user }, { key: null, headers: h });
      assertAnthropicError(r, 400, "invalid_request_error");
      assert.match(r.json.error.message, /max_tokens/);
      const bad = [
        [{ model: "m", max_tokens: 2, messages: user, frobnicate: 1 }, /frobnicate/],
        [{ model: "m", max_tokens: 2, messages: user, temperature: 1.5 }, /temperature/],
        [{ model: "m", max_tokens: 2, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] }, /"image"/],
        [{ model: "m", max_tokens: 2, messages: user, thinking: { type: "enabled", budget_tokens: 1024 } }, /thinking/],
        [{ model: "m", max_tokens: 2, messages: user, tools: [{ type: "web_search_20250305", name: "web_search" }] }, /custom/],
        [{ model: "m", max_tokens: 2, messages: user, stop_sequences: ["a", "b", "c", "d", "e"] }, /stop_sequences/],
        [{ model: "m", max_tokens: 2, messages: [] }, /messages/],
        ["{not json", /JSON/],
      ];
      for (const [body, says] of bad) {
        r = await raw(srv, "POST", "/v1/messages", body, { key: null, headers: h });
        assertAnthropicError(r, 400, "invalid_request_error");
        assert.match(r.json.error.message, says);
      }
      await assert.rejects(client.messages.create({ model: "m", max_tokens: 2, messages: user, top_k: -1 }),
        (e) => e instanceof Anthropic.BadRequestError && e.status === 400 && e.error?.type === "error");
      r = await raw(srv, "POST", "/v1/messages/count_tokens", { model: "m", messages: user, max_tokens: 3 }, { key: null, headers: h });
      assertAnthropicError(r, 400, "invalid_request_error");
      r = await raw(srv, "GET", "/v1/messages", undefined, { key: null, headers: h });
      assertAnthropicError(r, 405, "invalid_request_error");
    });
  });
}

// ---- tools: a tiny random model with Mistral's v3 tokenizer -----------------
const TOOLS = [
  {
    name: "get_weather", description: "The weather in a city",
    input_schema: {
      type: "object",
      properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"], additionalProperties: false,
    },
  },
  {
    name: "add",
    input_schema: {
      type: "object",
      properties: { a: { type: "integer", minimum: 0, maximum: 100 }, b: { type: "integer", minimum: 0, maximum: 100 } },
      required: ["a", "b"], additionalProperties: false,
    },
  },
];

function checkInput(name, input) {
  assert.equal(typeof input, "object");
  if (name === "get_weather") {
    assert.equal(typeof input.city, "string");
    assert.ok([...input.city].length <= 10, input.city); // code points, as JSON Schema counts (not UTF-16 units)
    assert.ok(["c", "f"].includes(input.unit));
    assert.deepEqual(Object.keys(input).sort(), ["city", "unit"]);
  } else {
    assert.equal(name, "add");
    assert.ok(Number.isInteger(input.a) && input.a >= 0 && input.a <= 100);
    assert.ok(Number.isInteger(input.b) && input.b >= 0 && input.b <= 100);
  }
}

describe("anthropic /v1/messages: tools (tiny, random weights, Mistral v3 tokenizer)", { skip: SKIP_TOOLS, timeout: 180_000 }, () => {
  let srv, client, oa;
  const messages = [{ role: "user", content: "What is the weather in Paris?" }];
  before(async () => {
    const tiny = tinyV3();
    srv = await startServer(tiny.model, tiny.args, { apiKey: KEY });
    client = anthropic(srv);
    oa = new OpenAI({ baseURL: srv.url, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
  });
  after(async () => { if (srv) await srv.stop(); });

  test("tool_choice any / tool: a valid call (stop_reason tool_use), streaming and not", async () => {
    for (const [choice, names] of [[{ type: "any" }, ["get_weather", "add"]], [{ type: "tool", name: "add" }, ["add"]]]) {
      const body = { model: "m", max_tokens: 300, temperature: 1, messages, tools: TOOLS, tool_choice: { ...choice, disable_parallel_tool_use: true } };
      const m = await client.messages.create(body);
      assert.equal(m.stop_reason, "tool_use");
      const uses = m.content.filter((b) => b.type === "tool_use");
      assert.equal(uses.length, 1);
      assert.ok(names.includes(uses[0].name), uses[0].name);
      assert.match(uses[0].id, /^[A-Za-z0-9]{9}$/);
      checkInput(uses[0].name, uses[0].input);
      // streamed: content_block_start tool_use (input {}), input_json_delta, stop
      const stream = client.messages.stream(body);
      const events = [];
      for await (const e of stream) events.push(structuredClone(e)); // the SDK fills message_start's message in as it goes
      const start = events.find((e) => e.type === "content_block_start" && e.content_block.type === "tool_use");
      assert.ok(start, JSON.stringify(events.map((e) => e.type)));
      assert.deepEqual(start.content_block.input, {});
      const json = events.filter((e) => e.type === "content_block_delta" && e.index === start.index)
        .map((e) => { assert.equal(e.delta.type, "input_json_delta"); return e.delta.partial_json; }).join("");
      checkInput(start.content_block.name, JSON.parse(json));
      assert.ok(events.some((e) => e.type === "content_block_stop" && e.index === start.index));
      assert.equal(events.at(-2).delta.stop_reason, "tool_use");
      const final = await stream.finalMessage();
      assert.deepEqual(final.content.find((b) => b.type === "tool_use").input, JSON.parse(json));
    }
  });

  test("tool_use and tool_result sent back: the prompt and greedy reply of the equivalent OpenAI messages", async () => {
    const call = { id: "abcDEF123", name: "get_weather", input: { city: "Paris", unit: "c" } };
    const conv = [
      ...messages,
      { role: "assistant", content: [{ type: "tool_use", ...call }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "sunny, 21 degrees" }, { type: "text", text: "Thanks!" }] },
    ];
    const chat = [
      ...messages,
      { role: "assistant", content: null, tool_calls: [{ id: call.id, type: "function", function: { name: call.name, arguments: JSON.stringify(call.input) } }] },
      { role: "tool", tool_call_id: call.id, content: "sunny, 21 degrees" },
      { role: "user", content: "Thanks!" },
    ];
    const oaTools = TOOLS.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.input_schema } }));
    const m = await client.messages.create({ model: "m", max_tokens: 16, temperature: 0, messages: conv, tools: TOOLS, tool_choice: { type: "none" } });
    const o = await oa.chat.completions.create({ model: "m", max_tokens: 16, temperature: 0, messages: chat, tools: oaTools, tool_choice: "none" });
    assert.equal(m.usage.input_tokens, o.usage.prompt_tokens);
    assert.equal(m.content.map((b) => b.text).join(""), o.choices[0].message.content);
    const c = await client.messages.countTokens({ model: "m", messages: conv, tools: TOOLS });
    assert.equal(c.input_tokens, o.usage.prompt_tokens);
  });
});

// OpenAI's Responses API on `mistral serve` (/v1/responses) through the
// official `openai` client's `responses.create` (and raw fetch where the
// bytes matter). Run from the repository root:
//   node --test tests/serve/responses_test.mjs
// Env: as serve_test.mjs; MISTRAL_SHARED (default ../shared) holds Mistral's
// v3 tokenizer for the tool suite (skipped without it).
//
// Expected outputs come from the CLI (greedy reply of the equivalent chat
// messages) or from /v1/chat/completions on the same server (tool calls and
// results sent back as items must give the chat request's prompt).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { STORIES, skipReason, skipToolsReason, tinyV3, cliChat, startServer, raw } from "./lib.mjs";

const SKIP = skipReason();
const SKIP_TOOLS = skipToolsReason();
const KEY = "test-key-" + Math.random().toString(36).slice(2);
const N = 24;

function client(server) {
  return new OpenAI({ baseURL: server.url, apiKey: KEY, maxRetries: 0, timeout: 60_000 });
}

// Collects a stream's events (copies), checks sequence numbers; returns them.
async function drain(stream) {
  const events = [];
  for await (const e of stream) events.push(structuredClone(e));
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `${e.type}: sequence_number`));
  return events;
}

function assertResponse(r, { status, inputTokens }) {
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, "response");
  assert.equal(typeof r.created_at, "number");
  assert.equal(r.status, status);
  assert.equal(r.error, null);
  assert.deepEqual(r.incomplete_details, status === "incomplete" ? { reason: "max_output_tokens" } : null);
  assert.equal(r.usage.input_tokens, inputTokens);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.equal(typeof r.usage.input_tokens_details.cached_tokens, "number");
  assert.equal(r.usage.output_tokens_details.reasoning_tokens, 0);
}

describe("openai responses: stories260K", { skip: SKIP ?? false, timeout: 180_000 }, () => {
  let srv, oa;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", "1024", "--parallel", "4"], { apiKey: KEY });
    oa = client(srv);
  });
  after(async () => { if (srv) await srv.stop(); });

  test("responses.create: greedy text is the CLI's (a string, items, instructions)", async () => {
    const cases = [
      { req: { input: "Tell me a story about a cat." }, chat: [{ role: "user", content: "Tell me a story about a cat." }] },
      {
        req: { instructions: "You are a storyteller.", input: [{ role: "user", content: [{ type: "input_text", text: "Once there was a big tree." }] }] },
        chat: [{ role: "system", content: "You are a storyteller." }, { role: "user", content: "Once there was a big tree." }],
      },
      {
        req: {
          input: [
            { type: "message", role: "developer", content: "You are a storyteller." },
            { role: "user", content: "Hi!" },
            { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hello. What story do you want?", annotations: [] }] },
            { role: "user", content: "One about a red ball." },
          ],
        },
        chat: [{ role: "system", content: "You are a storyteller." }, { role: "user", content: "Hi!" },
          { role: "assistant", content: "Hello. What story do you want?" }, { role: "user", content: "One about a red ball." }],
      },
    ];
    for (const c of cases) {
      const want = cliChat(STORIES, c.chat, N);
      const r = await oa.responses.create({ model: "m", max_output_tokens: N, temperature: 0, ...c.req });
      assertResponse(r, { status: r.usage.output_tokens === N ? "incomplete" : "completed", inputTokens: want.promptIds.length });
      assert.equal(r.output.length, 1);
      const item = r.output[0];
      assert.equal(item.type, "message");
      assert.equal(item.role, "assistant");
      assert.match(item.id, /^msg_/);
      assert.equal(item.content[0].type, "output_text");
      assert.deepEqual(item.content[0].annotations, []);
      assert.equal(r.output_text, want.text);
      assert.equal(r.instructions, c.req.instructions ?? null);
      assert.equal(r.max_output_tokens, N);
      assert.equal(r.temperature, 0);
      assert.equal(r.store, true);
    }
  });

  test("stream: the response.* events, field by field, and the same text", async () => {
    const input = "Once there was a big tree.";
    const want = cliChat(STORIES, [{ role: "user", content: input }], N);
    const events = await drain(await oa.responses.create({ model: "m", input, max_output_tokens: N, temperature: 0, stream: true }));
    const types = events.map((e) => e.type);
    const deltas = types.filter((t) => t === "response.output_text.delta").length;
    assert.ok(deltas >= 1);
    const last = want.promptIds && events.at(-1).response.status === "incomplete" ? "response.incomplete" : "response.completed";
    assert.deepEqual(types, ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
      ...Array(deltas).fill("response.output_text.delta"), "response.output_text.done", "response.content_part.done",
      "response.output_item.done", last]);
    const [created, progress, added, partAdded] = events;
    for (const e of [created, progress]) {
      assert.equal(e.response.status, "in_progress");
      assert.deepEqual(e.response.output, []);
      assert.equal(e.response.id, events.at(-1).response.id);
    }
    assert.equal(added.output_index, 0);
    assert.deepEqual({ ...added.item, id: undefined }, { id: undefined, type: "message", status: "in_progress", role: "assistant", content: [] });
    const itemId = added.item.id;
    assert.deepEqual(partAdded, { type: "response.content_part.added", sequence_number: 3, item_id: itemId, output_index: 0, content_index: 0,
      part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    let text = "";
    for (const e of events.filter((x) => x.type === "response.output_text.delta")) {
      assert.equal(e.item_id, itemId);
      assert.equal(e.output_index, 0);
      assert.equal(e.content_index, 0);
      text += e.delta;
    }
    assert.equal(text, want.text);
    const done = events.find((e) => e.type === "response.output_text.done");
    assert.equal(done.text, want.text);
    assert.equal(events.find((e) => e.type === "response.content_part.done").part.text, want.text);
    const itemDone = events.find((e) => e.type === "response.output_item.done");
    assert.equal(itemDone.item.status, "completed");
    assert.equal(itemDone.item.content[0].text, want.text);
    const final = events.at(-1).response;
    assertResponse(final, { status: final.usage.output_tokens === N ? "incomplete" : "completed", inputTokens: want.promptIds.length });
    assert.equal(final.output[0].content[0].text, want.text);
    // the wire: every "event:" names its data's type
    const r = await raw(srv, "POST", "/v1/responses", { input, max_output_tokens: 3, stream: true });
    assert.match(r.headers.get("content-type"), /^text\/event-stream/);
    for (const block of r.text.split("\n\n").filter((b) => b.trim())) {
      const [ev, data] = block.split("\n");
      assert.equal(ev.slice(7), JSON.parse(data.slice(6)).type);
    }
  });

  test("previous_response_id continues a stored conversation; store: false keeps nothing", async () => {
    const r1 = await oa.responses.create({ model: "m", input: "Hi!", instructions: "You are a storyteller.", max_output_tokens: 8, temperature: 0 });
    const r2 = await oa.responses.create({ model: "m", previous_response_id: r1.id, input: "One about a red ball.", max_output_tokens: N, temperature: 0 });
    // instructions are not carried over (OpenAI's rule)
    const want = cliChat(STORIES, [{ role: "user", content: "Hi!" }, { role: "assistant", content: r1.output_text },
      { role: "user", content: "One about a red ball." }], N);
    assert.equal(r2.output_text, want.text);
    assert.equal(r2.previous_response_id, r1.id);
    assert.equal(r2.usage.input_tokens, want.promptIds.length);
    const r3 = await oa.responses.create({ model: "m", input: "Hi!", max_output_tokens: 2, store: false });
    assert.equal(r3.store, false);
    await assert.rejects(oa.responses.create({ model: "m", previous_response_id: r3.id, input: "x", max_output_tokens: 2 }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.param === "previous_response_id");
  });

  test("errors: OpenAI's shape, naming the field or item type", async () => {
    const bad = [
      [{ input: [{ type: "reasoning", summary: [] }] }, "input", /"reasoning"/],
      [{ input: [{ type: "item_reference", id: "x" }] }, "input", /"item_reference"/],
      [{ input: "x", tools: [{ type: "web_search" }] }, "tools", /"web_search"/],
      [{ input: "x", frobnicate: 1 }, "frobnicate", /frobnicate/],
      [{ input: "x", max_output_tokens: 100000 }, "max_output_tokens", /context/],
      [{ input: "x", reasoning: { effort: "low" } }, "reasoning", /reasoning/],
      [{ input: "x", temperature: 3 }, "temperature", /temperature/],
      [{ input: 5 }, "input", /input/],
    ];
    for (const [body, param, says] of bad) {
      const r = await raw(srv, "POST", "/v1/responses", { model: "m", ...body });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.type, "invalid_request_error");
      assert.equal(r.json.error.param, param, r.text);
      assert.match(r.json.error.message, says);
    }
    await assert.rejects(oa.responses.create({ model: "m", input: [{ type: "reasoning", summary: [] }] }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /reasoning/.test(e.message));
    const r = await raw(srv, "POST", "/v1/responses", { input: "x" }, { key: "wrong" });
    assert.equal(r.status, 401);
    assert.equal(r.json.error.type, "authentication_error");
  });
});

// ---- tools: a tiny random model with Mistral's v3 tokenizer -----------------
const TOOLS = [
  {
    type: "function", name: "get_weather", description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"], additionalProperties: false,
    },
  },
  {
    type: "function", name: "add", strict: true,
    parameters: {
      type: "object",
      properties: { a: { type: "integer", minimum: 0, maximum: 100 }, b: { type: "integer", minimum: 0, maximum: 100 } },
      required: ["a", "b"], additionalProperties: false,
    },
  },
];

function checkArgs(name, args) {
  const v = JSON.parse(args);
  if (name === "get_weather") {
    assert.ok(typeof v.city === "string" && [...v.city].length <= 10 && /* code points */ ["c", "f"].includes(v.unit), args);
  } else {
    assert.equal(name, "add");
    assert.ok(Number.isInteger(v.a) && v.a >= 0 && v.a <= 100 && Number.isInteger(v.b) && v.b >= 0 && v.b <= 100, args);
  }
}

describe("openai responses: tools (tiny, random weights, Mistral v3 tokenizer)", { skip: SKIP_TOOLS, timeout: 180_000 }, () => {
  let srv, oa;
  const input = "What is the weather in Paris?";
  before(async () => {
    const tiny = tinyV3();
    srv = await startServer(tiny.model, tiny.args, { apiKey: KEY });
    oa = client(srv);
  });
  after(async () => { if (srv) await srv.stop(); });

  test("tool_choice required / named: a valid function_call, streaming and not", async () => {
    for (const [choice, names] of [["required", ["get_weather", "add"]], [{ type: "function", name: "add" }, ["add"]]]) {
      const body = { model: "m", input, tools: TOOLS, tool_choice: choice, parallel_tool_calls: false, max_output_tokens: 300, temperature: 1 };
      const r = await oa.responses.create(body);
      assert.equal(r.status, "completed");
      const calls = r.output.filter((o) => o.type === "function_call");
      assert.equal(calls.length, 1);
      assert.ok(names.includes(calls[0].name), calls[0].name);
      assert.match(calls[0].call_id, /^[A-Za-z0-9]{9}$/);
      assert.equal(calls[0].status, "completed");
      checkArgs(calls[0].name, calls[0].arguments);
      const events = await drain(await oa.responses.create({ ...body, stream: true }));
      const added = events.find((e) => e.type === "response.output_item.added" && e.item.type === "function_call");
      assert.ok(added, events.map((e) => e.type).join(" "));
      assert.equal(added.item.arguments, "");
      const args = events.filter((e) => e.type === "response.function_call_arguments.delta").map((e) => e.delta).join("");
      const done = events.find((e) => e.type === "response.function_call_arguments.done");
      assert.equal(done.arguments, args);
      assert.equal(done.item_id, added.item.id);
      checkArgs(added.item.name, args);
      const itemDone = events.find((e) => e.type === "response.output_item.done" && e.item.type === "function_call");
      assert.equal(itemDone.item.arguments, args);
      assert.equal(events.at(-1).type, "response.completed");
    }
  });

  test("function_call and function_call_output sent back: the prompt and greedy reply of the equivalent chat messages", async () => {
    const call = { call_id: "abcDEF123", name: "get_weather", arguments: JSON.stringify({ city: "Paris", unit: "c" }) };
    const items = [
      { role: "user", content: input },
      { type: "function_call", ...call },
      { type: "function_call_output", call_id: call.call_id, output: "sunny, 21 degrees" },
      { role: "user", content: "Thanks!" },
    ];
    const chat = [
      { role: "user", content: input },
      { role: "assistant", content: null, tool_calls: [{ id: call.call_id, type: "function", function: { name: call.name, arguments: call.arguments } }] },
      { role: "tool", tool_call_id: call.call_id, content: "sunny, 21 degrees" },
      { role: "user", content: "Thanks!" },
    ];
    const chatTools = TOOLS.map(({ type, ...f }) => ({ type, function: f }));
    const r = await oa.responses.create({ model: "m", input: items, tools: TOOLS, tool_choice: "none", max_output_tokens: 16, temperature: 0 });
    const o = await oa.chat.completions.create({ model: "m", messages: chat, tools: chatTools, tool_choice: "none", max_tokens: 16, temperature: 0 });
    assert.equal(r.usage.input_tokens, o.usage.prompt_tokens);
    assert.equal(r.output_text, o.choices[0].message.content);
    // a stored response that called a tool continues with its output
    const r1 = await oa.responses.create({ model: "m", input, tools: TOOLS, tool_choice: { type: "function", name: "add" }, parallel_tool_calls: false, max_output_tokens: 300, temperature: 1 });
    const fc = r1.output.find((x) => x.type === "function_call");
    const r2 = await oa.responses.create({ model: "m", previous_response_id: r1.id, tools: TOOLS, tool_choice: "none", max_output_tokens: 16, temperature: 0,
      input: [{ type: "function_call_output", call_id: fc.call_id, output: "42" }] });
    const o2 = await oa.chat.completions.create({ model: "m", tools: chatTools, tool_choice: "none", max_tokens: 16, temperature: 0, messages: [
      { role: "user", content: input },
      { role: "assistant", content: null, tool_calls: [{ id: fc.call_id, type: "function", function: { name: fc.name, arguments: fc.arguments } }] },
      { role: "tool", tool_call_id: fc.call_id, content: "42" }] });
    assert.equal(r2.usage.input_tokens, o2.usage.prompt_tokens);
    assert.equal(r2.output_text, o2.choices[0].message.content);
  });
});

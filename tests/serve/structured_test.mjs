// Structured outputs of `mistral serve` through the official clients:
// response_format (json_object, json_schema) and tool_choice, with the
// `openai` and `@mistralai/mistralai` npm clients. Neither test model writes
// JSON or calls tools by itself (stories260K tells stories, the tiny one has
// random weights), so every valid output shows the constraint at work; each
// is validated with ajv (+ ajv-formats). Run from the repository root:
//   node --test tests/serve/structured_test.mjs
// Env: as serve_test.mjs; MISTRAL_SHARED (default ../shared) holds Mistral's
// v3 tokenizer for the tool-call suite (skipped without it).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { Mistral } from "@mistralai/mistralai";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { REPO, STORIES, skipReason, tmpDir, cli, startServer, raw } from "./lib.mjs";

const SKIP = skipReason();
const SHARED = path.resolve(REPO, process.env.MISTRAL_SHARED || "../shared");
const V3 = path.join(SHARED, "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3");
const SKIP_TOOLS = SKIP ?? (fs.existsSync(V3) ? false : `${V3} is absent`);

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

function client(server) {
  return new OpenAI({ baseURL: server.url, apiKey: "none", maxRetries: 0, timeout: 60_000 });
}

function assertValid(schema, text, what) {
  let v;
  try { v = JSON.parse(text); } catch (e) { assert.fail(`${what}: not JSON (${e.message}): ${JSON.stringify(text)}`); }
  const ok = ajv.validate(schema, v);
  assert.ok(ok, `${what}: ${JSON.stringify(text)} is not valid: ${ajv.errorsText(ajv.errors)}`);
  return v;
}

// The text of a JSON object cut anywhere (max_tokens): starts with '{', never
// closes more than it opened, no raw control character inside a string.
function assertObjectPrefix(text, what) {
  assert.ok(text.startsWith("{"), `${what}: ${JSON.stringify(text.slice(0, 80))} does not start an object`);
  let depth = 0, inStr = false, esc = false;
  for (const ch of text) {
    if (inStr) {
      if (esc) esc = false;
      else if (ch === "\\") esc = true;
      else if (ch === '"') inStr = false;
      else assert.ok(ch >= " ", `${what}: a raw control character in a string`);
    } else if (ch === '"') inStr = true;
    else if (ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") { depth--; assert.ok(depth >= 0, `${what}: closes more than it opened`); }
  }
}

async function drainChat(stream) {
  let text = "", finish = null;
  const calls = [];
  for await (const c of stream) {
    for (const ch of c.choices ?? []) {
      text += ch.delta?.content ?? "";
      for (const tc of ch.delta?.tool_calls ?? []) calls[tc.index] = tc;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, finish, calls };
}

// Schemas whose every value is short (bounded strings and arrays), so a
// reply ends within max_tokens.
const SCHEMAS = {
  enums: {
    type: "object",
    properties: { mood: { enum: ["happy", "sad", "angry"] }, ok: { type: "boolean" }, n: { const: 7 } },
    required: ["mood", "ok", "n"],
  },
  integer_bounds: {
    type: "object",
    properties: { age: { type: "integer", minimum: 3, maximum: 12 }, score: { type: "integer", exclusiveMinimum: -5, exclusiveMaximum: 5 } },
    required: ["age", "score"],
  },
  nested: {
    type: "object",
    properties: {
      pet: {
        type: "object",
        properties: { name: { type: "string", maxLength: 8 }, legs: { type: "integer", minimum: 0, maximum: 4 } },
        required: ["name", "legs"],
      },
    },
    required: ["pet"],
  },
  arrays: {
    type: "object",
    properties: { tags: { type: "array", items: { enum: ["a", "b", "c"] }, minItems: 1, maxItems: 3 } },
    required: ["tags"],
  },
  ref: {
    $defs: { color: { enum: ["red", "green"] }, point: { type: "object", properties: { x: { type: "integer", minimum: 0, maximum: 9 }, c: { $ref: "#/$defs/color" } }, required: ["x", "c"] } },
    type: "object",
    properties: { a: { $ref: "#/$defs/point" }, b: { $ref: "#/$defs/color" } },
    required: ["a", "b"],
  },
  pattern: {
    type: "object",
    properties: { code: { type: "string", pattern: "^[A-Z]{2}-[0-9]{3}$" } },
    required: ["code"],
  },
  formats: {
    type: "object",
    properties: { day: { type: "string", format: "date" }, id: { type: "string", format: "uuid" }, ip: { type: "string", format: "ipv4" } },
    required: ["day", "id", "ip"],
  },
};

describe("structured outputs: stories260K (openai and @mistralai/mistralai clients)", { skip: SKIP ?? false, timeout: 120_000 }, () => {
  let srv, oa;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", "1024", "--parallel", "16", "--queue", "64"]);
    oa = client(srv);
  });
  after(async () => { if (srv) await srv.stop(); });

  const messages = [{ role: "user", content: "Tell me a story about a cat." }];

  for (const [name, schema] of Object.entries(SCHEMAS)) {
    test(`json_schema "${name}": chat and completions, streaming and not`, async () => {
      const rf = { type: "json_schema", json_schema: { name, schema, strict: true } };
      const c = await oa.chat.completions.create({ model: "m", messages, response_format: rf, max_tokens: 300, temperature: 1, seed: 11 });
      assert.equal(c.choices[0].finish_reason, "stop", JSON.stringify(c.choices[0]));
      assertValid(schema, c.choices[0].message.content, `chat ${name}`);
      const s = await drainChat(await oa.chat.completions.create({ model: "m", messages, response_format: rf, max_tokens: 300, temperature: 1, seed: 11, stream: true }));
      assert.equal(s.text, c.choices[0].message.content, "streamed == not streamed");
      assert.equal(s.finish, "stop");
      const t = await oa.completions.create({ model: "m", prompt: "Once upon a time", response_format: rf, max_tokens: 300, temperature: 0 });
      assert.equal(t.choices[0].finish_reason, "stop");
      assertValid(schema, t.choices[0].text, `completion ${name}`);
    });
  }

  test("json_object: an object (cut by max_tokens: a prefix of one), streaming and not", async () => {
    const rf = { type: "json_object" };
    const c = await oa.chat.completions.create({ model: "m", messages, response_format: rf, max_tokens: 60, seed: 5 });
    const text = c.choices[0].message.content;
    if (c.choices[0].finish_reason === "stop") assertValid({ type: "object" }, text, "json_object");
    else assertObjectPrefix(text, "json_object");
    const s = await drainChat(await oa.chat.completions.create({ model: "m", messages, response_format: rf, max_tokens: 60, seed: 5, stream: true }));
    assert.equal(s.text, text, "streamed == not streamed");
    const t = await oa.completions.create({ model: "m", prompt: "The", response_format: rf, max_tokens: 60, temperature: 0 });
    if (t.choices[0].finish_reason === "stop") assertValid({ type: "object" }, t.choices[0].text, "json_object completion");
    else assertObjectPrefix(t.choices[0].text, "json_object completion");
  });

  test("the same constrained request alone and among 15 others: the same text (seeded)", { timeout: 60_000 }, async () => {
    const schema = SCHEMAS.nested;
    const body = (seed) => ({ model: "m", messages, max_tokens: 200, temperature: 1, seed,
      response_format: { type: "json_schema", json_schema: { name: "n", schema, strict: true } } });
    const alone = await oa.chat.completions.create(body(42));
    const others = [];
    for (let i = 0; i < 15; i++) {
      others.push(i % 2
        ? oa.chat.completions.create(body(100 + i))
        : oa.completions.create({ model: "m", prompt: "The little dog", max_tokens: 120, temperature: 1, seed: i }));
    }
    const [busy] = await Promise.all([oa.chat.completions.create(body(42)), ...others]);
    assert.equal(busy.choices[0].message.content, alone.choices[0].message.content);
    assertValid(schema, alone.choices[0].message.content, "alone");
  });

  test("@mistralai/mistralai: chat.complete with responseFormat json_schema", async () => {
    const mc = new Mistral({ serverURL: srv.base, apiKey: "none" });
    const schema = SCHEMAS.enums;
    const r = await mc.chat.complete({
      model: "m", messages, maxTokens: 200, temperature: 1, randomSeed: 3,
      responseFormat: { type: "json_schema", jsonSchema: { name: "mood", schemaDefinition: schema, strict: true } },
    });
    assert.equal(r.choices[0].finishReason, "stop");
    assertValid(schema, r.choices[0].message.content, "mistral client");
    const o = await mc.chat.complete({ model: "m", messages, maxTokens: 40, responseFormat: { type: "json_object" } });
    assertObjectPrefix(o.choices[0].message.content, "mistral client json_object");
  });

  test("400s before any token: a bad schema names the JSON pointer; unknown type; no schema", async () => {
    const post = (extra) => raw(srv, "POST", "/v1/chat/completions", { messages, max_tokens: 5, ...extra });
    let r = await post({ response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object", properties: { a: { type: "string", multipleOf: 3 } } } } } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, "response_format");
    assert.match(r.json.error.message, /json schema: \/properties\/a: multipleOf/);
    for (const k of ["message", "type", "param", "code"]) assert.ok(k in r.json.error);
    r = await post({ response_format: { type: "yaml" } });
    assert.equal(r.status, 400, r.text);
    r = await post({ response_format: { type: "json_schema", json_schema: { name: "x" } } });
    assert.equal(r.status, 400, r.text);
    r = await raw(srv, "POST", "/v1/completions", { prompt: "x", response_format: { type: "json_schema", json_schema: { schema: { $ref: "#/$defs/none" } } } });
    assert.equal(r.status, 400, r.text);
    // a v1 model (no [TOOL_CALLS]): a required call cannot be made
    r = await post({ tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }], tool_choice: "required" });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, "tool_choice");
  });
});

// ---- tool calls: a tiny random model with Mistral's v3 tokenizer ([TOOL_CALLS] is a control token)
const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather", description: "The weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } },
        required: ["city", "unit"], additionalProperties: false,
      },
    },
  },
  {
    type: "function",
    function: {
      name: "add", strict: true,
      parameters: {
        type: "object",
        properties: { a: { type: "integer", minimum: 0, maximum: 100 }, b: { type: "integer", minimum: 0, maximum: 100 } },
        required: ["a", "b"],
      },
    },
  },
];
const PARAMS = Object.fromEntries(TOOLS.map((t) => [t.function.name, t.function.parameters]));

function assertCalls(calls, what, { names = Object.keys(PARAMS), count = null } = {}) {
  assert.ok(calls && calls.length >= 1, `${what}: no tool calls`);
  if (count !== null) assert.equal(calls.length, count, `${what}: ${calls.length} calls`);
  for (const c of calls) {
    assert.equal(c.type ?? "function", "function");
    assert.match(c.id, /^[A-Za-z0-9]{9}$/);
    assert.ok(names.includes(c.function.name), `${what}: calls ${c.function.name}`);
    assertValid(PARAMS[c.function.name], c.function.arguments, `${what}: ${c.function.name} arguments`);
  }
}

describe("structured outputs: tool calls (tiny, random weights, Mistral v3 tokenizer)", { skip: SKIP_TOOLS, timeout: 120_000 }, () => {
  let srv, oa;
  const messages = [{ role: "user", content: "What is the weather in Paris?" }];
  before(async () => {
    const f = path.join(tmpDir(), "tiny-v3.gguf");
    cli(["synth", f, "--shape", "tiny", "--type", "f32", "--tokenizer", V3]);
    srv = await startServer(f, ["--tokenizer", V3, "--ctx", "1024", "--parallel", "4"]);
    oa = client(srv);
  });
  after(async () => { if (srv) await srv.stop(); });

  const forms = [
    { name: "required", choice: "required" },
    { name: "any (Mistral's)", choice: "any" },
    { name: "named add", choice: { type: "function", function: { name: "add" } }, names: ["add"] },
    { name: "required, parallel_tool_calls false", choice: "required", parallel: false, count: 1 },
  ];
  for (const f of forms) {
    test(`tool_choice ${f.name}: calls with valid arguments, streaming and not`, async () => {
      const body = { model: "m", messages, tools: TOOLS, tool_choice: f.choice, max_tokens: 600, temperature: 1, seed: 2,
        ...(f.parallel === false ? { parallel_tool_calls: false } : {}) };
      const c = await oa.chat.completions.create(body);
      assert.equal(c.choices[0].finish_reason, "tool_calls", JSON.stringify(c.choices[0]));
      assert.equal(c.choices[0].message.content, null);
      assertCalls(c.choices[0].message.tool_calls, f.name, f);
      const s = await drainChat(await oa.chat.completions.create({ ...body, stream: true }));
      assert.equal(s.finish, "tool_calls");
      assertCalls(s.calls, `${f.name} (stream)`, f);
      assert.deepEqual(s.calls.map((x) => x.function), c.choices[0].message.tool_calls.map((x) => x.function));
    });
  }

  test("tool_choice none: the tools are shown, no call is made; auto: text or valid calls", async () => {
    for (const seed of [1, 2]) {
      const n = await oa.chat.completions.create({ model: "m", messages, tools: TOOLS, tool_choice: "none", max_tokens: 40, seed });
      assert.ok(!n.choices[0].message.tool_calls, "none: no tool_calls");
      assert.notEqual(n.choices[0].finish_reason, "tool_calls");
      const a = await oa.chat.completions.create({ model: "m", messages, tools: TOOLS, tool_choice: "auto", max_tokens: 300, seed });
      if (a.choices[0].message.tool_calls) assertCalls(a.choices[0].message.tool_calls, "auto");
    }
  });

  test("tools with response_format: auto's content follows the format", async () => {
    const schema = SCHEMAS.enums;
    const r = await oa.chat.completions.create({
      model: "m", messages, tools: TOOLS, tool_choice: "auto", max_tokens: 300, temperature: 1, seed: 4,
      response_format: { type: "json_schema", json_schema: { name: "e", schema, strict: true } },
    });
    const m = r.choices[0].message;
    if (m.tool_calls) assertCalls(m.tool_calls, "auto with a format");
    else assertValid(schema, m.content, "auto with a format: content");
  });

  test("@mistralai/mistralai: toolChoice any", async () => {
    const mc = new Mistral({ serverURL: srv.base, apiKey: "none" });
    const r = await mc.chat.complete({ model: "m", messages, tools: TOOLS, toolChoice: "any", maxTokens: 600, randomSeed: 2, temperature: 1 });
    assert.equal(r.choices[0].finishReason, "tool_calls");
    const calls = r.choices[0].message.toolCalls.map((c) => ({
      id: c.id, type: "function",
      function: { name: c.function.name, arguments: typeof c.function.arguments === "string" ? c.function.arguments : JSON.stringify(c.function.arguments) },
    }));
    assertCalls(calls, "mistral client");
  });

  test("400s: a function that is not in tools; a bad parameters schema names tool and pointer", async () => {
    let r = await raw(srv, "POST", "/v1/chat/completions", { messages, tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.param, "tool_choice");
    r = await raw(srv, "POST", "/v1/chat/completions", {
      messages, tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { x: { type: "string", format: "color" } } } } }],
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.json.error.message, /tools\[0\]\.function\.parameters: json schema: \/properties\/x/);
  });
});

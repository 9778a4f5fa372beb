// End-to-end tests of `mistral serve` through the official `openai` npm client
// (and raw fetch where the bytes matter). Run from the repository root:
//   node --test tests/serve/serve_test.mjs
// Env: MISTRAL_BIN (default build/mistral), MISTRAL_STORIES (default
// ../shared/models/stories260K), SERVE_LOG=1 copies the servers' stderr here.
//
// The expected outputs come from the CLI (the same binary): greedy
// /v1/completions text == `mistral generate -m M -p P -n N`; a chat reply ==
// `mistral generate -m M --tokens $(mistral tokenize -m M --chat F) -n N`.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import OpenAI from "openai";
import {
  STORIES, skipReason, tmpDir, cli, cliGenerate, cliPromptIds, cliTokenize, cliChat,
  startServer, raw, metrics, sleep,
} from "./lib.mjs";

const SKIP = skipReason();
if (SKIP) console.log(`# serve_test: skipped: ${SKIP}`);

const CTX = 2048;          // --ctx of the servers
const PARALLEL = 8;        // --parallel of the main servers
const KEY = "test-key-" + Math.random().toString(36).slice(2);
const METRIC_NAMES = [
  "mistral_requests_total", "mistral_prompt_tokens_total", "mistral_generated_tokens_total",
  "mistral_cached_prompt_tokens_total", "mistral_queue_depth", "mistral_busy_slots",
  "mistral_decode_tokens_per_second",
];

const PROMPTS = ["Once upon a time", "Lily wanted to", "The little dog", "One day, a boy named Tom"];
const CHATS = [
  [{ role: "user", content: "Tell me a story about a cat." }],
  [{ role: "system", content: "You are a storyteller." }, { role: "user", content: "Once there was a big tree." }],
  [{ role: "user", content: "Hi!" }, { role: "assistant", content: "Hello. What story do you want?" },
    { role: "user", content: "One about a red ball." }],
];
const LONG_TEXT = "Once upon a time there was a little girl. ".repeat(400); // > CTX tokens

// ---- helpers ------------------------------------------------------------------
function client(server, apiKey = server.apiKey) {
  return new OpenAI({ baseURL: server.url, apiKey: apiKey ?? "none", maxRetries: 0, timeout: 60_000 });
}

// Consumes an OpenAI stream; returns {chunks, text (choice 0), finish (choice 0), usage}.
async function drain(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  let text = "", finish = null, usage = null;
  for (const c of chunks) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices ?? []) {
      if (ch.index !== 0) continue;
      text += ch.delta ? (ch.delta.content ?? "") : (ch.text ?? "");
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { chunks, text, finish, usage };
}

function showDiff(got, want) {
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `first difference at char ${i}:\n  got:  ${JSON.stringify(got.slice(Math.max(0, i - 20), i + 40))}\n  want: ${JSON.stringify(want.slice(Math.max(0, i - 20), i + 40))}`;
}

function assertSameText(got, want, what) {
  if (got !== want) assert.fail(`${what}: the server's text differs from the CLI's (${got.length} vs ${want.length} chars); ${showDiff(got, want)}`);
}

function assertErrorShape(r, status, { type = null, field = null } = {}) {
  assert.equal(r.status, status, `expected HTTP ${status}, got ${r.status}: ${r.text.slice(0, 300)}`);
  assert.ok(r.json && typeof r.json === "object" && r.json.error && typeof r.json.error === "object",
    `expected {"error": {...}}, got ${r.text.slice(0, 300)}`);
  const e = r.json.error;
  for (const k of ["message", "type", "param", "code"]) assert.ok(k in e, `error.${k} missing in ${r.text.slice(0, 300)}`);
  assert.equal(typeof e.message, "string");
  assert.ok(e.message.length > 0, "error.message is empty");
  assert.equal(typeof e.type, "string");
  if (type) assert.equal(e.type, type, `error.type: ${r.text.slice(0, 300)}`);
  if (field) {
    const names = Array.isArray(field) ? field : [field];
    const said = `${e.param ?? ""} ${e.message}`;
    assert.ok(names.some((f) => said.includes(f)), `the error should name ${names.join(" or ")}: ${r.text.slice(0, 300)}`);
  }
}

// A stop string from TEXT: a word of 3+ ASCII letters (with its leading space
// when there is one) whose first occurrence starts at or after char MINPOS.
function pickStop(text, minPos, avoid = []) {
  const re = / ?[A-Za-z]{3,}/g;
  let m;
  while ((m = re.exec(text))) {
    if (m.index >= minPos && text.indexOf(m[0]) === m.index && !avoid.includes(m[0])) return m[0];
  }
  const re2 = /[\x21-\x7e]{2}/g;   // random-weight models: any two printable chars
  while ((m = re2.exec(text))) {
    if (m.index >= minPos && text.indexOf(m[0]) === m.index && !avoid.includes(m[0])) return m[0];
  }
  return null;
}

// POST /v1/chat/completions with a body of BYTES bytes, streamed in 1 MiB
// pieces over a raw socket until the server answers: it may answer (and
// close) at the headers, before the body is sent. {status, text}.
function postHuge(server, bytes) {
  return new Promise((resolve, reject) => {
    const piece = Buffer.alloc(1 << 20, "a");
    const s = net.connect(server.port, "127.0.0.1");
    let data = "", left = bytes, done = false;
    const t = setTimeout(() => finish(new Error("timed out")), 60_000);
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      const m = /^HTTP\/1\.1 (\d{3})[^]*?\r\n\r\n([^]*)$/.exec(data);
      if (!m) return reject(err ?? new Error(`no response to a ${bytes}-byte body: ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status: Number(m[1]), text: m[2] });
    };
    s.on("data", (d) => { data += d.toString("latin1"); });
    s.on("close", () => finish());
    s.on("error", () => { /* EPIPE once the server answered and closed: the reply is in data */ });
    const pump = () => {
      while (left > 0 && !done) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!s.write(n === piece.length ? piece : piece.subarray(0, n))) { s.once("drain", pump); return; }
      }
    };
    s.on("connect", () => {
      s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Connection: close\r\nContent-Length: ${bytes}\r\n` +
        (server.apiKey ? `Authorization: Bearer ${server.apiKey}\r\n` : "") + "\r\n");
      pump();
    });
  });
}

async function waitIdle(server, ms = 10_000) {
  const deadline = Date.now() + ms;
  let m;
  while (Date.now() < deadline) {
    m = (await metrics(server)).values;
    if (m.mistral_busy_slots === 0 && m.mistral_queue_depth === 0) return m;
    await sleep(50);
  }
  assert.fail(`busy slots ${m.mistral_busy_slots}, queue depth ${m.mistral_queue_depth} still not 0 after ${ms} ms`);
}

// ---- the suites, one per model --------------------------------------------------
const MODELS = [
  { name: "stories260K", id: "stories260K", model: () => STORIES },
  {
    name: "tiny-moe (synth, random weights)",
    id: "tiny-moe.gguf",
    model: () => {
      const f = path.join(tmpDir(), "tiny-moe.gguf");
      cli(["synth", f, "--shape", "tiny-moe", "--type", "f32", "--tokenizer", path.join(STORIES, "tokenizer.model")]);
      return f;
    },
  },
  {
    // the same model with its experts streamed from the file through a cache of ~4 of 8 (--mem-limit):
    // every answer must still be the CLI's
    name: "tiny-moe, --mem-limit 900K",
    id: "tiny-moe.gguf",
    args: ["--mem-limit", "900K"],
    model: () => {
      const f = path.join(tmpDir(), "tiny-moe.gguf");
      cli(["synth", f, "--shape", "tiny-moe", "--type", "f32", "--tokenizer", path.join(STORIES, "tokenizer.model")]);
      return f;
    },
  },
];

for (const M of MODELS) {
  describe(`mistral serve: ${M.name}`, { skip: SKIP ?? false, timeout: 120_000 }, () => {
    let srv, oa, model, modelId;

    before(async () => {
      model = M.model();
      srv = await startServer(model, ["--ctx", String(CTX), "--parallel", String(PARALLEL), "--queue", "64", ...(M.args ?? [])],
        { apiKey: KEY });
      oa = client(srv);
    });
    after(async () => { if (srv) await srv.stop(); });

    test("GET /health, GET /v1/models and GET / need no key", async () => {
      const h = await raw(srv, "GET", "/health", undefined, { key: null });
      assert.equal(h.status, 200);
      assert.deepEqual(h.json, { status: "ok" });
      const m = await raw(srv, "GET", "/v1/models", undefined, { key: null });
      assert.equal(m.status, 200, m.text);
      assert.equal(m.json.object, "list");
      assert.equal(m.json.data.length, 1, m.text);
      const base = path.basename(model);
      // the basename of the model directory or file ("stories260K", "tiny-moe.gguf"; without .gguf accepted)
      assert.ok([base, base.replace(/\.gguf$/, "")].includes(m.json.data[0].id), `model id ${m.json.data[0].id}, expected ${base}`);
      assert.equal(m.json.data[0].object, "model");
      modelId = m.json.data[0].id;
      // the same through the client
      const list = await oa.models.list();
      assert.deepEqual(list.data.map((x) => x.id), [modelId]);
      const page = await raw(srv, "GET", "/", undefined, { key: null });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(page.text, /<textarea[^>]*id="input"/);
    });

    test("completions, non-streaming: the CLI's greedy text and usage", async () => {
      for (const [i, p] of PROMPTS.entries()) {
        const n = 24 + 8 * i;
        const want = cliGenerate(model, p, n);
        const r = await oa.completions.create({ model: modelId, prompt: p, max_tokens: n, temperature: 0 });
        assert.equal(r.object, "text_completion");
        assert.equal(typeof r.id, "string");
        assert.equal(typeof r.created, "number");
        assert.equal(r.choices.length, 1);
        assert.equal(r.choices[0].index, 0);
        assertSameText(r.choices[0].text, want, `completion of ${JSON.stringify(p)}, ${n} tokens`);
        assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
        const pids = cliPromptIds(model, p);
        assert.equal(r.usage.prompt_tokens, pids.length, "usage.prompt_tokens = the prompt's ids with BOS");
        if (r.choices[0].finish_reason === "length") assert.equal(r.usage.completion_tokens, n);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        assert.equal(typeof r.usage.prompt_tokens_details?.cached_tokens, "number");
      }
      // temperature defaults to 0 (greedy)
      const r = await oa.completions.create({ model: modelId, prompt: PROMPTS[0], max_tokens: 16 });
      assertSameText(r.choices[0].text, cliGenerate(model, PROMPTS[0], 16), "completion without temperature");
    });

    test("completions, streaming: chunks add up to the CLI's text; include_usage", async () => {
      const p = PROMPTS[3], n = 40;
      const want = cliGenerate(model, p, n);
      const s = await drain(await oa.completions.create({
        model: modelId, prompt: p, max_tokens: n, stream: true, stream_options: { include_usage: true },
      }));
      assertSameText(s.text, want, "streamed completion");
      assert.ok(s.chunks.length >= 2);
      const ids = new Set(s.chunks.map((c) => c.id));
      assert.equal(ids.size, 1, "one id in every chunk");
      for (const c of s.chunks) assert.equal(c.object, "text_completion");
      assert.ok(["length", "stop"].includes(s.finish));
      const last = s.chunks.at(-1);
      assert.deepEqual(last.choices, [], "the usage chunk has empty choices");
      assert.equal(last.usage.prompt_tokens, cliPromptIds(model, p).length);
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
      if (s.finish === "length") assert.equal(last.usage.completion_tokens, n);
      // without include_usage: no usage chunk
      const s2 = await drain(await oa.completions.create({ model: modelId, prompt: p, max_tokens: n, stream: true }));
      assertSameText(s2.text, want, "streamed completion (no usage)");
      assert.ok(s2.chunks.every((c) => (c.choices ?? []).length > 0), "no empty-choices chunk without include_usage");
    });

    test("chat, non-streaming: the CLI's greedy reply and usage", async () => {
      for (const [i, messages] of CHATS.entries()) {
        const n = 32;
        const want = cliChat(model, messages, n);
        const params = { model: modelId, messages, temperature: 0 };
        if (i === 1) params.max_completion_tokens = n; else params.max_tokens = n;
        const r = await oa.chat.completions.create(params);
        assert.equal(r.object, "chat.completion");
        assert.equal(typeof r.id, "string");
        assert.equal(typeof r.created, "number");
        assert.equal(r.choices.length, 1);
        assert.equal(r.choices[0].message.role, "assistant");
        assertSameText(r.choices[0].message.content, want.text, `chat ${i}`);
        assert.ok(["length", "stop"].includes(r.choices[0].finish_reason));
        assert.equal(r.usage.prompt_tokens, want.promptIds.length, "usage.prompt_tokens = tokenize --chat's ids");
        if (r.choices[0].finish_reason === "length") assert.equal(r.usage.completion_tokens, n);
        assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
        assert.equal(typeof r.usage.prompt_tokens_details?.cached_tokens, "number");
      }
    });

    test("chat, streaming: chunk shapes, the CLI's reply, include_usage", async () => {
      const messages = CHATS[0], n = 40;
      const want = cliChat(model, messages, n);
      const s = await drain(await oa.chat.completions.create({
        model: modelId, messages, max_tokens: n, stream: true, stream_options: { include_usage: true },
      }));
      assertSameText(s.text, want.text, "streamed chat");
      const c0 = s.chunks[0];
      assert.equal(c0.choices[0].delta.role, "assistant", "role in the first delta");
      for (const c of s.chunks) {
        assert.equal(c.object, "chat.completion.chunk");
        assert.equal(c.id, c0.id, "the same id in every chunk");
        assert.equal(c.created, c0.created, "the same created in every chunk");
      }
      const withChoices = s.chunks.filter((c) => c.choices.length > 0);
      const finals = withChoices.filter((c) => c.choices[0].finish_reason);
      assert.equal(finals.length, 1, "exactly one chunk has a finish_reason");
      assert.equal(finals[0], withChoices.at(-1), "the finish_reason chunk is the last with choices");
      assert.ok(["length", "stop"].includes(s.finish));
      const last = s.chunks.at(-1);
      assert.deepEqual(last.choices, [], "the usage chunk has empty choices");
      assert.equal(last.usage.prompt_tokens, want.promptIds.length);
      assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
      if (s.finish === "length") assert.equal(last.usage.completion_tokens, n);
      // the other conversations, streamed: the CLI's replies too
      for (const [i, msgs] of CHATS.entries()) {
        if (i === 0) continue;
        const si = await drain(await oa.chat.completions.create({ model: modelId, messages: msgs, max_tokens: 32, stream: true }));
        assertSameText(si.text, cliChat(model, msgs, 32).text, `streamed chat ${i}`);
      }
      // raw SSE framing: data: lines, ending with data: [DONE]
      const r = await fetch(srv.url + "/chat/completions", {
        method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: modelId, messages, max_tokens: 8, stream: true }),
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(r.status, 200);
      assert.match(r.headers.get("content-type") ?? "", /^text\/event-stream/);
      const body = await r.text();
      assert.ok(body.endsWith("data: [DONE]\n\n"), `the stream ends with data: [DONE]: ...${JSON.stringify(body.slice(-60))}`);
      const events = body.split("\n\n").filter((e) => e.length);
      for (const e of events) assert.match(e, /^data: /, `every event is a data: line: ${JSON.stringify(e.slice(0, 80))}`);
    });

    test("stop strings: the text ends right before the stop, finish_reason stop", async () => {
      const p = PROMPTS[0], n = 48;
      const full = cliGenerate(model, p, n);
      const stop1 = pickStop(full, 6);
      assert.ok(stop1, `no stop string to pick in ${JSON.stringify(full)}`);
      const want1 = full.slice(0, full.indexOf(stop1));
      const r = await oa.completions.create({ model: modelId, prompt: p, max_tokens: n, stop: stop1 });
      assertSameText(r.choices[0].text, want1, `completion with stop ${JSON.stringify(stop1)}`);
      assert.equal(r.choices[0].finish_reason, "stop");
      // streaming, an array of stops: the earliest wins
      const s = await drain(await oa.completions.create({ model: modelId, prompt: p, max_tokens: n, stop: ["\u0001never", stop1], stream: true }));
      assertSameText(s.text, want1, "streamed completion with stop array");
      assert.equal(s.finish, "stop");

      const messages = CHATS[0];
      const chatFull = cliChat(model, messages, n).text;
      const a = pickStop(chatFull, 10), b = pickStop(chatFull, 4, [a]);
      assert.ok(a && b, `no stop strings to pick in ${JSON.stringify(chatFull)}`);
      const cut = Math.min(chatFull.indexOf(a), chatFull.indexOf(b));
      const wantChat = chatFull.slice(0, cut);
      const rc = await oa.chat.completions.create({ model: modelId, messages, max_tokens: n, stop: [a, b] });
      assertSameText(rc.choices[0].message.content, wantChat, `chat with stop ${JSON.stringify([a, b])}`);
      assert.equal(rc.choices[0].finish_reason, "stop");
      const sc = await drain(await oa.chat.completions.create({ model: modelId, messages, max_tokens: n, stop: [a, b], stream: true }));
      assertSameText(sc.text, wantChat, "streamed chat with stop");
      assert.equal(sc.finish, "stop");
    });

    test("logprobs: present, <= 0, the greedy token is the top one", async () => {
      const messages = CHATS[1], n = 16;
      const want = cliChat(model, messages, n).text;
      const r = await oa.chat.completions.create({ model: modelId, messages, max_tokens: n, logprobs: true, top_logprobs: 3 });
      assertSameText(r.choices[0].message.content, want, "chat with logprobs");
      const lp = r.choices[0].logprobs?.content;
      assert.ok(Array.isArray(lp), `choices[0].logprobs.content: ${JSON.stringify(r.choices[0].logprobs)}`);
      assert.equal(lp.length, r.usage.completion_tokens, "one logprob entry per generated token");
      for (const e of lp) {
        assert.equal(typeof e.token, "string");
        assert.ok(Number.isFinite(e.logprob) && e.logprob <= 0, `logprob ${e.logprob}`);
        assert.equal(e.top_logprobs.length, 3);
        for (const t of e.top_logprobs) assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0);
        for (let k = 1; k < 3; k++) assert.ok(e.top_logprobs[k - 1].logprob >= e.top_logprobs[k].logprob, "top_logprobs sorted");
        assert.ok(Math.abs(e.logprob - e.top_logprobs[0].logprob) < 1e-4, "greedy: the chosen token has the top logprob");
      }
      if (/^[\x20-\x7e\n]*$/.test(want)) assert.equal(lp.map((e) => e.token).join(""), want, "the tokens spell the content");
      // streaming chat: logprobs ride in the chunks
      const s = await drain(await oa.chat.completions.create({ model: modelId, messages, max_tokens: n, logprobs: true, stream: true }));
      const slp = s.chunks.flatMap((c) => c.choices.flatMap((ch) => ch.logprobs?.content ?? []));
      assert.equal(slp.length, lp.length, "streamed logprob entries");
      for (const [i, e] of slp.entries()) assert.ok(Math.abs(e.logprob - lp[i].logprob) < 1e-5);
      // completions: logprobs is an int
      const p = PROMPTS[1];
      const rc = await oa.completions.create({ model: modelId, prompt: p, max_tokens: n, logprobs: 2 });
      assertSameText(rc.choices[0].text, cliGenerate(model, p, n), "completion with logprobs");
      const L = rc.choices[0].logprobs;
      assert.ok(L && Array.isArray(L.tokens) && Array.isArray(L.token_logprobs), `choices[0].logprobs: ${JSON.stringify(L)}`);
      assert.equal(L.tokens.length, rc.usage.completion_tokens);
      assert.equal(L.token_logprobs.length, L.tokens.length);
      for (const v of L.token_logprobs) assert.ok(Number.isFinite(v) && v <= 0, `token_logprob ${v}`);
      assert.equal(L.top_logprobs.length, L.tokens.length);
      for (const t of L.top_logprobs) {
        const vals = Object.values(t);
        assert.ok(vals.length >= 1 && vals.length <= 2, `top_logprobs entry ${JSON.stringify(t)}`);
        for (const v of vals) assert.ok(v <= 0);
      }
    });

    test("n = 3 with a seed: three choices, each reproducible", async () => {
      const params = { model: modelId, messages: CHATS[0], max_tokens: 24, n: 3, temperature: 0.8, seed: 1234 };
      const a = await oa.chat.completions.create(params);
      const b = await oa.chat.completions.create(params);
      assert.equal(a.choices.length, 3);
      const texts = (r) => [...r.choices].sort((x, y) => x.index - y.index).map((c) => c.message.content);
      assert.deepEqual(a.choices.map((c) => c.index).sort(), [0, 1, 2]);
      assert.deepEqual(texts(b), texts(a), "the same request twice gives the same 3 choices");
      assert.ok(new Set(texts(a)).size >= 2, `the 3 choices should not all be one sample: ${JSON.stringify(texts(a))}`);
      assert.equal(a.usage.completion_tokens, b.usage.completion_tokens);
      const pc = { model: modelId, prompt: PROMPTS[2], max_tokens: 24, n: 3, temperature: 0.8, seed: 99 };
      const c = await oa.completions.create(pc);
      const d = await oa.completions.create(pc);
      assert.equal(c.choices.length, 3);
      const ctexts = (r) => [...r.choices].sort((x, y) => x.index - y.index).map((x) => x.text);
      assert.deepEqual(ctexts(d), ctexts(c));
      // a different seed changes the sample
      const e = await oa.completions.create({ ...pc, seed: 100 });
      assert.notDeepEqual(ctexts(e), ctexts(c), "seed 100 and seed 99 gave the same 3 samples");
    });

    test("16 concurrent requests: each the same as alone", { timeout: 60_000 }, async () => {
      const reqs = [];
      for (let i = 0; i < 16; i++) {
        const kind = i % 4;  // 0 completion greedy, 1 chat greedy, 2 completion sampled, 3 chat sampled
        const stream = i % 3 === 0;
        const max_tokens = 16 + ((i * 7) % 40);
        const body = { model: modelId, max_tokens, stream };
        if (kind === 0 || kind === 2) body.prompt = PROMPTS[i % PROMPTS.length];
        else body.messages = CHATS[i % CHATS.length];
        if (kind >= 2) {
          body.temperature = 0.8;
          body.seed = 1000 + i;
          if (i % 8 === 2) body.top_p = 0.9;
          if (i % 8 === 3) body.top_k = 40;
          if (i % 8 === 6) body.min_p = 0.05;
        }
        reqs.push(body);
      }
      const run = async (body) => {
        if (body.prompt !== undefined) {
          if (body.stream) return (await drain(await oa.completions.create(body))).text;
          return (await oa.completions.create(body)).choices[0].text;
        }
        if (body.stream) return (await drain(await oa.chat.completions.create(body))).text;
        return (await oa.chat.completions.create(body)).choices[0].message.content;
      };
      const solo = [];
      for (const b of reqs) solo.push(await run(b));
      for (const [i, b] of reqs.entries()) {
        if (b.temperature) continue;
        const want = b.prompt !== undefined ? cliGenerate(model, b.prompt, b.max_tokens) : cliChat(model, b.messages, b.max_tokens).text;
        assertSameText(solo[i], want, `request ${i} alone vs the CLI`);
      }
      const together = await Promise.all(reqs.map(run));
      for (let i = 0; i < reqs.length; i++) assertSameText(together[i], solo[i], `request ${i} (${JSON.stringify(reqs[i])}) among 15 others vs alone`);
      await waitIdle(srv);
    });

    test("cancellation mid-stream frees the slot and stops the generation", { timeout: 60_000 }, async (t) => {
      const variants = [
        { kind: "completion", after: 3 },
        { kind: "chat", after: 3 },
        { kind: "chat", after: 0 },   // abort as soon as the headers are in
      ];
      const maxTokens = CTX - 64;
      for (const v of variants) {
        await waitIdle(srv);
        const g0 = (await metrics(srv)).values.mistral_generated_tokens_total;
        const ac = new AbortController();
        const body = v.kind === "chat"
          ? { model: modelId, messages: CHATS[0], max_tokens: maxTokens, stream: true }
          : { model: modelId, prompt: PROMPTS[0], max_tokens: maxTokens, stream: true };
        const stream = v.kind === "chat"
          ? await oa.chat.completions.create(body, { signal: ac.signal })
          : await oa.completions.create(body, { signal: ac.signal });
        let got = 0;
        try {
          if (v.after === 0) ac.abort();
          for await (const c of stream) {
            void c;
            if (++got >= v.after) { ac.abort(); break; }
          }
        } catch (e) {
          if (!(e instanceof OpenAI.APIUserAbortError) && e.name !== "AbortError") throw e;
        }
        const t0 = Date.now();
        const r = await oa.completions.create({ model: modelId, prompt: PROMPTS[1], max_tokens: 8 });
        const ms = Date.now() - t0;
        assertSameText(r.choices[0].text, cliGenerate(model, PROMPTS[1], 8), "a request after a cancellation");
        assert.ok(ms < 10_000, `the request after a cancellation took ${ms} ms`);
        await waitIdle(srv);
        const spent = (await metrics(srv)).values.mistral_generated_tokens_total - g0 - r.usage.completion_tokens;
        t.diagnostic(`${v.kind} cancelled after ${got} chunks: ${spent} of ${maxTokens} tokens generated; the next request took ${ms} ms`);
        assert.ok(spent < maxTokens, `the cancelled request ran to the end (${spent} tokens): the server should stop a stream whose client left`);
      }
    });

    test("prefix reuse: a second turn reports cached tokens and the CLI's reply", async () => {
      const n = 24;
      const turn1 = [{ role: "user", content: "Tell me a story about a dog and a ball." }];
      const before1 = (await metrics(srv)).values.mistral_cached_prompt_tokens_total;
      const r1 = await oa.chat.completions.create({ model: modelId, messages: turn1, max_tokens: n });
      assertSameText(r1.choices[0].message.content, cliChat(model, turn1, n).text, "turn 1");
      const turn2 = [...turn1, { role: "assistant", content: r1.choices[0].message.content },
        { role: "user", content: "What happened next?" }];
      const r2 = await oa.chat.completions.create({ model: modelId, messages: turn2, max_tokens: n });
      const want2 = cliChat(model, turn2, n);
      assertSameText(r2.choices[0].message.content, want2.text, "turn 2");
      assert.equal(r2.usage.prompt_tokens, want2.promptIds.length);
      const cached = r2.usage.prompt_tokens_details?.cached_tokens;
      assert.ok(cached > 0, `usage.prompt_tokens_details.cached_tokens = ${cached}, expected > 0`);
      assert.ok(cached <= r2.usage.prompt_tokens);
      const after1 = (await metrics(srv)).values.mistral_cached_prompt_tokens_total;
      assert.ok(after1 - before1 >= cached, `mistral_cached_prompt_tokens_total grew by ${after1 - before1}, expected >= ${cached}`);
      // streaming, the same second turn again: still the same text
      const s = await drain(await oa.chat.completions.create({ model: modelId, messages: turn2, max_tokens: n, stream: true, stream_options: { include_usage: true } }));
      assertSameText(s.text, want2.text, "turn 2 streamed");
      assert.ok(s.usage.prompt_tokens_details?.cached_tokens > 0);
    });

    test("/tokenize and /detokenize round trip (the CLI's ids)", async () => {
      const text = "Once upon a time, Lily met a cat named Tom. They played!";
      const a = await raw(srv, "POST", "/tokenize", { content: text, add_special: false });
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(a.json.tokens, cliTokenize(model, text, false));
      const b = await raw(srv, "POST", "/tokenize", { content: text, add_special: true });
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(b.json.tokens, cliTokenize(model, text, true));
      const d = await raw(srv, "POST", "/detokenize", { tokens: a.json.tokens });
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.content, text);
      const e = await raw(srv, "POST", "/detokenize", { tokens: [] });
      assert.equal(e.status, 200, e.text);
      assert.equal(e.json.content, "");
    });

    test("/detokenize of byte tokens (NUL, control bytes, lone bytes >= 0x80) equals mistral detokenize", async () => {
      // SentencePiece byte tokens: ids 3..258 are <0x00>..<0xFF>; 0..2 are specials
      for (const ids of [[3], [3, 4, 5, 13, 14, 35], Array.from({ length: 140 }, (_, i) => i), [260, 3, 261, 200, 262]]) {
        const want = cli(["detokenize", "-m", model, "--ids", ids.join(",")]).toString("utf8");
        const r = await raw(srv, "POST", "/detokenize", { tokens: ids });
        assert.equal(r.status, 200, r.text);
        assertSameText(r.json.content, want, `/detokenize ${JSON.stringify(ids).slice(0, 40)} vs mistral detokenize`);
      }
    });

    test("/metrics: the counters, and they count", async () => {
      const m0 = await metrics(srv);
      assert.match(m0.contentType ?? "", /^text\/plain/);
      for (const name of METRIC_NAMES) {
        assert.match(m0.text, new RegExp(`^${name}(\\{[^}]*\\})? [-+0-9.eE]+$`, "m"), `metric ${name} missing`);
      }
      const r = await oa.completions.create({ model: modelId, prompt: "Tim and Sue went to the park", max_tokens: 12 });
      const m1 = await metrics(srv);
      const d = (k) => m1.values[k] - m0.values[k];
      assert.ok(d("mistral_requests_total") >= 1, "mistral_requests_total counts requests");
      assert.equal(d("mistral_generated_tokens_total"), r.usage.completion_tokens);
      const uncached = r.usage.prompt_tokens - r.usage.prompt_tokens_details.cached_tokens;
      assert.ok(d("mistral_prompt_tokens_total") >= uncached && d("mistral_prompt_tokens_total") <= r.usage.prompt_tokens,
        `mistral_prompt_tokens_total grew by ${d("mistral_prompt_tokens_total")}, usage ${JSON.stringify(r.usage)}`);
      assert.equal(m1.values.mistral_busy_slots, 0);
      assert.equal(m1.values.mistral_queue_depth, 0);
      assert.ok(m1.values.mistral_decode_tokens_per_second >= 0);
    });

    test("errors: 400 with OpenAI's shape, naming the field", async () => {
      const msgs = [{ role: "user", content: "Hi" }];
      const cases = [
        ["/v1/chat/completions", "{\"messages\": [", null, "malformed JSON"],
        ["/v1/chat/completions", "[1, 2]", null, "not an object"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, frobnicate: 1 }, "frobnicate", "unknown field"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, max_tokens: "ten" }, "max_tokens", "wrong type"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, temperature: "hot" }, "temperature", "wrong type"],
        ["/v1/chat/completions", { model: modelId, messages: "Hi" }, "messages", "messages not an array"],
        ["/v1/chat/completions", { model: modelId }, "messages", "messages missing"],
        ["/v1/chat/completions", { model: modelId, messages: [{ role: "wizard", content: "Hi" }] }, ["role", "wizard"], "unknown role"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, response_format: { type: "yaml" } }, "response_format", "unknown response_format type"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, stop: ["a", "b", "c", "d", "e"] }, "stop", "5 stops"],
        ["/v1/chat/completions", { model: modelId, messages: msgs, stream: "yes" }, "stream", "wrong type"],
        ["/v1/chat/completions", { model: modelId, messages: [{ role: "user", content: LONG_TEXT }] }, null, "prompt longer than the context"],
        ["/v1/completions", "{\"prompt\": ", null, "malformed JSON"],
        ["/v1/completions", { model: modelId, prompt: 42 }, "prompt", "wrong type"],
        ["/v1/completions", { model: modelId, prompt: "Hi", logprobs: "yes" }, "logprobs", "wrong type"],
        ["/v1/completions", { model: modelId, prompt: "Hi", frobnicate: true }, "frobnicate", "unknown field"],
        ["/v1/completions", { model: modelId, prompt: "Hi", seed: "x" }, "seed", "wrong type"],
        ["/v1/completions", { model: modelId, prompt: LONG_TEXT }, null, "prompt longer than the context"],
        ["/tokenize", { content: 5 }, "content", "wrong type"],
        ["/detokenize", { tokens: "1 2 3" }, "tokens", "wrong type"],
      ];
      assert.ok(cliPromptIds(model, LONG_TEXT).length > CTX, "the long prompt is longer than --ctx");
      for (const [p, body, field, what] of cases) {
        const r = await raw(srv, "POST", p, body);
        try {
          assertErrorShape(r, 400, { type: "invalid_request_error", field });
        } catch (e) {
          e.message = `POST ${p} (${what}): ${e.message}`;
          throw e;
        }
      }
      // through the client: a BadRequestError with status 400
      await assert.rejects(
        oa.chat.completions.create({ model: modelId, messages: [{ role: "wizard", content: "x" }] }),
        (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
      const nf = await raw(srv, "GET", "/v1/nothing-here");
      assert.equal(nf.status, 404);
      // the server still serves
      const ok = await oa.completions.create({ model: modelId, prompt: PROMPTS[0], max_tokens: 4 });
      assertSameText(ok.choices[0].text, cliGenerate(model, PROMPTS[0], 4), "after the errors");
    });

    test("errors: 401 without the key or with a wrong one", async () => {
      const msgs = [{ role: "user", content: "Hi" }];
      for (const key of [null, "wrong-key"]) {
        for (const [method, p, body] of [
          ["POST", "/v1/chat/completions", { model: modelId, messages: msgs, max_tokens: 2 }],
          ["POST", "/v1/completions", { model: modelId, prompt: "Hi", max_tokens: 2 }],
          ["POST", "/tokenize", { content: "Hi" }],
          ["GET", "/metrics", undefined],
        ]) {
          const r = await raw(srv, method, p, body, { key });
          try {
            assertErrorShape(r, 401);
          } catch (e) {
            e.message = `${method} ${p} with key ${key}: ${e.message}`;
            throw e;
          }
        }
      }
      await assert.rejects(
        client(srv, "wrong-key").chat.completions.create({ model: modelId, messages: msgs, max_tokens: 2 }),
        (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
      for (const p of ["/health", "/v1/models"]) {
        const r = await raw(srv, "GET", p, undefined, { key: "wrong-key" });
        assert.equal(r.status, 200, `GET ${p} with a wrong key`);
      }
    });

    test("errors: 413 for a body over the limit", { timeout: 60_000 }, async () => {
      const r = await postHuge(srv, 64 << 20);
      assert.equal(r.status, 413, `a 64 MiB body: ${r.status} ${r.text.slice(0, 200)}`);
      let j = null;
      try { j = JSON.parse(r.text); } catch { /* checked below */ }
      assert.ok(j?.error?.message, `413 body: ${r.text.slice(0, 200)}`);
      const ok = await oa.completions.create({ model: modelId, prompt: PROMPTS[0], max_tokens: 4 });
      assertSameText(ok.choices[0].text, cliGenerate(model, PROMPTS[0], 4), "after a 413");
    });
  });
}

describe("mistral serve: queue full (--parallel 1 --queue 1)", { skip: SKIP ?? false, timeout: 60_000 }, () => {
  let srv, id;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", String(CTX), "--parallel", "1", "--queue", "1"]);
    id = (await raw(srv, "GET", "/v1/models")).json.data[0].id;
  });
  after(async () => { if (srv) await srv.stop(); });

  // The accepted requests are streamed and cancelled as soon as their
  // headers say 200: the test waits for answers, never for 2,000 tokens.
  test("429 with Retry-After when the queue is full", async () => {
    const body = (i) => ({ model: id, prompt: PROMPTS[i % PROMPTS.length], max_tokens: CTX - 64, temperature: 1.0, seed: i,
                           stream: true });
    const start = async (i) => {
      const ac = new AbortController();
      const r = await fetch(srv.base + "/v1/completions", {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body(i)), signal: ac.signal });
      if (r.status === 200) {
        ac.abort(); // the server cancels the request (the client went away)
        return { status: 200, headers: r.headers, text: "", json: null };
      }
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* checked by assertErrorShape */ }
      return { status: r.status, headers: r.headers, text, json };
    };
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => start(i)));
    const statuses = rs.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 429), `statuses ${statuses}`);
    const busy = rs.filter((r) => r.status === 429);
    assert.ok(busy.length >= 1, `8 long requests at once on 1 slot + a queue of 1: no 429 (statuses ${statuses})`);
    assert.ok(rs.some((r) => r.status === 200), `statuses ${statuses}`);
    assert.ok(busy.length <= 6, `at most 6 of 8 can be refused (1 running + 1 queued): ${statuses}`);
    for (const r of busy) {
      assertErrorShape(r, 429);
      assert.match(r.headers.get("retry-after") ?? "", /^\d+$/, "Retry-After: seconds");
    }
    // through the client: RateLimitError (a stream that was accepted is cancelled)
    await waitIdle(srv, 30_000);
    const oa = client(srv);
    const again = await Promise.allSettled(Array.from({ length: 4 }, (_, i) => oa.completions.create(body(i))));
    for (const x of again) if (x.status === "fulfilled") x.value.controller.abort();
    assert.ok(again.some((x) => x.status === "rejected" && x.reason instanceof OpenAI.RateLimitError && x.reason.status === 429),
      `no RateLimitError among ${again.map((x) => x.status)}`);
    for (const x of again) if (x.status === "rejected") assert.ok(x.reason instanceof OpenAI.RateLimitError, String(x.reason));
    await waitIdle(srv, 30_000);
    const ok = await oa.completions.create({ model: id, prompt: PROMPTS[0], max_tokens: 8 });
    assertSameText(ok.choices[0].text, cliGenerate(STORIES, PROMPTS[0], 8), "after the 429s");
  });
});

describe("mistral serve: SIGTERM while streaming", { skip: SKIP ?? false, timeout: 60_000 }, () => {
  test("running streams end with an error chunk (the reply was cut), then exit status 0", async () => {
    const srv = await startServer(STORIES, ["--ctx", String(CTX), "--parallel", "2"]);
    try {
      const res = await fetch(`${srv.url}/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ prompt: PROMPTS[0], max_tokens: CTX - 64, stream: true, ignore_eos: true }),
      });
      assert.equal(res.status, 200);
      const dec = new TextDecoder();
      let text = "", signalled = false;
      const deadline = Date.now() + 30_000;
      for await (const part of res.body) {
        text += dec.decode(part, { stream: true });
        if (!signalled && (text.match(/^data: /gm) ?? []).length >= 5) {
          srv.child.kill("SIGTERM");
          signalled = true;
        }
        assert.ok(Date.now() < deadline, "the stream did not end within 30 s of SIGTERM");
      }
      assert.ok(signalled, "the stream ended before 5 chunks");
      const datas = text.split("\n\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
      // not a finish_reason: a client must not take the cut for a natural end (README: SIGTERM)
      const last = JSON.parse(datas.at(-1));
      assert.equal(last.error?.type, "server_error", `an error chunk last: ${datas.at(-1)}`);
      assert.ok(datas.slice(0, -1).every((d) => !JSON.parse(d).choices[0].finish_reason), "no finish_reason before it");
      const exit = await srv.stop(); // already exiting: returns its status
      assert.deepEqual([exit.code, exit.signal], [0, null], `exit after SIGTERM: ${JSON.stringify(exit)}\n${srv.log()}`);
      assert.match(srv.log(), /SIGTERM: stopping/);
    } finally {
      await srv.stop();
    }
  });
});

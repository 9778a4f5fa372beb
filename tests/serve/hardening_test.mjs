// `mistral serve` against hostile or careless clients (issue 23, item 8),
// and its latency histograms in /metrics (item 7). Run from the repository
// root:  node --test tests/serve/hardening_test.mjs
//
// Malformed HTTP goes through raw sockets (node:net). Nothing here asserts a
// duration: each check waits for an event (a reply, a closed socket, a line
// in the log, a gauge in /metrics), under the test's own generous timeout.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { REPO, STORIES, skipReason, startServer, raw, sleep } from "./lib.mjs";

const SKIP = skipReason();
const KEY = "hard-key-" + Math.random().toString(36).slice(2);
const CTX = 16384;          // a reply of LONG tokens takes seconds even on a fast machine
const LONG = 16000;

// ---- raw sockets ---------------------------------------------------------------
// Sends bytes, then collects what comes back until the server closes the
// socket (or the client gives up after ms). {data, closed}.
function rawExchange(port, bytes, { ms = 20_000, end = false } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    let data = Buffer.alloc(0), done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve({ data: data.toString("latin1"), closed });
    };
    const t = setTimeout(() => finish(false), ms);
    s.on("connect", () => { s.write(Buffer.from(bytes, "latin1")); if (end) s.end(); });
    s.on("data", (d) => { data = Buffer.concat([data, d]); });
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
  });
}

function statusOf(reply) {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
  return m ? Number(m[1]) : null;
}

// Waits until pred(metrics) holds (polling /metrics), at most ms.
async function until(server, pred, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await raw(server, "GET", "/metrics");
    if (pred(parseProm(r.text))) return;
    if (Date.now() > deadline) throw new Error(`/metrics never satisfied ${pred}: ${r.text}`);
    await sleep(20);
  }
}

async function untilLog(server, re, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!re.test(server.log())) {
    if (Date.now() > deadline) throw new Error(`the log never showed ${re}: ${server.log().slice(-2000)}`);
    await sleep(20);
  }
  return re.exec(server.log());
}

// ---- a Prometheus text-format parser ------------------------------------------------
// The exposition format 0.0.4: "# HELP name text", "# TYPE name type", then
// samples "name{label="value",...} value". Returns {types, samples: [{name,
// labels, value}]}, and throws on a line it cannot read.
function parseProm(text) {
  const types = {}, samples = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let m;
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      types[m[1]] = m[2];
      continue;
    }
    if (line.startsWith("#")) continue;
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ([^ ]+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample: ${JSON.stringify(line)}`);
    const labels = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let pos = 0;
      while (pos < m[2].length) {
        re.lastIndex = pos;
        const l = re.exec(m[2]);
        if (!l) throw new Error(`bad labels in ${JSON.stringify(line)}`);
        labels[l[1]] = l[2];
        pos = re.lastIndex;
      }
    }
    const v = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (Number.isNaN(v) && m[3] !== "NaN") throw new Error(`bad value in ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels, value: v });
  }
  return {
    types, samples,
    value(name) { return samples.find((s) => s.name === name && !Object.keys(s.labels).length)?.value; },
    // {buckets: [[le, cumulative count]...], sum, count} of histogram name
    histogram(name) {
      assert.equal(types[name], "histogram", `${name} is a histogram`);
      const buckets = samples.filter((s) => s.name === `${name}_bucket`)
        .map((s) => [s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), s.value]);
      return { buckets, sum: this.value(`${name}_sum`), count: this.value(`${name}_count`) };
    },
  };
}

const HISTOGRAMS = ["mistral_time_to_first_token_seconds", "mistral_inter_token_latency_seconds",
  "mistral_queue_wait_seconds", "mistral_request_duration_seconds"];

function checkHistogram(h, name) {
  assert.ok(h.buckets.length >= 5, `${name}: buckets`);
  for (let i = 1; i < h.buckets.length; i++) {
    assert.ok(h.buckets[i][0] > h.buckets[i - 1][0], `${name}: le increasing`);
    assert.ok(h.buckets[i][1] >= h.buckets[i - 1][1], `${name}: cumulative counts`);
  }
  assert.equal(h.buckets.at(-1)[0], Infinity, `${name}: +Inf bucket last`);
  assert.equal(h.buckets.at(-1)[1], h.count, `${name}: +Inf == _count`);
  assert.ok(h.sum >= 0 && Number.isFinite(h.sum), `${name}: _sum`);
}

const post = (server, p, body, opts) => raw(server, "POST", p, body, { timeoutMs: 120_000, ...opts });

describe("hardening", { skip: SKIP ?? false, timeout: 600_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", String(CTX), "--parallel", "1", "--queue", "8"], { apiKey: KEY });
  });
  after(async () => { await srv?.stop(); });

  test("a non-streaming client that leaves is cancelled within a step: 499, its slot freed", async () => {
    const body = JSON.stringify({ prompt: "Once upon a time", max_tokens: LONG, ignore_eos: true });
    const s = net.connect(srv.port, "127.0.0.1");
    await new Promise((r) => s.on("connect", r));
    s.write(`POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await until(srv, (m) => m.value("mistral_busy_slots") === 1);
    s.destroy();
    // the one slot is free again: a short request runs, although the first asked for LONG tokens
    const r = await post(srv, "/v1/completions", { prompt: "Hello", max_tokens: 3 });
    assert.equal(r.status, 200, r.text);
    const m = await untilLog(srv, /POST \/v1\/completions 499 \d+\+(\d+) tokens/);
    assert.ok(Number(m[1]) < LONG, `cancelled after ${m[1]} of ${LONG} tokens`);
  });

  test("the key is checked at the headers: a body without it is read, never kept; 401", async () => {
    const body = "{" + " ".repeat((4 << 20) - 2);
    for (const p of ["/v1/completions", "/v1/chat/completions", "/v1/messages", "/tokenize", "/metrics"]) {
      const r = await rawExchange(srv.port, `POST ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`);
      assert.equal(statusOf(r.data), 401, `${p}: ${r.data.slice(0, 300)}`);
    }
    // a Content-Length past the limit: 413, the body not kept either
    const big = 5_000_000;
    const r = await rawExchange(srv.port, `POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
      `Connection: close\r\nContent-Length: ${big}\r\n\r\n${"x".repeat(big)}`);
    assert.equal(statusOf(r.data), 413, r.data.slice(0, 300));
    assert.match(r.data, /"error"/);
  });

  test("stop strings are at most 256 bytes", async () => {
    const ok = await post(srv, "/v1/completions", { prompt: "Hi", max_tokens: 2, stop: ["x".repeat(256)] });
    assert.equal(ok.status, 200, ok.text);
    const bad = await post(srv, "/v1/completions", { prompt: "Hi", max_tokens: 2, stop: ["y".repeat(257)] });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error.param, "stop");
    const chat = await post(srv, "/v1/chat/completions",
      { messages: [{ role: "user", content: "Hi" }], max_tokens: 2, stop: "z".repeat(100_000) });
    assert.equal(chat.status, 400, chat.text);
    const a = await post(srv, "/v1/messages", { model: "m", max_tokens: 2, messages: [{ role: "user", content: "Hi" }],
      stop_sequences: ["w".repeat(1000)] }, { headers: { "x-api-key": KEY }, key: null });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.json.type, "error", a.text);
  });

  test("HTTP framing: smuggling shapes, bad lengths, transfer codings, %00", async () => {
    const H = `Host: x\r\nAuthorization: Bearer ${KEY}\r\n`;
    const cases = [
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: -5\r\n\r\n`, 400],
      [`POST /v1/completions HTTP/1.1\r\n${H}Content-Length: 100000000000000000000000\r\n\r\n`, [400, 413]],
      [`POST /v1/completions HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\n`, [400, 413]],
      [`GET /health%00x HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
      [`GET /health%00 HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ];
    for (const [req, want] of cases) {
      const r = await rawExchange(srv.port, req);
      const st = statusOf(r.data);
      assert.ok([want].flat().includes(st), `${JSON.stringify(req)}: ${JSON.stringify(r.data)}`);
      assert.ok(r.closed, `${JSON.stringify(req)}: closed after the reply`);
    }
    // the server still serves
    const h = await raw(srv, "GET", "/health");
    assert.equal(h.status, 200);
  });

  test("one JSON reader: NUL kept, control characters, 05, 1., stream_options keys, invalid UTF-8", async () => {
    const tok = async (content) => (await post(srv, "/tokenize", `{"content": ${content}}`));
    const a = await tok('"a"'), anb = await tok('"a\\u0000b"');
    assert.equal(anb.status, 200, anb.text);
    assert.ok(anb.json.tokens.length > a.json.tokens.length, "the NUL and what follows it are tokenized");
    const c1 = await post(srv, "/v1/completions", '{"prompt": "a", "max_tokens": 1}');
    const c2 = await post(srv, "/v1/completions", '{"prompt": "a\\u0000b", "max_tokens": 1}');
    assert.ok(c2.json.usage.prompt_tokens > c1.json.usage.prompt_tokens, c2.text);
    const bad = [
      ["/tokenize", '{"content": "a\u0001b"}'],
      ["/v1/completions", '{"prompt": "a\u0001", "max_tokens": 1}'],
      ["/v1/completions", '{"prompt": "a", "max_tokens": 05}'],
      ["/v1/completions", '{"prompt": "a", "max_tokens": 1.}'],
      ["/detokenize", '{"tokens": [05]}'],
      ["/detokenize", '{"tokens": [1.]}'],
      ["/v1/chat/completions", '{"messages": [{"role": "user", "content": "a"}], "max_tokens": 01}'],
      ["/v1/completions", '{"prompt": "a", "max_tokens": 1, "stream": true, "stream_options": {"include_usage": true, "x": 1}}'],
      ["/tokenize", '{"content": "a", "extra": 1}'],
    ];
    for (const [p, body] of bad) {
      const r = await post(srv, p, body);
      assert.equal(r.status, 400, `${p} ${body}: ${r.text}`);
    }
    // invalid UTF-8 in the body: a 400 whose body is valid UTF-8
    for (const bytes of [Buffer.from('{"prompt": "a\xff", "max_tokens": 1}', "latin1"),
      Buffer.from('{"prompt": "a", "\xc3(": 1}', "latin1")]) {
      const r = await fetch(srv.base + "/v1/completions", { method: "POST", body: bytes,
        headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" } });
      assert.equal(r.status, 400);
      const buf = Buffer.from(await r.arrayBuffer());
      assert.doesNotThrow(() => new TextDecoder("utf-8", { fatal: true }).decode(buf), buf.toString("latin1"));
    }
  });

  test("latency histograms in /metrics count every completion", async () => {
    const before_ = parseProm((await raw(srv, "GET", "/metrics")).text);
    for (const h of HISTOGRAMS) checkHistogram(before_.histogram(h), h);
    const N = 3, T = 5;
    for (let i = 0; i < N; i++) {
      const r = await post(srv, "/v1/completions", { prompt: `Story ${i}`, max_tokens: T, ignore_eos: true });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.usage.completion_tokens, T);
    }
    const after_ = parseProm((await raw(srv, "GET", "/metrics")).text);
    const d = (h) => after_.histogram(h).count - before_.histogram(h).count;
    for (const h of HISTOGRAMS) checkHistogram(after_.histogram(h), h);
    assert.equal(d("mistral_time_to_first_token_seconds"), N);
    assert.equal(d("mistral_inter_token_latency_seconds"), N * (T - 1));
    assert.equal(d("mistral_queue_wait_seconds"), N);
    assert.equal(d("mistral_request_duration_seconds"), N);
    const ttft = after_.histogram("mistral_time_to_first_token_seconds");
    const dur = after_.histogram("mistral_request_duration_seconds");
    assert.ok(dur.sum >= ttft.sum, "a request lasts at least until its first token");
  });
});

describe("connection limits", { skip: SKIP ?? false, timeout: 300_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", "512", "--parallel", "1", "--max-conn-per-ip", "3", "--http-timeout", "3"]);
  });
  after(async () => { await srv?.stop(); });

  test("a per-address cap, and silent connections closed by the header timeout (slowloris)", async () => {
    const open = [];
    for (let i = 0; i < 3; i++) {
      const s = net.connect(srv.port, "127.0.0.1");
      const closed = new Promise((r) => s.on("close", r));
      s.on("error", () => {});
      await new Promise((r) => s.on("connect", r));
      s.write("GET /health HTTP/1.1\r\nHost: x\r\n"); // headers never finished, but never idle either
      const trickle = setInterval(() => s.writable && s.write(`X-Slow-${i}: 1\r\n`), 300);
      open.push(closed.then(() => clearInterval(trickle)));
    }
    // a 4th connection from the same address is closed unanswered while the 3 are open
    const r = await rawExchange(srv.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.ok(r.closed);
    assert.equal(r.data, "", "no reply past the cap");
    // each slow connection is closed by the server: the test's timeout bounds it, not a clock here
    await Promise.all(open);
    const h = await raw(srv, "GET", "/health");
    assert.equal(h.status, 200);
  });

  test("a reply longer than the timeout is not cut", async () => {
    const r = await fetch(srv.base + "/v1/completions", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "Once", max_tokens: 400, ignore_eos: true, stream: true }) });
    const text = await r.text();
    assert.match(text, /data: \[DONE\]/);
  });
});

describe("SIGTERM", { skip: SKIP ?? false, timeout: 300_000 }, () => {
  test("a cut stream ends with an error chunk; queued requests get 503", async () => {
    const srv = await startServer(STORIES, ["--ctx", String(CTX), "--parallel", "1", "--queue", "8"]);
    try {
      const res = await fetch(srv.base + "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "Hi" }], max_tokens: LONG, ignore_eos: true, stream: true }) });
      const reader = res.body.getReader();
      let text = "";
      const first = await reader.read();
      text += Buffer.from(first.value).toString();
      const queued = post(srv, "/v1/completions", { prompt: "Hello", max_tokens: 3 });
      const aQueued = post(srv, "/v1/messages", { model: "m", max_tokens: 3, messages: [{ role: "user", content: "Hi" }] });
      await until(srv, (m) => m.value("mistral_queue_depth") === 2);
      srv.child.kill("SIGTERM");
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
      const last = JSON.parse(events.at(-1));
      assert.ok(last.error, `the stream's last chunk is an error: ${events.at(-1)}`);
      assert.ok(!text.includes('"finish_reason":"stop"'), "no natural end is claimed");
      const q = await queued;
      assert.equal(q.status, 503, q.text);
      assert.ok(q.json.error, q.text);
      const aq = await aQueued;
      assert.equal(aq.status, 503, aq.text);
      assert.equal(aq.json.type, "error", aq.text);
      const ex = await srv.stop();
      assert.equal(ex.code, 0);
    } finally {
      await srv.stop();
    }
  });
});

describe("load with hostile clients (bench/serve_load.mjs --hostile)", { skip: SKIP ?? false, timeout: 300_000 }, () => {
  test("slowloris connections are closed and smuggled requests refused while the load runs", async () => {
    const srv = await startServer(STORIES, ["--ctx", "512", "--parallel", "2", "--http-timeout", "2"], { apiKey: KEY });
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(REPO, "bench/serve_load.mjs"),
        "--url", srv.base, "--key", KEY, "--clients", "2", "--requests", "6", "--max-tokens", "32", "--hostile", "4",
        "--hostile-s", "120", "--timeout-s", "200", "--json"], { timeout: 250_000 });
      const out = JSON.parse(stdout);
      assert.equal(out.tokens, 6 * 32, stdout);
      assert.equal(out.slowloris_closed_by_server, 4, stdout);
      assert.ok(out.smuggling_attempts > 0, stdout);
      assert.equal(out.smuggling_refused, out.smuggling_attempts, stdout);
    } finally {
      await srv.stop();
    }
  });
});

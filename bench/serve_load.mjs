// serve_load.mjs — load for an OpenAI-compatible server (mistral serve or
// llama-server): C clients streaming /v1/completions at once, R requests in
// all, and what each token took.
//
//   node bench/serve_load.mjs --url http://127.0.0.1:8080 --clients 16 --requests 32 \
//        --max-tokens 64 [--prompt-words 100] [--long-words 2000] [--json]
//
// Prints aggregate generated tok/s (tokens from each response's usage, or
// its chunks, over the wall time), time to first token and inter-token
// latency (p50, p99). With --long-words W, instead: 4 streams run, then one
// request with a prompt of about W words arrives; prints the inter-token
// latency of the 4 streams while it is prefilled (p50, p99, max) against
// before it came. With --ramp K, instead: --streams S (8) streams of
// --max-tokens run; once each has its first token, K new requests (a
// --prompt-words prompt, --ramp-tokens 32 tokens each) arrive one every
// --ramp-ms (500); prints the inter-token latency of every request (p50,
// p99), of the S streams while new prompts arrive (p99, max), the new
// requests' time to first token (p50, p99) and aggregate tok/s. With --hostile K, while the load runs: K slowloris
// connections (a header line every 300 ms, never finished: the server must
// close them, --http-timeout) and request-smuggling attempts in a loop
// (Content-Length with Transfer-Encoding, two Content-Lengths, each with a
// second request hidden in its body: the one reply must be a 400, and the
// hidden request never answered); exits 1 when one was not refused. --key
// KEY sends Authorization: Bearer KEY; --hostile-s S: the attack lasts at
// least S seconds (or until the server closed every slow connection). Node's fetch and node:net only;
// every loop is bounded in count and time.
import net from "node:net";
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
    return acc;
  }, []),
);
const url = args.url ?? "http://127.0.0.1:8080";
const clients = +(args.clients ?? 4), requests = +(args.requests ?? clients), maxTokens = +(args["max-tokens"] ?? 64);
const promptWords = +(args["prompt-words"] ?? 100), longWords = +(args["long-words"] ?? 0);
const deadline = Date.now() + 1000 * +(args["timeout-s"] ?? 600);
const key = args.key, hostile = +(args.hostile ?? 0);
const auth = key ? { Authorization: `Bearer ${key}` } : {};
const words = "the cat sat on a warm mat and looked at the little bird in the old tree".split(" ");
const prompt = (n, salt) => Array.from({ length: n }, (_, i) => words[(i * 7 + salt) % words.length]).join(" ");

// One streaming completion: the times of its text chunks and its token count.
async function one(text, max, salt, onFirst) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...auth },
    body: JSON.stringify({ prompt: text, max_tokens: max, stream: true, temperature: 0, ignore_eos: true,
                           stream_options: { include_usage: true }, seed: salt }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const times = [];
  let tokens = 0, buf = "";
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 2);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") continue;
      const j = JSON.parse(data);
      if (j.usage) tokens = j.usage.completion_tokens;
      const c = j.choices?.[0];
      if (c && (c.text ?? c.delta?.content ?? "") !== "") {
        times.push(performance.now());
        if (times.length === 1) onFirst?.();
      }
    }
    if (Date.now() > deadline) throw new Error("timed out");
  }
  return { t0, times, tokens: tokens || times.length };
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const gaps = (times) => times.slice(1).map((t, i) => t - times[i]);

async function throughput() {
  let next = 0;
  const results = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    while (next < requests) {
      const k = next++;
      results.push(await one(prompt(promptWords, k), maxTokens, k));
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  const tokens = results.reduce((a, r) => a + r.tokens, 0);
  const ttft = results.map((r) => r.times[0] - r.t0), itl = results.flatMap((r) => gaps(r.times));
  return { clients, requests, max_tokens: maxTokens, wall_s: wall, tokens, tok_s: tokens / wall,
           ttft_p50_ms: pct(ttft, 50), ttft_p99_ms: pct(ttft, 99), itl_p50_ms: pct(itl, 50), itl_p99_ms: pct(itl, 99) };
}

async function longPrompt() {
  const streams = Array.from({ length: 4 }, (_, k) => one(prompt(promptWords, k), maxTokens, k));
  await new Promise((r) => setTimeout(r, +(args["delay-ms"] ?? 1500)));
  const tLong = performance.now();
  const long = await one(prompt(longWords, 99), 1, 99);
  const tFirst = long.times[0] ?? performance.now();
  const rs = await Promise.all(streams);
  const during = [], before = [];
  for (const r of rs)
    r.times.slice(1).forEach((t, i) => {
      const g = t - r.times[i];
      if (t > tLong && r.times[i] < tFirst) during.push(g);
      else if (t < tLong) before.push(g);
    });
  return { long_words: longWords, long_ttft_ms: tFirst - tLong, itl_before_p50_ms: pct(before, 50),
           itl_before_p99_ms: pct(before, 99), itl_during_p50_ms: pct(during, 50), itl_during_p99_ms: pct(during, 99),
           itl_during_max_ms: Math.max(...during), gaps_during: during.length };
}

// S streams run; K new prompts (none a prefix another request left in a cache) arrive one every --ramp-ms once each stream has its first token.
async function ramp() {
  const S = +(args.streams ?? 8), K = +(args.ramp ?? 8), every = +(args["ramp-ms"] ?? 500);
  const rampTokens = +(args["ramp-tokens"] ?? 32);
  const t0 = performance.now();
  let started = 0, release;
  const allStarted = new Promise((r) => { release = r; });
  const streams = Array.from({ length: S }, (_, k) =>
    one(`stream ${k}: ${prompt(promptWords, k)}`, maxTokens, k, () => { if (++started === S) release(); }));
  await Promise.race([allStarted, Promise.all(streams)]); /* a stream that fails ends the run */
  const tRamp = performance.now();
  const arrivals = [];
  for (let k = 0; k < K; k++) {
    if (k) await new Promise((r) => setTimeout(r, every));
    arrivals.push(one(`ramp ${k}: ${prompt(promptWords, 100 + k)}`, rampTokens, 100 + k)); /* no cached prefix */
  }
  const news = await Promise.all(arrivals);
  const tEnd = Math.max(...news.map((r) => r.times[0] ?? performance.now()));
  const old = await Promise.all(streams);
  const wall = (performance.now() - t0) / 1000;
  const all = [...old, ...news], tokens = all.reduce((a, r) => a + r.tokens, 0);
  const itl = all.flatMap((r) => gaps(r.times)), ttft = news.map((r) => r.times[0] - r.t0);
  const during = old.flatMap((r) => r.times.slice(1).map((t, i) => [t, t - r.times[i]]))
    .filter(([t]) => t > tRamp && t <= tEnd).map(([, g]) => g);
  return { streams: S, ramp: K, ramp_ms: every, wall_s: wall, tokens, tok_s: tokens / wall,
           itl_p50_ms: pct(itl, 50), itl_p99_ms: pct(itl, 99), itl_ramp_p99_ms: pct(during, 99),
           itl_ramp_max_ms: Math.max(...during), ttft_p50_ms: pct(ttft, 50), ttft_p99_ms: pct(ttft, 99) };
}

// ---- hostile clients ----------------------------------------------------------------
const target = new URL(url);
const port = +(target.port || 80), host = target.hostname;

// One slowloris connection until stop(): 1 when the server closed it.
function slowloris(stopped) {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let timer = null, done = false;
    const finish = (v) => { if (!done) { done = true; clearInterval(timer); s.destroy(); resolve(v); } };
    s.on("error", () => finish(1));
    s.on("close", () => finish(1));
    s.on("connect", () => {
      s.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\n");
      let n = 0;
      timer = setInterval(() => {
        if (stopped() || Date.now() > deadline) return finish(0);
        s.write(`X-Slow-${n++}: 1\r\n`);
      }, 300);
    });
  });
}

const SMUGGLE = [
  "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n",
  "Content-Length: 0\r\nContent-Length: 41\r\n\r\n",
  "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
];
// One attempt: 1 when the server answered once, with a 400.
function smuggle(k) {
  const hidden = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const req = `POST /v1/completions HTTP/1.1\r\nHost: x\r\n${key ? `Authorization: Bearer ${key}\r\n` : ""}` +
    SMUGGLE[k % SMUGGLE.length] + hidden;
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    let data = "";
    const t = setTimeout(() => s.destroy(), 10_000);
    s.on("connect", () => s.write(req));
    s.on("data", (d) => { data += d.toString("latin1"); });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(t);
      const statuses = [...data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      resolve(statuses.length === 1 && statuses[0] === "400" ? 1 : 0);
    });
  });
}

async function withHostile(load) {
  let stop = false, closedNow = 0;
  const t0 = Date.now(), minMs = 1000 * +(args["hostile-s"] ?? 0);
  const slow = Array.from({ length: hostile }, () => slowloris(() => stop).then((v) => (closedNow += v, v)));
  const smug = (async () => {
    let ok = 0, n = 0;
    while (!stop && Date.now() < deadline && n < 200) ok += await smuggle(n++);
    return { ok, n };
  })();
  const out = await load();
  /* --hostile-s S: the attack lasts at least S s, unless the server closed every slow connection */
  while (Date.now() < t0 + minMs && closedNow < hostile && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  stop = true;
  const closed = (await Promise.all(slow)).reduce((a, b) => a + b, 0);
  const sm = await smug;
  return { ...out, slowloris: hostile, slowloris_closed_by_server: closed, smuggling_attempts: sm.n,
           smuggling_refused: sm.ok };
}

const load = args.ramp ? ramp : longWords ? longPrompt : throughput;
const out = hostile ? await withHostile(load) : await load();
if (args.json) console.log(JSON.stringify(out));
else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(20)} ${typeof v === "number" ? +v.toFixed(2) : v}`);
if (hostile && out.smuggling_refused !== out.smuggling_attempts) process.exit(1);

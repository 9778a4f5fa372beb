// Helpers shared by serve_test.mjs and page_test.mjs: paths, the CLI that
// computes the expected outputs, starting and stopping `mistral serve`, raw
// HTTP requests, /metrics parsing. Every child process started here is killed
// when the test process exits, whatever happens.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.resolve(REPO, process.env.MISTRAL_BIN || "build/mistral");
export const STORIES = path.resolve(REPO, process.env.MISTRAL_STORIES || "../shared/models/stories260K");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Mistral's v3 tokenizer ([TOOL_CALLS] is a control token), for the tool-call suites.
export const SHARED = path.resolve(REPO, process.env.MISTRAL_SHARED || "../shared");
export const V3 = path.join(SHARED, "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3");

// Why the tool-call suites cannot run here, or false.
export function skipToolsReason() {
  return skipReason() ?? (fs.existsSync(V3) ? false : `${V3} is absent`);
}

// A tiny random model with the v3 tokenizer (mistral synth), and the serve
// arguments that go with it.
export function tinyV3() {
  const f = path.join(tmpDir(), "tiny-v3.gguf");
  cli(["synth", f, "--shape", "tiny", "--type", "f32", "--tokenizer", V3]);
  return { model: f, args: ["--tokenizer", V3, "--ctx", "1024", "--parallel", "4"] };
}

// Why the suite cannot run here (a message), or null.
export function skipReason() {
  if (!fs.existsSync(STORIES)) return `${STORIES} is absent: the serve tests need the stories260K model`;
  return null;
}

export function binaryMissing() {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} does not exist: build it first (make), or set MISTRAL_BIN`);
}

// ---- child processes: always cleaned up -----------------------------------
const children = new Set();
function killAll() {
  for (const c of children) {
    try { c.kill("SIGKILL"); } catch { /* already gone */ }
  }
  children.clear();
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => { killAll(); process.exit(130); });
}

// ---- temporary files --------------------------------------------------------
const tmpDirs = [];
export function tmpDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "mistral-serve-test-"));
  tmpDirs.push(d);
  return d;
}
process.on("exit", () => {
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

// ---- the CLI: expected outputs ---------------------------------------------
export function cli(args) {
  return execFileSync(BIN, args, {
    cwd: REPO, timeout: 60_000, maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"],
  });
}

const cache = new Map();
function memo(key, f) {
  if (!cache.has(key)) cache.set(key, f());
  return cache.get(key);
}

// Text of `mistral generate -m MODEL -p PROMPT -n N` (greedy).
export function cliGenerate(model, prompt, n) {
  return memo(JSON.stringify(["gen", model, prompt, n]), () =>
    cli(["generate", "-m", model, "-p", prompt, "-n", String(n)]).toString("utf8"));
}

// Token ids of PROMPT as the CLI's generate sees it (BOS first).
export function cliPromptIds(model, prompt) {
  return memo(JSON.stringify(["tokp", model, prompt]), () =>
    ids(cli(["tokenize", "-m", model, "--bos", "-p", prompt]).toString()));
}

export function cliTokenize(model, text, bos) {
  return ids(cli(["tokenize", "-m", model, ...(bos ? ["--bos"] : []), "-p", text]).toString());
}

function ids(s) {
  return s.trim().split(/\s+/).filter((x) => x.length).map(Number);
}

let chatFile = 0;
// The prompt ids of a chat request {"messages": [...]}, as `tokenize --chat` gives them.
export function cliChatIds(model, messages) {
  return memo(JSON.stringify(["tokc", model, messages]), () => {
    const f = path.join(tmpDir(), `chat${chatFile++}.json`);
    fs.writeFileSync(f, JSON.stringify({ messages }));
    return ids(cli(["tokenize", "-m", model, "--chat", f]).toString());
  });
}

// The greedy reply of a chat: {promptIds, text}.
export function cliChat(model, messages, n) {
  return memo(JSON.stringify(["chat", model, messages, n]), () => {
    const promptIds = cliChatIds(model, messages);
    const text = cli(["generate", "-m", model, "--tokens", promptIds.join(","), "-n", String(n)]).toString("utf8");
    return { promptIds, text };
  });
}

// ---- the server --------------------------------------------------------------
function tail(s, n = 40) {
  return s.split("\n").slice(-n).join("\n");
}

// Starts `mistral serve -m MODEL --host 127.0.0.1 --port 0 ...args`: the
// system picks a free port (no race with another server for it) and the
// server names it on its first line; then waits (at most healthTimeoutMs,
// as long as a loaded machine may need; a healthy server answers in well
// under a second) until GET /health is 200.
// Returns {port, url, base, apiKey, log(), stop()}.
export async function startServer(model, args = [], { apiKey = null, healthTimeoutMs = 120_000 } = {}) {
  binaryMissing();
  const argv = ["serve", "-m", model, "--host", "127.0.0.1", "--port", "0", ...args];
  if (apiKey) argv.push("--api-key", apiKey);
  const child = spawn(BIN, argv, { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
  children.add(child);
  let log = "";
  child.stderr.on("data", (d) => {
    log += d.toString();
    if (log.length > 1 << 20) log = log.slice(-(1 << 19));
    if (process.env.SERVE_LOG) process.stderr.write(d);
  });
  let exited = null, spawnErr = null;
  const exitP = new Promise((resolve) => child.on("exit", (code, signal) => {
    exited = { code, signal };
    children.delete(child);
    resolve(exited);
  }));
  child.on("error", (e) => { spawnErr = e; });
  const server = {
    port: null, base: null, url: null, apiKey, child, argv,
    log: () => log,
    exited: () => exited,
    // SIGTERM, then SIGKILL if it has not exited 30 s later (a server
    // ending its streams on a loaded machine can take a few seconds)
    async stop() {
      if (exited) return exited;
      child.kill("SIGTERM");
      let timer;
      const late = new Promise((r) => { timer = setTimeout(() => r(null), 30_000); });
      const r = await Promise.race([exitP, late]);
      clearTimeout(timer); // no timer left to hold the test process open
      if (r) return r;
      child.kill("SIGKILL");
      return exitP;
    },
  };
  const what = () => `${BIN} ${argv.join(" ")}\n${tail(log)}`;
  const deadline = Date.now() + healthTimeoutMs;
  let lastStatus = null;
  while (Date.now() < deadline && !exited && !spawnErr) {
    if (!server.port) {
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(log);
      if (!m) { await sleep(20); continue; }
      server.port = Number(m[1]);
      server.base = `http://127.0.0.1:${server.port}`;
      server.url = `${server.base}/v1`;
    }
    try {
      const r = await fetch(`${server.base}/health`, { signal: AbortSignal.timeout(5000) });
      lastStatus = r.status;
      const body = await r.text();
      if (r.status === 200) {
        let j = null;
        try { j = JSON.parse(body); } catch { /* checked below */ }
        if (!j || j.status !== "ok") throw new Error(`GET /health: 200 but body ${JSON.stringify(body)}, expected {"status":"ok"}`);
        return server;
      }
      if (r.status !== 503) throw new Error(`GET /health while loading: ${r.status}, expected 503 then 200`);
    } catch (e) {
      if (String(e.message).startsWith("GET /health")) { await server.stop(); throw e; }
      /* not answering yet */
    }
    await sleep(100);
  }
  if (spawnErr) throw new Error(`cannot start ${BIN}: ${spawnErr.message}`);
  if (exited) throw new Error(`mistral serve exited (code ${exited.code}, signal ${exited.signal}) before /health was 200: ${what()}`);
  await server.stop();
  throw new Error(server.port ? `GET /health not 200 within ${healthTimeoutMs} ms (last status ${lastStatus}): ${what()}`
    : `mistral serve did not say its port within ${healthTimeoutMs} ms: ${what()}`);
}

// ---- raw HTTP ------------------------------------------------------------------
// fetch with a timeout; body: an object (sent as JSON) or a string (sent as is).
// Returns {status, headers, text, json}.
export async function raw(server, method, p, body = undefined, { key = server.apiKey, timeoutMs = 30_000, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  let b;
  if (body !== undefined) {
    b = typeof body === "string" ? body : JSON.stringify(body);
    if (!h["content-type"]) h["content-type"] = "application/json";
  }
  const r = await fetch(server.base + p, { method, headers: h, body: b, signal: AbortSignal.timeout(timeoutMs) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

// ---- /metrics ------------------------------------------------------------------
// Prometheus text -> {name: value} (values of labelled series summed).
export function parseMetrics(text) {
  const m = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const r = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!r) continue;
    const v = Number(r[3]);
    m[r[1]] = (m[r[1]] ?? 0) + v;
  }
  return m;
}

export async function metrics(server) {
  const r = await raw(server, "GET", "/metrics");
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.text.slice(0, 200)}`);
  return { text: r.text, values: parseMetrics(r.text), contentType: r.headers.get("content-type") };
}

// `mistral serve --prompt-cache DIR` (issue 23, items 6 and 7): slots' KV
// states saved to disk and restored, across a restart too, with the same
// text and log-probabilities as a fresh prefill; damaged and foreign files
// ignored with one log line; the counters in /metrics. Run from the
// repository root:  node --test tests/serve/promptcache_test.mjs
//
// Nothing here depends on timing: the server saves its slots at shutdown
// (stop() waits for the exit) and when a slot is taken for another prompt.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { STORIES, skipReason, tmpDir, cli, cliGenerate, startServer, raw, metrics } from "./lib.mjs";

const SKIP = skipReason();
const PROMPT = "Once upon a time, there was a little";
const OTHER = "The cat sat on the mat and looked at the";
const N = 24;

function body(prompt) {
  return { model: "m", prompt, max_tokens: N, temperature: 0, logprobs: 3 };
}

async function complete(server, prompt) {
  const r = await raw(server, "POST", "/v1/completions", body(prompt));
  assert.equal(r.status, 200, r.text.slice(0, 300));
  return r.json;
}

function kvcFiles(dir) {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".kvc")).map((f) => path.join(dir, f)) : [];
}

// The prompt-cache series of /metrics, typed as they should be.
async function pcMetrics(server) {
  const { text, values } = await metrics(server);
  for (const [name, type] of [["mistral_prompt_cache_hits_total", "counter"], ["mistral_prompt_cache_misses_total", "counter"],
    ["mistral_prompt_cache_read_bytes_total", "counter"], ["mistral_prompt_cache_written_bytes_total", "counter"],
    ["mistral_prompt_cache_files", "gauge"], ["mistral_prompt_cache_bytes", "gauge"]]) {
    assert.ok(text.includes(`# TYPE ${name} ${type}\n`), `/metrics types ${name} as a ${type}`);
    assert.ok(Number.isFinite(values[name]), `/metrics has ${name}`);
  }
  return {
    hits: values.mistral_prompt_cache_hits_total, misses: values.mistral_prompt_cache_misses_total,
    read: values.mistral_prompt_cache_read_bytes_total, written: values.mistral_prompt_cache_written_bytes_total,
    files: values.mistral_prompt_cache_files, bytes: values.mistral_prompt_cache_bytes,
  };
}

function sameChoice(got, want, what) {
  assert.equal(got.text, want.text, `${what}: text`);
  assert.deepEqual(got.logprobs, want.logprobs, `${what}: log-probabilities`);
}

// A directory holding only a copy of file, damaged by f(bytes) -> bytes.
function dirWith(file, f) {
  const d = path.join(tmpDir(), "pc");
  fs.mkdirSync(d);
  fs.writeFileSync(path.join(d, path.basename(file)), f(fs.readFileSync(file)));
  return d;
}

describe("the prompt cache on disk", { skip: SKIP ?? false, timeout: 300_000 }, () => {
  const dir = path.join(tmpDir(), "pc");
  let fresh, saved; // the first reply (a fresh prefill), the file it left

  test("a request, a restart, the same prompt: a hit, the same text and log-probabilities", async () => {
    let s = await startServer(STORIES, ["--prompt-cache", dir]);
    try {
      fresh = (await complete(s, PROMPT)).choices[0];
      assert.equal(fresh.text, cliGenerate(STORIES, PROMPT, N), "the CLI's greedy text");
      const m = await pcMetrics(s);
      assert.equal(m.hits, 0);
      assert.equal(m.misses, 1);
    } finally {
      await s.stop();
    }
    const files = kvcFiles(dir);
    assert.equal(files.length, 1, `one file after the shutdown: ${files}`);
    saved = files[0];
    s = await startServer(STORIES, ["--prompt-cache", dir]);
    try {
      let m = await pcMetrics(s);
      assert.equal(m.files, 1, "the scan found the file");
      assert.equal(m.bytes, fs.statSync(saved).size);
      const r = await complete(s, PROMPT);
      sameChoice(r.choices[0], fresh, "restored");
      const ids = cli(["tokenize", "-m", STORIES, "--bos", "-p", PROMPT]).toString().trim().split(/\s+/);
      assert.equal(r.usage.prompt_tokens_details?.cached_tokens, ids.length - 1, "every prompt token but the last restored");
      m = await pcMetrics(s);
      assert.equal(m.hits, 1);
      assert.equal(m.read, fs.statSync(saved).size);
    } finally {
      await s.stop();
    }
  });

  test("one slot: another prompt evicts the state to disk, the first prompt again is a hit", async () => {
    const d = path.join(tmpDir(), "pc");
    const s = await startServer(STORIES, ["--prompt-cache", d, "--parallel", "1"]);
    try {
      const a = (await complete(s, PROMPT)).choices[0];
      sameChoice(a, fresh, "first");
      const b = (await complete(s, OTHER)).choices[0];
      assert.equal(b.text, cliGenerate(STORIES, OTHER, N));
      let m = await pcMetrics(s);
      assert.equal(m.files, 1, "the first prompt's state was saved when the slot was taken");
      assert.ok(m.written > 0);
      sameChoice((await complete(s, PROMPT)).choices[0], fresh, "restored from disk");
      m = await pcMetrics(s);
      assert.equal(m.hits, 1);
      assert.equal(m.files, 2, "the second prompt's state was saved in turn");
    } finally {
      await s.stop();
    }
  });

  test("with prompt lookup and n = 2: choice 0 restored, the other forked from it, the same text", async () => {
    const d = dirWith(saved, (b) => b);
    const s = await startServer(STORIES, ["--prompt-cache", d, "--lookup", "3", "--draft-policy", "always"]);
    try {
      const r = await raw(s, "POST", "/v1/completions", { ...body(PROMPT), n: 2 });
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(r.json.choices.length, 2);
      for (const c of r.json.choices) sameChoice(c, fresh, `choice ${c.index}`);
      const m = await pcMetrics(s);
      assert.equal(m.hits, 1, "choice 0's slot restored from the file, choice 1 copied from it (fork)");
    } finally {
      await s.stop();
    }
  });

  const damages = [
    ["truncated", (b) => b.subarray(0, b.length - 1000), /file size differs/],
    ["bytes flipped in the payload", (b) => { const c = Buffer.from(b); for (let i = 1; i <= 4; i++) c[c.length - 97 * i] ^= 0x5a; return c; }, /payload checksum/],
    ["bytes flipped in the header", (b) => { const c = Buffer.from(b); c[20] ^= 0xff; return c; }, /header checksum/],
  ];
  for (const [what, damage, why] of damages) {
    test(`a file ${what}: ignored with a log line, the output unchanged`, async () => {
      const d = dirWith(saved, damage);
      const s = await startServer(STORIES, ["--prompt-cache", d]);
      try {
        sameChoice((await complete(s, PROMPT)).choices[0], fresh, what);
        const m = await pcMetrics(s);
        assert.equal(m.hits, 0, "nothing restored");
        const lines = s.log().split("\n").filter((l) => l.includes("prompt cache:"));
        assert.equal(lines.length, 1, `one log line: ${lines}`);
        assert.match(lines[0], why);
        assert.match(lines[0], /ignored$/);
      } finally {
        await s.stop();
      }
    });
  }

  test("another model's file: ignored with a log line, left in place", async () => {
    const tdir = tmpDir();
    const moe = path.join(tdir, "tiny-moe.gguf");
    cli(["synth", moe, "--shape", "tiny-moe", "--type", "f32", "--tokenizer", path.join(STORIES, "tokenizer.model")]);
    const theirs = path.join(tdir, "pc");
    let s = await startServer(moe, ["--prompt-cache", theirs]);
    try {
      await complete(s, PROMPT);
    } finally {
      await s.stop();
    }
    const files = kvcFiles(theirs);
    assert.equal(files.length, 1, "the tiny MoE saved its state");
    const d = dirWith(files[0], (b) => b);
    s = await startServer(STORIES, ["--prompt-cache", d]);
    try {
      let m = await pcMetrics(s);
      assert.equal(m.files, 0, "not counted as this model's");
      sameChoice((await complete(s, PROMPT)).choices[0], fresh, "beside a foreign file");
      m = await pcMetrics(s);
      assert.equal(m.hits, 0);
      assert.match(s.log(), /prompt cache: .*: made by another model or with other settings; ignored/);
    } finally {
      await s.stop();
    }
    assert.ok(fs.existsSync(path.join(d, path.basename(files[0]))), "the other model's file stays");
  });

  test("--prompt-cache-size bounds the directory; bad values are errors", async () => {
    const size = fs.statSync(saved).size;
    const d = path.join(tmpDir(), "pc");
    const s = await startServer(STORIES, ["--prompt-cache", d, "--parallel", "1", "--prompt-cache-size", String(Math.floor(size * 1.5))]);
    try {
      await complete(s, PROMPT);
      await complete(s, OTHER);
      await complete(s, PROMPT);
      const m = await pcMetrics(s);
      assert.ok(m.bytes <= size * 1.5, `${m.bytes} bytes within the bound`);
      assert.equal(m.files, 1);
    } finally {
      await s.stop();
    }
    for (const args of [["--prompt-cache-size", "12X", "--prompt-cache", d], ["--prompt-cache-size", "1G"]]) {
      assert.throws(() => cli(["serve", "-m", STORIES, "--port", "0", ...args]), (e) => {
        assert.equal(e.status, 2, `exit status 2 for ${args.join(" ")}`);
        assert.match(e.stderr.toString(), /prompt-cache/);
        return true;
      });
    }
    const notDir = path.join(tmpDir(), "a-file");
    fs.writeFileSync(notDir, "x");
    assert.throws(() => cli(["serve", "-m", STORIES, "--port", "0", "--prompt-cache", notDir]), (e) => {
      assert.equal(e.status, 1, "exit status 1 for a directory that is a file");
      assert.match(e.stderr.toString(), /^mistral: prompt cache .*a-file: Not a directory$/m);
      return true;
    });
  });
});

// The ramp scheduler keeps exactness: with --max-itl-ms each step's prompt
// tokens come from the measured step times (gen/stepcost.h), so how a
// prompt is chunked and what rides beside it change from run to run; a
// request's tokens must not. 8 streams run, then 8 requests with long
// prompts arrive one after another (the k-th once the first stream has sent
// 3k more chunks: ordered by events, never by time), greedy and seeded,
// streaming and not; each answer equals the same request alone on the same
// server, and the greedy ones the CLI's. Run from the repository root:
//   node --test tests/serve/ramp_test.mjs
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { BIN, STORIES, skipReason, startServer, cli, binaryMissing } from "./lib.mjs";

const SKIP = skipReason();
if (SKIP) console.log(`# ramp_test: skipped: ${SKIP}`);

const STORY = "Once upon a time there was a little girl named Lily. She liked to play in the park with her dog. ";

// 8 running streams and 8 arrivals: {body, stream}
function requests() {
  const reqs = [];
  for (let i = 0; i < 16; i++) {
    const arriving = i >= 8;
    const body = {
      model: "m",
      prompt: arriving ? `${i}. ${STORY.repeat(4 + (i % 5))}` : ["Once upon a time", "Lily wanted to", "The little dog", "Tom had a"][i % 4],
      max_tokens: arriving ? 12 + (i % 4) * 5 : 90,
      ignore_eos: true,
    };
    if (i % 3 === 1) body.temperature = 0.9, body.seed = 500 + i;
    reqs.push({ body, stream: i % 2 === 0 || !arriving });
  }
  return reqs;
}

// The answer's text; onChunk(n) after each streamed text chunk.
async function ask(srv, { body, stream }, onChunk = () => {}) {
  const res = await fetch(`${srv.url}/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, stream }),
    signal: AbortSignal.timeout(120_000),
  });
  assert.equal(res.status, 200, await res.clone().text());
  if (!stream) return (await res.json()).choices[0].text;
  let text = "", buf = "", n = 0;
  const dec = new TextDecoder();
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 2);
      if (!line.startsWith("data:") || line.slice(5).trim() === "[DONE]") continue;
      const t = JSON.parse(line.slice(5)).choices?.[0]?.text ?? "";
      if (t) text += t, onChunk(++n);
    }
  }
  return text;
}

// The 16 answers with the 8 arrivals ramped in while the 8 streams run.
async function underRamp(srv, reqs) {
  const waiters = []; // [chunks, resolve]: stream 0 reached `chunks` (or ended)
  let seen = 0;
  const wake = () => {
    for (const w of waiters) if (w[0] <= seen) w[1]();
  };
  const reached = (chunks) => new Promise((r) => { waiters.push([chunks, r]); wake(); });
  const running = reqs.slice(0, 8).map((q, k) =>
    ask(srv, q, k === 0 ? (n) => { seen = n; wake(); } : undefined));
  running[0].then(() => { seen = Infinity; wake(); }, () => { seen = Infinity; wake(); });
  const arriving = [];
  for (let k = 0; k < 8; k++) {
    await reached(3 * (k + 1));
    arriving.push(ask(srv, reqs[8 + k]));
  }
  return [...(await Promise.all(running)), ...(await Promise.all(arriving))];
}

const CONFIGS = [
  { name: "a 1 ms target (budgets from the fit, down to 2 tokens)", args: ["--max-itl-ms", "1", "--batch-tokens", "8"] },
  { name: "the default target", args: [] },
  { name: "the fixed budget (--max-itl-ms 0)", args: ["--max-itl-ms", "0", "--batch-tokens", "16"] },
];

describe("mistral serve: the ramp scheduler keeps exactness", { skip: SKIP ?? false, timeout: 600_000 }, () => {
  const servers = [];
  after(async () => { for (const s of servers) await s.stop(); });

  for (const cfg of CONFIGS) {
    test(`${cfg.name}: each request under the ramp = alone`, { timeout: 300_000 }, async () => {
      const srv = await startServer(STORIES, ["--parallel", "16", "--ctx", "1024", ...cfg.args]);
      servers.push(srv);
      const reqs = requests();
      const alone = [];
      for (const q of reqs) alone.push(await ask(srv, q));
      for (const [i, q] of reqs.entries()) {
        if (q.body.temperature) continue;
        const want = cli(["generate", "-m", STORIES, "-p", q.body.prompt, "-n", String(q.body.max_tokens), "--ignore-eos"]);
        assert.equal(alone[i], want.toString("utf8"), `request ${i} alone vs the CLI`);
      }
      for (let round = 0; round < 2; round++) {
        const together = await underRamp(srv, reqs);
        for (let i = 0; i < reqs.length; i++)
          assert.equal(together[i], alone[i], `round ${round}: request ${i} (${JSON.stringify(reqs[i])}) under the ramp vs alone`);
      }
    });
  }

  test("--max-itl-ms takes a number of milliseconds: one line and exit 2 otherwise", () => {
    binaryMissing();
    for (const bad of ["abc", "-5", "60001"]) {
      const r = spawnSync(BIN, ["serve", "-m", STORIES, "--port", "0", "--max-itl-ms", bad], { encoding: "utf8", timeout: 30_000 });
      assert.equal(r.status, 2, `--max-itl-ms ${bad}: exit ${r.status}, stderr ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
      assert.match(r.stderr, /--max-itl-ms/);
    }
  });
});

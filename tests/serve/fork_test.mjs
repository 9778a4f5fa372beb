// n > 1 in `mistral serve` prefills the prompt once and copies its KV cache
// into the other choices' slots (server/engine.h). The choices must be
// exactly what they were when each prefilled its own prompt: choice c of a
// request with seed s is the n = 1 request with seed s + c (which never
// forks), and greedy choices are the CLI's text. Streaming and not, chat and
// completions, a prompt already cached (the fork without a prefill), a
// prompt past a sliding window of 16 (a rolled cache copied), under load,
// with speculation, and a cancelled fork that frees its slots. Run from the
// repository root:
//   node --test tests/serve/fork_test.mjs
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { STORIES, skipReason, startServer, metrics, cli, cliGenerate, cliChat, sleep } from "./lib.mjs";

const SKIP = skipReason();
if (SKIP) console.log(`# fork_test: skipped: ${SKIP}`);

const PROMPT = "Once upon a time, there was a little girl named Lily. She loved to play";
const LONG = "Tom and Sue went to the park. They saw a big tree and a red ball. Tom said, \"Let us play with the " +
  "ball.\" Sue was happy. They played all day, and then they went home to eat with mom and dad. The next day";
const MESSAGES = [{ role: "user", content: "Tell me a story about a cat and a dog." }];
const N = 40;
const SEEDED = { temperature: 0.9, top_p: 0.95 };

const client = (srv) => new OpenAI({ baseURL: srv.url, apiKey: "none", maxRetries: 0, timeout: 120_000 });

// The texts of every choice, by index, and the usage.
async function ask(srv, body, { stream = false } = {}) {
  const oa = client(srv);
  const chat = body.messages !== undefined;
  const api = chat ? oa.chat.completions : oa.completions;
  if (!stream) {
    const r = await api.create({ model: "m", ...body });
    return { texts: [...r.choices].sort((a, b) => a.index - b.index).map((c) => chat ? c.message.content : c.text), usage: r.usage };
  }
  const s = await api.create({ model: "m", ...body, stream: true, stream_options: { include_usage: true } });
  const texts = [];
  let usage = null;
  for await (const c of s) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices ?? []) texts[ch.index] = (texts[ch.index] ?? "") + (chat ? (ch.delta?.content ?? "") : (ch.text ?? ""));
  }
  return { texts, usage };
}

// What each choice was before forks: n = 1 requests with seeds s, s + 1, ...
async function alone(srv, body, n) {
  const out = [];
  for (let c = 0; c < n; c++) out.push((await ask(srv, { ...body, n: 1, ...(body.seed !== undefined ? { seed: body.seed + c } : {}) })).texts[0]);
  return out;
}

const forked = async (srv) => (await metrics(srv)).values.mistral_forked_prompt_tokens_total;

describe("mistral serve: n > 1 forks the prompt's KV cache", { skip: SKIP ?? false, timeout: 600_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(STORIES, ["--ctx", "512", "--parallel", "6"]); });
  after(async () => { await srv?.stop(); });

  test("greedy: every choice is the CLI's text (completions and chat, streaming and not)", async () => {
    const want = cliGenerate(STORIES, PROMPT, N);
    const chatWant = cliChat(STORIES, MESSAGES, N).text;
    for (const stream of [false, true]) {
      const c = await ask(srv, { prompt: PROMPT, max_tokens: N, n: 3 }, { stream });
      assert.deepEqual(c.texts, [want, want, want], `completions, stream ${stream}`);
      const m = await ask(srv, { messages: MESSAGES, max_tokens: N, n: 3 }, { stream });
      assert.deepEqual(m.texts, [chatWant, chatWant, chatWant], `chat, stream ${stream}`);
    }
  });

  test("seeded: choice c is the n = 1 request with seed + c, and the CLI's", async () => {
    for (const [i, body] of [
      { prompt: PROMPT, max_tokens: N, ...SEEDED, seed: 42 },
      { messages: MESSAGES, max_tokens: N, ...SEEDED, seed: 7 },
      { prompt: LONG, max_tokens: N, temperature: 0.8, seed: 1000 },
    ].entries()) {
      const want = await alone(srv, body, 4);
      assert.ok(new Set(want).size >= 2, `request ${i}: the seeds should give different samples: ${JSON.stringify(want)}`);
      for (const stream of [false, true]) {
        const got = await ask(srv, { ...body, n: 4 }, { stream });
        assert.deepEqual(got.texts, want, `request ${i}, stream ${stream}: the n = 4 choices differ from n = 1 requests`);
      }
    }
    const cliText = cli(["generate", "-m", STORIES, "-p", PROMPT, "-n", String(N), "--temperature", "0.9", "--top-p", "0.95",
      "--seed", "44"]).toString("utf8");
    const got = await ask(srv, { prompt: PROMPT, max_tokens: N, ...SEEDED, seed: 42, n: 3 });
    assert.equal(got.texts[2], cliText, "choice 2 of seed 42 is the CLI's --seed 44");
  });

  test("/metrics counts the positions copied: (n - 1) x (prompt - 1); the same prompt again forks from the cache", async () => {
    const one = await ask(srv, { prompt: LONG, max_tokens: 4, n: 1 });
    const P = one.usage.prompt_tokens;
    assert.ok(P > 40, `prompt of ${P} tokens`);
    let before = await forked(srv);
    await ask(srv, { prompt: LONG, max_tokens: 4, n: 1 });
    assert.equal(await forked(srv), before, "n = 1 forks nothing");
    const a = await ask(srv, { prompt: LONG, max_tokens: 12, n: 3, temperature: 1, seed: 5 });
    assert.equal(await forked(srv), before + 2 * (P - 1), "n = 3 copies the prompt but its last token twice");
    before = await forked(srv);
    // the slots now hold LONG: choice 0 reuses it all and forks at once
    const b = await ask(srv, { prompt: LONG, max_tokens: 12, n: 3, temperature: 1, seed: 5 }, { stream: true });
    assert.deepEqual(b.texts, a.texts, "a fork from a cached prompt gives the same choices");
    assert.equal(await forked(srv), before + 2 * (P - 1));
  });

  test("under load: n = 3 beside other requests gives what it gets alone", async () => {
    const bodies = [
      { prompt: PROMPT, max_tokens: N, n: 3, ...SEEDED, seed: 11 },
      { prompt: LONG, max_tokens: 30, n: 1 },
      { messages: MESSAGES, max_tokens: 30, n: 2, temperature: 0.7, seed: 3 },
    ];
    const want = [];
    for (const b of bodies) want.push((await ask(srv, b)).texts);
    for (let round = 0; round < 2; round++) {
      const got = await Promise.all(bodies.map((b, i) => ask(srv, b, { stream: (i + round) % 2 === 0 })));
      got.forEach((g, i) => assert.deepEqual(g.texts, want[i], `request ${i}, round ${round}`));
    }
  });

  test("a fork cancelled during its prefill frees every slot; the next request is right", async () => {
    const ac = new AbortController();
    const oa = client(srv);
    const s = await oa.completions.create({ model: "m", prompt: LONG.repeat(4), max_tokens: 150, n: 3, stream: true },
      { signal: ac.signal });
    ac.abort();
    await (async () => { try { for await (const _ of s) break; } catch { /* aborted */ } })();
    // the engine frees the slots of a request whose client left (polled, no timing assumed)
    for (let i = 0; ; i++) {
      if ((await metrics(srv)).values.mistral_busy_slots === 0) break;
      assert.ok(i < 1200, "the cancelled request still holds slots");
      await sleep(50);
    }
    const want = cliGenerate(STORIES, PROMPT, N);
    assert.deepEqual((await ask(srv, { prompt: PROMPT, max_tokens: N, n: 6 })).texts, Array(6).fill(want));
  });
});

describe("mistral serve: forks of a rolled cache (--sliding-window 16) and with speculation", { skip: SKIP ?? false, timeout: 600_000 }, () => {
  test("a prompt past the window: choices equal n = 1 requests and the CLI's --sliding-window 16", async () => {
    const srv = await startServer(STORIES, ["--ctx", "512", "--parallel", "4", "--sliding-window", "16"]);
    try {
      const want = cli(["generate", "-m", STORIES, "-p", LONG, "-n", String(N), "--sliding-window", "16"]).toString("utf8");
      assert.deepEqual((await ask(srv, { prompt: LONG, max_tokens: N, n: 3 })).texts, [want, want, want]);
      const body = { prompt: LONG, max_tokens: N, ...SEEDED, seed: 77 };
      const single = await alone(srv, body, 3);
      for (const stream of [false, true])
        assert.deepEqual((await ask(srv, { ...body, n: 3 }, { stream })).texts, single, `stream ${stream}`);
    } finally {
      await srv.stop();
    }
  });

  test("--lookup 2 --draft-policy always: the same choices as the plain server's", async () => {
    const plain = await startServer(STORIES, ["--ctx", "512", "--parallel", "4"]);
    const spec = await startServer(STORIES, ["--ctx", "512", "--parallel", "4", "--lookup", "2", "--draft-policy", "always"]);
    try {
      for (const body of [
        { prompt: LONG, max_tokens: N, n: 3, ...SEEDED, seed: 9 },
        { messages: MESSAGES, max_tokens: N, n: 4 },
      ]) {
        const want = await alone(plain, body, body.n);
        for (const stream of [false, true]) assert.deepEqual((await ask(spec, body, { stream })).texts, want, `stream ${stream}`);
      }
    } finally {
      await plain.stop();
      await spec.stop();
    }
  });
});

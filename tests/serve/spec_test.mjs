// Speculative decoding in `mistral serve` (--lookup N, --draft MODEL): every
// answer equals the plain server's, token for token (greedy and seeded,
// streaming and not, chat and completions, guided by a response_format), with
// 8 concurrent clients; usage and /metrics count drafted and accepted tokens
// consistently. Run from the repository root:
//   node --test tests/serve/spec_test.mjs
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { STORIES, skipReason, startServer, metrics, sleep } from "./lib.mjs";

const SKIP = skipReason();
if (SKIP) console.log(`# spec_test: skipped: ${SKIP}`);

const COMMON = ["--ctx", "1024", "--parallel", "8"];
const REPEAT = "The cat sat on the mat. The dog sat on the log. The cat sat on the mat. The dog";

// 8 requests of every kind: {chat, stream, body}
function requests() {
  const seeded = { temperature: 0.8, top_p: 0.9 };
  return [
    { chat: false, stream: false, body: { prompt: "Once upon a time", max_tokens: 80 } },
    { chat: false, stream: true, body: { prompt: REPEAT, max_tokens: 60 } },
    { chat: false, stream: false, body: { prompt: "Lily wanted to", max_tokens: 70, ...seeded, seed: 7 } },
    { chat: false, stream: true, body: { prompt: REPEAT, max_tokens: 50, ...seeded, seed: 11 } },
    { chat: true, stream: false, body: { messages: [{ role: "user", content: "Tell me a story about a cat." }], max_tokens: 60 } },
    { chat: true, stream: true, body: { messages: [{ role: "user", content: REPEAT }], max_tokens: 60, ...seeded, seed: 3 } },
    { chat: true, stream: false, body: { messages: [{ role: "user", content: "A red ball." }], max_tokens: 40,
      response_format: { type: "json_object" } } },
    { chat: false, stream: true, body: { prompt: "The little dog", max_tokens: 64, n: 2, ...seeded, seed: 21 } },
  ];
}

// {texts: [choice texts], usage}
async function ask(client, q) {
  const api = q.chat ? client.chat.completions : client.completions;
  if (!q.stream) {
    const r = await api.create({ model: "m", ...q.body });
    return { texts: r.choices.sort((a, b) => a.index - b.index).map((c) => q.chat ? c.message.content : c.text), usage: r.usage };
  }
  const s = await api.create({ model: "m", ...q.body, stream: true, stream_options: { include_usage: true } });
  const texts = [];
  let usage = null;
  for await (const c of s) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices ?? []) texts[ch.index] = (texts[ch.index] ?? "") + (q.chat ? (ch.delta?.content ?? "") : (ch.text ?? ""));
  }
  return { texts, usage };
}

const client = (srv) => new OpenAI({ baseURL: srv.url, apiKey: "none", maxRetries: 0, timeout: 120_000 });

describe("mistral serve: speculative decoding", { skip: SKIP ?? false, timeout: 300_000 }, () => {
  let plain, want;
  before(async () => {
    plain = await startServer(STORIES, COMMON);
    want = [];
    for (const q of requests()) want.push(await ask(client(plain), q)); // one at a time
  });
  after(async () => { await plain?.stop(); });

  for (const [name, args] of [
    ["--lookup 2 --draft-policy always", ["--lookup", "2", "--draft-policy", "always"]],
    ["--draft (itself) --draft-max 4 --draft-policy always", ["--draft", STORIES, "--draft-max", "4", "--draft-policy", "always"]],
    ["--lookup 3 (auto)", ["--lookup", "3"]],
  ]) {
    test(`${name}: 8 concurrent clients get the plain answers; usage and /metrics agree`, async () => {
      const srv = await startServer(STORIES, [...COMMON, ...args]);
      try {
        const c = client(srv);
        for (let round = 0; round < 2; round++) { // the second round reuses the slots' prefixes
          const got = await Promise.all(requests().map((q) => ask(c, q)));
          let drafted = 0, accepted = 0;
          got.forEach((g, i) => {
            assert.deepEqual(g.texts, want[i].texts, `request ${i} (round ${round}) differs from the plain server's`);
            const d = g.usage?.completion_tokens_details;
            assert.ok(d, `request ${i}: usage.completion_tokens_details is missing: ${JSON.stringify(g.usage)}`);
            assert.ok(Number.isInteger(d.accepted_prediction_tokens) && d.accepted_prediction_tokens >= 0);
            assert.ok(Number.isInteger(d.rejected_prediction_tokens) && d.rejected_prediction_tokens >= 0);
            assert.ok(d.accepted_prediction_tokens < g.usage.completion_tokens, "an accepted draft is a completion token, never the first");
            drafted += d.accepted_prediction_tokens + d.rejected_prediction_tokens;
            accepted += d.accepted_prediction_tokens;
          });
          const m = (await metrics(srv)).values;
          assert.ok(m.mistral_draft_accepted_tokens_total <= m.mistral_draft_tokens_total);
          if (round === 1) {
            if (args.includes("always")) {
              assert.ok(drafted > 0, "every step drafts: some drafts were made");
              assert.ok(m.mistral_draft_steps_total > 0);
            }
            if (args.includes("--draft")) assert.ok(accepted > 0, "a model drafting for itself gets its greedy drafts accepted");
          }
          assert.ok(m.mistral_draft_tokens_total >= drafted && m.mistral_draft_accepted_tokens_total >= accepted);
        }
      } finally {
        await srv.stop();
      }
    });
  }

  test("a cancelled speculative stream leaves no drafts behind: the same prompt again is the plain answer", async () => {
    const srv = await startServer(STORIES, [...COMMON, "--lookup", "1", "--draft-policy", "always"]);
    try {
      const c = client(srv);
      const q = requests()[1];
      const ac = new AbortController();
      const s = await c.completions.create({ model: "m", ...q.body, max_tokens: 200, stream: true }, { signal: ac.signal });
      let n = 0;
      try {
        for await (const _ of s) if (++n === 12) ac.abort();
      } catch { /* aborted */ }
      for (let i = 0; i < 100 && (await metrics(srv)).values.mistral_busy_slots > 0; i++) await sleep(50);
      const again = await ask(c, q);
      assert.deepEqual(again.texts, want[1].texts);
      assert.ok(again.usage.prompt_tokens_details.cached_tokens > 0, "the prefix was reused");
    } finally {
      await srv.stop();
    }
  });

  test("--draft with a different vocabulary is refused with one line", async () => {
    await assert.rejects(startServer(STORIES, [...COMMON, "--draft", "tests/data/tiny/dense_sw8_f32"], { healthTimeoutMs: 20_000 }),
      /vocabulary has 256 tokens, the model's 512/);
  });
});

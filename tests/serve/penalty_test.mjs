// presence_penalty and frequency_penalty (OpenAI's), repeat_penalty and
// repeat_last_n (llama-server's names for llama.cpp's) in `mistral serve`:
// the text equals the CLI's with the same flags (greedy and seeded, chat and
// completions, streaming and not), a frequency
// penalty makes stories260K repeat itself less and a negative one more, a
// penalized request gives the same tokens under load and with speculation
// (the counts follow the accepted tokens), also guided by response_format
// (penalties come before the mask), Mistral's client sends them, and
// values outside [-2, 2] are a 400 naming the field. Run from the repository
// root:
//   node --test tests/serve/penalty_test.mjs
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { Mistral } from "@mistralai/mistralai";
import { STORIES, skipReason, startServer, raw, cli, cliChatIds, cliPromptIds } from "./lib.mjs";

const SKIP = skipReason();
if (SKIP) console.log(`# penalty_test: skipped: ${SKIP}`);

const PROMPT = "Once upon a time";
const MESSAGES = [{ role: "user", content: "Tell me a story about a red ball." }];
const N = 80;

// The CLI's text for the prompt ids (`generate --tokens`), with flags.
const cliText = (ids, flags) =>
  cli(["generate", "-m", STORIES, "--tokens", ids.join(","), "-n", String(N), ...flags]).toString("utf8");
const cliIds = (ids, flags) =>
  cli(["generate", "-m", STORIES, "--tokens", ids.join(","), "-n", String(N), "--ids", ...flags]).toString()
    .trim().split(/[\s,]+/).filter((x) => x.length).map(Number);

// Tokens that occur again: sum over tokens of (count - 1).
function repeats(ids) {
  const c = new Map();
  for (const t of ids) c.set(t, (c.get(t) ?? 0) + 1);
  let r = 0;
  for (const v of c.values()) r += v - 1;
  return r;
}

const client = (srv) => new OpenAI({ baseURL: srv.url, apiKey: "none", maxRetries: 0, timeout: 120_000 });

async function ask(srv, body, stream = false) {
  const oa = client(srv);
  const chat = body.messages !== undefined;
  const api = chat ? oa.chat.completions : oa.completions;
  if (!stream) {
    const r = await api.create({ model: "m", max_tokens: N, ...body });
    return chat ? r.choices[0].message.content : r.choices[0].text;
  }
  let text = "";
  for await (const c of await api.create({ model: "m", max_tokens: N, ...body, stream: true }))
    for (const ch of c.choices ?? []) text += chat ? (ch.delta?.content ?? "") : (ch.text ?? "");
  return text;
}

// [server body fields, the CLI's flags]
const CASES = [
  [{ frequency_penalty: 2 }, ["--frequency-penalty", "2"]],
  [{ presence_penalty: 1.5 }, ["--presence-penalty", "1.5"]],
  [{ presence_penalty: -0.5, frequency_penalty: 0.7, temperature: 0.8, seed: 3 },
    ["--presence-penalty", "-0.5", "--frequency-penalty", "0.7", "--temperature", "0.8", "--seed", "3"]],
  [{ repeat_penalty: 1.3, repeat_last_n: 32 }, ["--repeat-penalty", "1.3", "--repeat-last-n", "32"]],
  [{ repeat_penalty: 1.2, frequency_penalty: 0.4, temperature: 1, seed: 11, top_k: 40 },
    ["--repeat-penalty", "1.2", "--frequency-penalty", "0.4", "--temperature", "1", "--seed", "11", "--top-k", "40"]],
];

describe("mistral serve: presence, frequency and repeat penalties", { skip: SKIP ?? false, timeout: 600_000 }, () => {
  let srv, promptIds, chatIds;
  before(async () => {
    srv = await startServer(STORIES, ["--ctx", "512", "--parallel", "6"]);
    promptIds = cliPromptIds(STORIES, PROMPT);
    chatIds = cliChatIds(STORIES, MESSAGES);
  });
  after(async () => { await srv?.stop(); });

  test("the text equals the CLI's with the same flags (completions and chat, streaming and not)", async () => {
    for (const [body, flags] of CASES) {
      const want = cliText(promptIds, flags), chatWant = cliText(chatIds, flags);
      for (const stream of [false, true]) {
        assert.equal(await ask(srv, { prompt: PROMPT, ...body }, stream), want, `${JSON.stringify(body)} stream ${stream}`);
        assert.equal(await ask(srv, { messages: MESSAGES, ...body }, stream), chatWant, `chat ${JSON.stringify(body)} stream ${stream}`);
      }
    }
  });

  test("frequency_penalty 2 repeats less than none, -2 more; the CLI's -p and --tokens agree", async () => {
    const plain = cliIds(promptIds, []), less = cliIds(promptIds, ["--frequency-penalty", "2"]);
    const more = cliIds(promptIds, ["--frequency-penalty", "-2"]);
    assert.equal(plain.length, N);
    assert.ok(repeats(less) < repeats(plain), `repeats: ${repeats(less)} with 2, ${repeats(plain)} without`);
    assert.ok(repeats(more) > repeats(plain), `repeats: ${repeats(more)} with -2, ${repeats(plain)} without`);
    const text = cli(["generate", "-m", STORIES, "-p", PROMPT, "-n", String(N), "--frequency-penalty", "2"]).toString("utf8");
    assert.equal(text, cliText(promptIds, ["--frequency-penalty", "2"]));
    assert.notEqual(await ask(srv, { prompt: PROMPT, frequency_penalty: 2 }), await ask(srv, { prompt: PROMPT }));
  });

  test("with response_format json_object: penalized before the mask (the CLI's --json too)", async () => {
    const rf = { type: "json_object" };
    const plain = await ask(srv, { prompt: PROMPT, response_format: rf });
    const got = await ask(srv, { prompt: PROMPT, frequency_penalty: 1, response_format: rf });
    assert.ok(got.startsWith("{"), got);
    assert.notEqual(got, plain, "the penalty should change the guided text");
    assert.equal(await ask(srv, { prompt: PROMPT, frequency_penalty: 1, response_format: rf }, true), got, "streaming");
    const cliPlain = cliText(promptIds, ["--json"]), cliPen = cliText(promptIds, ["--json", "--frequency-penalty", "1"]);
    assert.ok(cliPen.startsWith("{") && cliPen !== cliPlain, `CLI --json: ${cliPen}`);
  });

  test("under load and in n > 1: each request and choice as alone", async () => {
    const bodies = CASES.map(([b], i) => (i % 2 ? { messages: MESSAGES, ...b } : { prompt: PROMPT, ...b }));
    const want = [];
    for (const b of bodies) want.push(await ask(srv, b));
    const got = await Promise.all(bodies.map((b, i) => ask(srv, b, i % 2 === 0)));
    got.forEach((g, i) => assert.equal(g, want[i], `request ${i}`));
    // n = 3: choice c is the n = 1 request with seed + c (each choice counts its own tokens)
    const r = await client(srv).completions.create({ model: "m", prompt: PROMPT, max_tokens: N, n: 3, temperature: 0.9,
      seed: 20, frequency_penalty: 1 });
    const texts = [...r.choices].sort((a, b) => a.index - b.index).map((c) => c.text);
    for (let c = 0; c < 3; c++)
      assert.equal(texts[c], await ask(srv, { prompt: PROMPT, temperature: 0.9, seed: 20 + c, frequency_penalty: 1 }), `choice ${c}`);
  });

  test("speculation (--lookup 2 --draft-policy always) keeps the penalized tokens", async () => {
    const spec = await startServer(STORIES, ["--ctx", "512", "--parallel", "4", "--lookup", "2", "--draft-policy", "always"]);
    try {
      for (const [body, flags] of CASES) {
        const want = cliText(promptIds, flags);
        assert.equal(await ask(spec, { prompt: PROMPT, ...body }), want, JSON.stringify(body));
        assert.equal(await ask(spec, { prompt: PROMPT, ...body }, true), want, `${JSON.stringify(body)}, streaming`);
      }
      const guided = { prompt: PROMPT, frequency_penalty: 1, response_format: { type: "json_object" } };
      assert.equal(await ask(spec, guided), await ask(srv, guided), "guided and penalized");
    } finally {
      await spec.stop();
    }
  });

  test("Mistral's client sends presencePenalty and frequencyPenalty", async () => {
    const mc = new Mistral({ serverURL: srv.base, apiKey: "none" });
    const r = await mc.chat.complete({ model: "m", messages: MESSAGES, maxTokens: N, temperature: 0, presencePenalty: 1.5,
      frequencyPenalty: 0.5 });
    assert.equal(r.choices[0].message.content, cliText(chatIds, ["--presence-penalty", "1.5", "--frequency-penalty", "0.5"]));
  });

  test("out of range or not a number: 400 naming the field", async () => {
    for (const [path, body, field] of [
      ["/v1/completions", { model: "m", prompt: PROMPT, presence_penalty: 2.5 }, "presence_penalty"],
      ["/v1/completions", { model: "m", prompt: PROMPT, frequency_penalty: -2.01 }, "frequency_penalty"],
      ["/v1/chat/completions", { model: "m", messages: MESSAGES, frequency_penalty: "1" }, "frequency_penalty"],
      ["/v1/chat/completions", { model: "m", messages: MESSAGES, repeat_penalty: -1 }, "repeat_penalty"],
      ["/v1/chat/completions", { model: "m", messages: MESSAGES, repeat_last_n: 2.5 }, "repeat_last_n"],
    ]) {
      const r = await raw(srv, "POST", path, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json?.error?.param, field, r.text);
      assert.match(r.json.error.message, new RegExp(field));
    }
    const ok = await raw(srv, "POST", "/v1/completions", { model: "m", prompt: PROMPT, max_tokens: 4, presence_penalty: -2, frequency_penalty: 2 });
    assert.equal(ok.status, 200, ok.text);
  });

  test("the CLI refuses a penalty out of range with one line", () => {
    let err = null;
    try {
      cli(["generate", "-m", STORIES, "-p", PROMPT, "-n", "4", "--presence-penalty", "3"]);
    } catch (e) {
      err = e;
    }
    assert.ok(err, "--presence-penalty 3 was accepted");
    assert.notEqual(err.status, 0);
    assert.match(err.stderr.toString(), /presence penalty 3 out of range/);
    assert.equal(err.stderr.toString().trim().split("\n").length, 1, err.stderr.toString());
  });
});

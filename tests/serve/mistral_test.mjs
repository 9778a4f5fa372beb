// Mistral's dialect on `mistral serve` through the official
// @mistralai/mistralai client: fim.complete / fim.stream (/v1/fim/completions),
// chat.complete / chat.stream with safePrompt, randomSeed and prefix,
// models.list. Run from the
// repository root:
//   node --test tests/serve/mistral_test.mjs
// Env: as serve_test.mjs; MISTRAL_SHARED (default ../shared) holds Mistral's
// v3 tokenizer ([SUFFIX]/[PREFIX] tokens; skipped without it).
//
// Expected outputs come from the CLI: a greedy FIM reply == `mistral
// generate --tokens` of mistral-common's FIM ids ([BOS] [SUFFIX] suffix
// without its leading space [PREFIX] prompt), written here from `mistral
// tokenize`; safe_prompt == the documented system prompt as a first
// system message.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Mistral } from "@mistralai/mistralai";
import { V3, skipToolsReason, tinyV3, tmpDir, cli, startServer, raw } from "./lib.mjs";

const SKIP = skipToolsReason();
const N = 12;
const SAFE = "Always assist with care, respect, and truth. Respond with utmost utility yet securely. Avoid harmful, " +
  "unethical, prejudiced, or negative content. Ensure replies promote fairness and positivity.";

const ids = (args) => cli(["tokenize", "--tokenizer", V3, ...args]).toString().trim().split(/\s+/).map(Number);

describe("mistral dialect: FIM, safe_prompt, prefix (@mistralai/mistralai, tiny model with the v3 tokenizer)", { skip: SKIP, timeout: 180_000 }, () => {
  let srv, mc, tiny;
  before(async () => {
    tiny = tinyV3();
    srv = await startServer(tiny.model, tiny.args);
    mc = new Mistral({ serverURL: srv.base, apiKey: "none" });
  });
  after(async () => { if (srv) await srv.stop(); });

  const generate = (prompt) => cli(["generate", "-m", tiny.model, "--tokenizer", V3, "--tokens", prompt.join(","), "-n", String(N)]).toString("utf8");

  test("fim.complete and fim.stream: the greedy middle of mistral-common's FIM prompt", async () => {
    const prompt = "def add(a, b):\n    return", suffix = "\n\nprint(add(1, 2))";
    const smiley = ids(["-p", "\u263a" + suffix]);
    const fim = [1, 13, ...smiley.slice(2), 11, ...ids(["-p", prompt])];
    const want = generate(fim);
    const r = await mc.fim.complete({ model: "codestral", prompt, suffix, maxTokens: N, temperature: 0 });
    assert.equal(r.object, "chat.completion");
    assert.equal(r.choices[0].message.role, "assistant");
    assert.equal(r.choices[0].message.content, want);
    assert.equal(r.usage.promptTokens, fim.length);
    let text = "", finish = null;
    for await (const ev of await mc.fim.stream({ model: "codestral", prompt, suffix, maxTokens: N, temperature: 0 })) {
      text += ev.data.choices[0]?.delta?.content ?? "";
      finish = ev.data.choices[0]?.finishReason ?? finish;
    }
    assert.equal(text, want);
    assert.ok(["length", "stop"].includes(finish), finish);
    // without a suffix: [BOS] [SUFFIX] [PREFIX] prompt
    const r2 = await mc.fim.complete({ model: "codestral", prompt, maxTokens: N, temperature: 0 });
    assert.equal(r2.choices[0].message.content, generate([1, 13, 11, ...ids(["-p", prompt])]));
    // errors name the field
    let e = await raw(srv, "POST", "/v1/fim/completions", { model: "m", suffix: "x" });
    assert.equal(e.status, 400);
    assert.equal(e.json.error.param, "prompt");
    e = await raw(srv, "POST", "/v1/fim/completions", { model: "m", prompt: "x", min_tokens: 3 });
    assert.equal(e.json.error.param, "min_tokens");
  });

  test("chat.complete: safePrompt is the documented system prompt first; randomSeed; prefix continues", async () => {
    const messages = [{ role: "user", content: "Hi" }];
    const safe = await mc.chat.complete({ model: "m", messages, safePrompt: true, maxTokens: N, temperature: 0 });
    const sys = await mc.chat.complete({ model: "m", messages: [{ role: "system", content: SAFE }, ...messages], maxTokens: N, temperature: 0 });
    assert.equal(safe.usage.promptTokens, sys.usage.promptTokens);
    assert.equal(safe.choices[0].message.content, sys.choices[0].message.content);
    const a = await mc.chat.complete({ model: "m", messages, maxTokens: N, temperature: 1, randomSeed: 7 });
    const b = await mc.chat.complete({ model: "m", messages, maxTokens: N, temperature: 1, randomSeed: 7 });
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    let streamed = "";
    for await (const ev of await mc.chat.stream({ model: "m", messages, safePrompt: true, maxTokens: N, temperature: 0 }))
      streamed += ev.data.choices[0]?.delta?.content ?? "";
    assert.equal(streamed, safe.choices[0].message.content);
    const models = await mc.models.list();
    assert.equal(models.data.length, 1);
    const withPrefix = [...messages, { role: "assistant", content: "Once", prefix: true }];
    const pre = await mc.chat.complete({ model: "m", messages: withPrefix, maxTokens: N, temperature: 0 });
    const f = path.join(tmpDir(), "prefix.json");
    fs.writeFileSync(f, JSON.stringify({ messages: withPrefix }));
    const promptIds = ids(["--chat", f]);
    assert.notEqual(promptIds.at(-1), 2, "no EOS after the prefix");
    assert.equal(pre.choices[0].message.content, generate(promptIds));
  });
});

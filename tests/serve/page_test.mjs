// The chat page (GET /) in a real browser: playwright-core driving the system
// chromium (/usr/bin/chromium; `apt-get install -y chromium`). Types a
// message, sends it, waits for the streamed reply and checks it against the
// CLI's greedy reply. Screenshot: $SCREENSHOT_DIR/mistral-page.png, else
// /tmp/mistral-page.png. Run from the repository root:
//   node --test tests/serve/page_test.mjs
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { STORIES, skipReason, cliChat, startServer } from "./lib.mjs";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SKIP = skipReason() ?? (fs.existsSync(CHROMIUM) ? null : `${CHROMIUM} is absent (apt-get install -y chromium)`);
if (SKIP) console.log(`# page_test: skipped: ${SKIP}`);

const MAX_TOKENS = 48;

describe("the chat page", { skip: SKIP ?? false, timeout: 90_000 }, () => {
  let srv, browser;

  before(async () => {
    const { chromium } = await import("playwright-core");
    srv = await startServer(STORIES, ["--ctx", "1024", "--parallel", "2"]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 30_000,
    });
  });
  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (srv) await srv.stop();
  });

  test("type, send, the streamed reply equals the CLI's; two turns; New chat", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    const problems = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
    // nothing but the server itself is fetched
    page.on("request", (r) => {
      if (!r.url().startsWith(srv.base + "/")) problems.push(`external request: ${r.url()}`);
    });
    const sse = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/v1/chat/completions")) sse.push(`${r.status()} ${r.headers()["content-type"]}`);
    });
    page.setDefaultTimeout(20_000);
    await page.goto(srv.base + "/", { waitUntil: "load" });
    for (const sel of ["#messages", "#input", "#send", "#max-tokens", "#temperature", "#api-key", "#new-chat"]) {
      assert.equal(await page.locator(sel).count(), 1, `the page has ${sel}`);
    }
    await page.fill("#max-tokens", String(MAX_TOKENS));
    await page.fill("#temperature", "0");

    // turn 1: typed, sent with the button
    const q1 = "Tell me a story about a cat.";
    await page.locator("#input").pressSequentially(q1, { delay: 5 });
    await page.click("#send");
    const want1 = cliChat(STORIES, [{ role: "user", content: q1 }], MAX_TOKENS).text;
    const a1 = await reply(page, 0);
    assert.ok(a1.length > 0, "the reply is not empty");
    assert.equal(a1, want1, "the page's reply is the CLI's greedy reply");
    const user = page.locator('#messages .msg[data-role="user"] .content');
    assert.equal(await user.nth(0).textContent(), q1);

    // turn 2: Enter sends the whole conversation; Shift+Enter is a newline
    const q2 = "What did the cat do\nnext?";
    await page.focus("#input");
    await page.keyboard.type("What did the cat do");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("next?");
    assert.equal(await page.inputValue("#input"), q2, "Shift+Enter adds a newline");
    await page.keyboard.press("Enter");
    const want2 = cliChat(STORIES, [{ role: "user", content: q1 }, { role: "assistant", content: want1 },
      { role: "user", content: q2 }], MAX_TOKENS).text;
    const a2 = await reply(page, 1);
    assert.equal(a2, want2, "the second turn's reply is the CLI's for the whole conversation");
    assert.equal(await page.inputValue("#input"), "", "the input is cleared after sending");

    const dir = process.env.SCREENSHOT_DIR;
    const shot = dir ? path.join(dir, "mistral-page.png") : "/tmp/mistral-page.png";
    if (dir) fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`# page_test: screenshot ${shot}`);

    // New chat empties the list
    await page.click("#new-chat");
    assert.equal(await page.locator("#messages .msg").count(), 0, "New chat empties the conversation");
    assert.deepEqual(problems, [], "no page errors, no requests elsewhere");
    assert.equal(sse.length, 2, "two POSTs to /v1/chat/completions");
    for (const x of sse) assert.match(x, /^200 text\/event-stream/, "the page asks for a stream");
    await page.close();
  });

  test("a server error is shown from its JSON error shape", async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(srv.base + "/", { waitUntil: "load" });
    await page.fill("#max-tokens", "0");     // the page then sends no max_tokens ...
    await page.fill("#temperature", "0");
    // ... so make the prompt too long for the context instead: the server answers 400
    await page.fill("#input", "Once upon a time there was a little girl. ".repeat(200));
    await page.click("#send");
    const err = page.locator('#messages .msg[data-role="error"]');
    await err.waitFor({ state: "visible" });
    const t = await err.textContent();
    assert.match(t, /400/, `the error shows the status: ${t}`);
    assert.ok(t.length > 12, `the error shows the server's message: ${t}`);
    await page.close();
  });

  test("the API key field: 401 shown without it; kept in localStorage", async () => {
    const key = "page-key-" + Math.random().toString(36).slice(2);
    const ksrv = await startServer(STORIES, ["--ctx", "1024", "--parallel", "1"], { apiKey: key });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(20_000);
      await page.goto(ksrv.base + "/", { waitUntil: "load" });
      await page.fill("#max-tokens", "16");
      await page.fill("#temperature", "0");
      await page.fill("#input", "Hi there");
      await page.press("#input", "Enter");
      const err = page.locator('#messages .msg[data-role="error"]');
      await err.waitFor({ state: "visible" });
      assert.match(await err.textContent(), /401/);
      await page.fill("#api-key", key);
      if (!(await page.inputValue("#input"))) await page.fill("#input", "Hi there");
      await page.press("#input", "Enter");
      const want = cliChat(STORIES, [{ role: "user", content: "Hi there" }], 16).text;
      assert.equal(await reply(page, 0, false), want, "with the key: the CLI's reply");
      await page.reload({ waitUntil: "load" });
      assert.equal(await page.inputValue("#api-key"), key, "the key survives a reload (localStorage)");
      await page.close();
    } finally {
      await ksrv.stop();
    }
  });
});

// The text of the I-th assistant message once it is done (data-done="1"), or
// the page's error message.
async function reply(page, i, failOnError = true) {
  const done = page.locator('#messages .msg[data-role="assistant"][data-done="1"]').nth(i);
  const err = page.locator('#messages .msg[data-role="error"]');
  if (!failOnError) {
    await done.waitFor({ state: "attached", timeout: 30_000 });
    return await done.locator(".content").textContent();
  }
  await Promise.race([done.waitFor({ state: "attached", timeout: 30_000 }), err.first().waitFor({ state: "attached", timeout: 30_000 })]);
  if (await err.count()) assert.fail(`the page shows an error: ${await err.first().textContent()}`);
  return await done.locator(".content").textContent();
}

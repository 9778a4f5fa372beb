// Structured outputs' property test (issue 20): over generated schemas and
// random logits, with every tokenizer, every output parses and validates.
// The C side, build/tests/unit/test_guided_random (make builds it with the
// unit tests), generates the schemas and decodes under a Guide with random
// logits, once per tokenizer in ../shared; it writes each schema and output
// (the ids' decode, what a user gets) to a JSON lines file. Here every
// finished output must JSON.parse and validate under its schema with ajv
// (draft 2020-12, + ajv-formats), a real JSON Schema validator.
//   node --test tests/serve/property_test.mjs
// Env: MISTRAL_BIN (its folder is the build folder), MISTRAL_SHARED;
// PROPERTY_SCHEMAS and PROPERTY_SEED for a longer hunt (schemas per
// tokenizer, default 24; the seed, default 20).
// Skips when the C program finds no tokenizer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { REPO, BIN, tmpDir } from "./lib.mjs";

const PROGRAM = path.join(path.dirname(BIN), "tests/unit/test_guided_random");

// Without strict, oneOf compiles as anyOf (grammar/jsonschema.h: a value
// that matches two branches is not refused): an output ajv refuses only for
// that is counted, not failed. In strict mode a oneOf compiles only when its
// branches are disjoint, so there it must hold exactly. The same schema
// with every oneOf spelled anyOf.
function oneOfAsAnyOf(s) {
  if (Array.isArray(s)) return s.map(oneOfAsAnyOf);
  if (s === null || typeof s !== "object") return s;
  const out = {};
  for (const [k, v] of Object.entries(s)) out[k === "oneOf" ? "anyOf" : k] = oneOfAsAnyOf(v);
  return out;
}

test("property: guided outputs over random schemas and logits validate (ajv)", { timeout: 300_000 }, (t) => {
  if (!fs.existsSync(PROGRAM)) {
    assert.fail(`${PROGRAM} does not exist: build it first (make ${path.relative(REPO, PROGRAM)}, or make test)`);
  }
  const file = path.join(tmpDir(), "outputs.jsonl");
  const args = [file, process.env.PROPERTY_SCHEMAS || "24", process.env.PROPERTY_SEED || "20"];
  const run = spawnSync(PROGRAM, args, { cwd: REPO, encoding: "utf8", timeout: 240_000 });
  const skips = run.stderr.split("\n").filter((l) => l.startsWith("SKIP"));
  for (const l of skips) t.diagnostic(l);
  assert.equal(run.status, 0, `test_guided_random failed (status ${run.status}, signal ${run.signal}):\n${run.stderr}`);
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
  if (lines.length === 0) {
    t.skip(skips.at(-1)?.replace(/^SKIP:\s*/, "") ?? "test_guided_random wrote nothing");
    return;
  }

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const validators = new Map(); // "tokenizer/schema_id" -> [validate, validate with oneOf as anyOf]
  const per = new Map();
  const failures = [];
  for (const line of lines) {
    const r = JSON.parse(line);
    if (!per.has(r.tokenizer)) per.set(r.tokenizer, { outputs: 0, finished: 0, valid: 0, oneOfOverlap: 0 });
    const c = per.get(r.tokenizer);
    if (r.summary) {
      Object.assign(c, { schemas: r.summary.schemas, refused: r.summary.refused });
      assert.equal(c.outputs, r.summary.outputs, `${r.tokenizer}: outputs in the file`);
      assert.equal(c.finished, r.summary.finished, `${r.tokenizer}: finished outputs in the file`);
      continue;
    }
    c.outputs++;
    if (!r.finished) continue;
    c.finished++;
    const key = `${r.tokenizer}/${r.schema_id}`;
    if (!validators.has(key)) {
      let v;
      try {
        v = [ajv.compile(r.schema), ajv.compile(oneOfAsAnyOf(r.schema))];
      } catch (e) {
        failures.push(`${r.tokenizer}: ajv cannot compile the schema: ${e.message}\n  schema: ${JSON.stringify(r.schema)}`);
        v = null;
      }
      validators.set(key, v);
    }
    const v = validators.get(key);
    if (!v) continue;
    const where = `${r.tokenizer} (strict ${r.strict}, whitespace ${r.whitespace})\n  schema: ` +
      `${JSON.stringify(r.schema)}\n  output: ${JSON.stringify(r.output)}\n  ids: ${JSON.stringify(r.ids)}`;
    let value;
    try {
      value = JSON.parse(r.output);
    } catch (e) {
      failures.push(`${where}\n  not JSON: ${e.message}`);
      continue;
    }
    if (v[0](value)) {
      c.valid++;
    } else if (!r.strict && v[1](value)) {
      c.oneOfOverlap++;
    } else {
      failures.push(`${where}\n  invalid: ${ajv.errorsText(v[0].errors)}`);
    }
  }
  for (const [tok, c] of per) {
    t.diagnostic(`${tok}: ${c.schemas} schemas (${c.refused} refused: empty), ${c.outputs} outputs, ` +
      `${c.finished} finished, ${c.valid} valid` + (c.oneOfOverlap ? `, ${c.oneOfOverlap} match two oneOf branches` : ""));
    assert.ok(c.finished > 0, `${tok}: no output finished`);
  }
  assert.equal(failures.length, 0, `${failures.length} outputs ajv refuses:\n${failures.slice(0, 20).join("\n")}`);
});

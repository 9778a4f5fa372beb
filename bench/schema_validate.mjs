// Validates a generated text against a JSON Schema with ajv (draft 2020-12,
// ajv-formats), for bench/schema_compare.sh. Prints one word and a reason:
//   valid | invalid <ajv's errors> | notjson <the parse error>
//   node bench/schema_validate.mjs SCHEMA_FILE TEXT_FILE
// ajv comes from tests/serve/node_modules (cd tests/serve && npm ci).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../tests/serve/package.json"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const [schemaFile, textFile] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(schemaFile, "utf8"));
const text = fs.readFileSync(textFile, "utf8").trim();
let value;
try {
  value = JSON.parse(text);
} catch (e) {
  console.log(`notjson ${e.message}`);
  process.exit(0);
}
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);
console.log(validate(value) ? "valid" : `invalid ${ajv.errorsText(validate.errors)}`);

#!/usr/bin/env python3
"""Structured outputs from the command line (--json-schema, --json, --grammar,
--regex): the trained stories260K model and a random tiny mixture of experts,
neither of which writes JSON by itself, generate under JSON Schemas greedy
and seeded; every output must parse and validate (a small validator below
for the keywords used). The same constrained request must give the same
tokens at any thread count, chunking, alone or in a batch, with or without
the mask thread (MISTRAL_SYNC_MASKS=1). Bad schemas, grammars and regexes are
one line on stderr, a non-zero exit and no output. Standard library only;
skipped when ../shared/models/stories260K is absent."""
import json
import os
import re
import subprocess
import sys
import tempfile

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "build/mistral"
SHARED = os.environ.get("MISTRAL_SHARED", "../shared")
STORIES = os.path.join(SHARED, "models", "stories260K")
failures = 0


def run(*args, env=None):
    p = subprocess.run([ENGINE, *map(str, args)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


def expect(ok, what):
    global failures
    if not ok:
        failures += 1
        print("FAIL", what)


# ---- a validator for the keywords these schemas use -------------------------

def resolve(root, ref):
    node = root
    for part in ref.lstrip("#").split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def valid(v, s, root):
    """None when v is valid under schema s, else why not."""
    if "$ref" in s:
        return valid(v, resolve(root, s["$ref"]), root)
    if "anyOf" in s and all(valid(v, b, root) for b in s["anyOf"]):
        return "no anyOf branch"
    if "enum" in s and v not in s["enum"]:
        return "%r not in enum" % (v,)
    if "const" in s and v != s["const"]:
        return "%r is not the const" % (v,)
    t = s.get("type")
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    if t == "integer" and not (isinstance(v, int) and not isinstance(v, bool)):
        return "%r is not an integer" % (v,)
    if t == "number" and not (isinstance(v, (int, float)) and not isinstance(v, bool)):
        return "%r is not a number" % (v,)
    if t in kinds and not isinstance(v, kinds[t]):
        return "%r is not of type %s" % (v, t)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"] or "maximum" in s and v > s["maximum"]:
            return "%r out of bounds" % (v,)
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0) or len(v) > s.get("maxLength", 1 << 30):
            return "%r has the wrong length" % (v,)
        if "pattern" in s and not re.search(s["pattern"], v):
            return "%r does not match %s" % (v, s["pattern"])
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0) or len(v) > s.get("maxItems", 1 << 30):
            return "%d items" % len(v)
        for x in v:
            why = valid(x, s.get("items", {}), root)
            if why:
                return why
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                return "missing %s" % k
        for k, x in v.items():
            if k in props:
                why = valid(x, props[k], root)
                if why:
                    return "%s: %s" % (k, why)
            elif s.get("additionalProperties") is False:
                return "additional property %r" % k
    return None


SCHEMAS = {
    "flat": {"type": "object", "additionalProperties": False, "required": ["name", "age", "role"],
             "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 12},
                            "age": {"type": "integer", "minimum": 0, "maximum": 120},
                            "role": {"enum": ["cat", "dog", "bird"]},
                            "ok": {"type": "boolean"}}},
    "nested": {"type": "object", "additionalProperties": False, "required": ["who", "where"],
               "properties": {"who": {"type": "object", "additionalProperties": False, "required": ["first"],
                                      "properties": {"first": {"type": "string", "maxLength": 8},
                                                     "n": {"type": "integer", "minimum": -9, "maximum": 9}}},
                              "where": {"type": "object", "additionalProperties": False,
                                        "required": ["city"],
                                        "properties": {"city": {"type": "string", "maxLength": 10}}}}},
    "array": {"type": "array", "minItems": 1, "maxItems": 4,
              "items": {"type": "object", "additionalProperties": False, "required": ["id", "tags"],
                        "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 99},
                                       "tags": {"type": "array", "maxItems": 3,
                                                "items": {"type": "string", "maxLength": 6}}}}},
    "ref": {"$defs": {"node": {"type": "object", "additionalProperties": False, "required": ["v"],
                               "properties": {"v": {"type": "integer", "minimum": 0, "maximum": 9},
                                              "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}}},
            "$ref": "#/$defs/node"},
    "pattern": {"type": "object", "additionalProperties": False, "required": ["code", "date"],
                "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
                               "date": {"type": "string", "pattern": "^20[0-9]{2}-[01][0-9]$"}}},
}

if not os.path.isdir(STORIES):
    print("SKIP: %s not found; structured-output CLI tests not run" % STORIES)
    sys.exit(0)

tmpd = tempfile.mkdtemp()
moe = os.path.join(tmpd, "moe.gguf")
rc, _, err = run("synth", moe, "--shape", "tiny-moe", "--type", "f32", "--tokenizer",
                 os.path.join(STORIES, "tokenizer.model"))
expect(rc == 0, "synth tiny-moe: %s" % err)
MODELS = [("stories260K", STORIES), ("tiny-moe", moe)]
SAMPLINGS = [("greedy", ["--temperature", 0]), ("seed 7", ["--temperature", 1, "--seed", 7]),
             ("seed 11", ["--temperature", 1, "--seed", 11])]

# ---- every output parses and validates -------------------------------------
checked = 0
for mname, model in MODELS:
    for sname, schema in SCHEMAS.items():
        path = os.path.join(tmpd, sname + ".json")
        with open(path, "w") as f:
            json.dump(schema, f)
        for how, sampling in SAMPLINGS:
            what = "%s %s %s" % (mname, sname, how)
            rc, out, err = run("generate", "-m", model, "-p", "Once upon a time", "-n", 400,
                               "--json-schema", path, *sampling)
            try:
                why = valid(json.loads(out), schema, schema)
            except ValueError as e:
                why = "not JSON (%s)" % e
            expect(rc == 0 and why is None, "%s: %s: %r %s" % (what, why, out[:200], err[-200:]))
            checked += 1
print("# structured outputs: %d generations under %d JSON Schemas validate" % (checked, len(SCHEMAS)))

# inline JSON, --json-strict, --json (any object) and chat
flat = SCHEMAS["flat"]
loose = dict(flat)
del loose["additionalProperties"]
rc, out, err = run("generate", "-m", STORIES, "-p", "Lily", "-n", 300, "--json-schema", json.dumps(loose),
                   "--json-strict", "--temperature", 1, "--seed", 3)
expect(rc == 0 and valid(json.loads(out), flat, flat) is None, "--json-schema inline --json-strict: %r" % out)
rc, out, err = run("generate", "-m", moe, "-p", "Lily", "-n", 400, "--json", "--temperature", 1, "--seed", 5)
try:
    ok = isinstance(json.loads(out), dict)
except ValueError:
    ok = False
expect(rc == 0 and ok, "--json: an object: %r %s" % (out[:200], err[-200:]))
p = subprocess.run([ENGINE, "chat", "-m", STORIES, "-n", "300", "--json-schema", json.dumps(flat)],
                   input="Hello\nWho are you?\n", capture_output=True, text=True, timeout=60)
replies = p.stdout.splitlines()
expect(p.returncode == 0 and len(replies) == 2 and all(valid(json.loads(r), flat, flat) is None for r in replies),
       "chat --json-schema: %r %s" % (replies, p.stderr[-200:]))

# ---- --regex and --grammar --------------------------------------------------
for rx in (r"[a-z]{3,8}@[a-z]{2,5}\.(com|org)", r"(yes|no|maybe)", r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
           r"The (cat|dog) is [a-z ]{1,20}\."):
    for how, sampling in SAMPLINGS:
        rc, out, err = run("generate", "-m", STORIES, "-p", "Once", "-n", 100, "--regex", rx, *sampling)
        expect(rc == 0 and re.fullmatch(rx, out), "--regex %s %s: %r %s" % (rx, how, out, err[-200:]))
gbnf = os.path.join(tmpd, "list.gbnf")
with open(gbnf, "w") as f:
    f.write('# a shopping list\nroot ::= "List:" item{1,3}\nitem ::= "\\n- " [a-z]{2,8} " x" [1-9]\n')
for how, sampling in SAMPLINGS:
    rc, out, err = run("generate", "-m", STORIES, "-p", "Once", "-n", 100, "--grammar", gbnf, *sampling)
    expect(rc == 0 and re.fullmatch(r"List:(\n- [a-z]{2,8} x[1-9]){1,3}", out),
           "--grammar %s: %r %s" % (how, out, err[-200:]))

# ---- exactness: threads, chunking, batch, the mask thread -------------------
schema = os.path.join(tmpd, "nested.json")
prompts = [run("tokenize", "-m", STORIES, "-p", t, "--bos")[1].strip() for t in
           ("Once upon a time", "Lily and Ben", "The cat sat on the mat and looked at the big red ball")]
batch = os.path.join(tmpd, "prompts.txt")
with open(batch, "w") as f:
    f.write("\n".join(prompts) + "\n")
for mname, model in MODELS:
    for how, sampling in SAMPLINGS[:2]:
        base = ["generate", "-m", model, "-n", 200, "--json-schema", schema, "--ids", *sampling]
        alone = [run(*base, "--tokens", p)[1] for p in prompts]
        expect(all(a.strip() for a in alone), "%s %s: outputs %r" % (mname, how, alone))
        variants = {
            "-t 1": [run(*base, "--tokens", p, "-t", 1)[1] for p in prompts],
            "-t 2 --chunk-size 1": [run(*base, "--tokens", p, "-t", 2, "--chunk-size", 1)[1] for p in prompts],
            "no mask thread": [run(*base, "--tokens", p, env={"MISTRAL_SYNC_MASKS": "1"})[1] for p in prompts],
            "batch": run(*base, "--tokens-file", batch)[1].splitlines(keepends=True),
            "batch -t 1 --chunk-size 3, no mask thread":
                run(*base, "--tokens-file", batch, "-t", 1, "--chunk-size", 3,
                    env={"MISTRAL_SYNC_MASKS": "1"})[1].splitlines(keepends=True),
        }
        for v, outs in variants.items():
            expect(outs == alone, "%s %s: %s gives other tokens: %r vs %r" % (mname, how, v, outs, alone))
print("# structured outputs: the same tokens at 1 and 2 threads, chunk 1, 3 and 512, alone and "
      "batched, with and without the mask thread")

# ---- errors: one line, a non-zero exit, nothing generated -------------------
bad = os.path.join(tmpd, "bad.gbnf")
with open(bad, "w") as f:
    f.write('root ::= "a" item\nitem ::= [a-z\n')
cases = [
    (["--json-schema", '{"type":"object","properties":{"tags":{"type":"array","uniqueItems":true}}}'],
     "json schema: /properties/tags: uniqueItems is not supported"),
    (["--json-schema", '{"type": "object"'], "json schema: not valid JSON"),
    (["--grammar", bad], "gbnf: line 2 col"),
    (["--regex", "a(b"], "regex: offset"),
    (["--json-schema", os.path.join(tmpd, "missing.json")], "missing.json"),
    (["--regex", "a", "--json"], "at most one of"),
    (["--json-strict"], "--json-strict goes with"),
]
for extra, msg in cases:
    rc, out, err = run("generate", "-m", STORIES, "-p", "Once", "-n", 10, *extra)
    expect(rc != 0 and out == "" and msg in err and err.count("\n") == 1,
           "error %s: rc %d, stdout %r, stderr %r" % (extra, rc, out, err))
rc, out, err = run("generate", "-m", STORIES, "-p", "Once", "--pipeline", "--json")
expect(rc != 0 and out == "" and "--pipeline" in err and err.count("\n") == 1, "--pipeline --json: %r" % err)

import shutil  # noqa: E402
shutil.rmtree(tmpd)
print("# structured outputs: errors" if not failures else "structured outputs: %d failures" % failures)
sys.exit(1 if failures else 0)

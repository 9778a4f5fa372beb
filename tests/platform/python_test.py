"""The Python ctypes module (python/mistral.py) against the CLI: the same ids
from generate (greedy and seeded, one prompt and a batch), tokenize, chat
encoding, logits rows, and errors as exceptions. Usage: python_test.py MISTRAL"""
import json
import os
import subprocess
import sys
import tempfile

import mistral

CLI = sys.argv[1]
STORIES = "../shared/models/stories260K"
TINY = "tests/data/tiny/moe_sw8_f32"
fails = 0


def expect(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL python_test:", what)


def cli(*args):
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True).stdout


def cli_ids(*args):
    return [[int(x) for x in line.split()] for line in cli(*args).splitlines()]


# token ids in and out, on a tiny MoE checkpoint
m = mistral.Model(TINY, n_threads=2)
expect(m.info["n_experts"] == 4 and m.info["n_vocab"] == 256, "info %r" % m.info)
ctx = mistral.Context(m, n_seq=3, n_ctx=128)
prompts = [[1, 147, 186, 149, 240], [1, 2, 3], [1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]]
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    f.write("\n".join(",".join(map(str, p)) for p in prompts) + "\n")
for opts in ([], ["--temperature", "0.9", "--seed", "7", "--top-k", "40"]):
    want = cli_ids("generate", "-m", TINY, "--tokens-file", f.name, "-n", "12", "--ids", *opts)
    kw = dict(temperature=0.9, seed=7, top_k=40) if opts else {}
    got = ctx.generate(prompts, max_tokens=12, **kw)
    expect(got == want, "generate %s: %r != CLI %r" % (opts, got, want))
    alone = [ctx.generate([p], max_tokens=12, **kw)[0] for p in prompts]
    expect(alone == want, "each prompt alone %s: %r" % (opts, alone))
    # the experts streamed from the file through a cache of ~2 of them: the same ids
    ms = mistral.Model(TINY, n_threads=2, mem_limit=600 * 1024)
    cs = mistral.Context(ms, n_seq=3, n_ctx=128)
    got = cs.generate(prompts, max_tokens=12, **kw)
    expect(got == want, "generate with mem_limit %s: %r != CLI %r" % (opts, got, want))
    cs.close()
    ms.close()
    # speculative decoding: the same ids with prompt lookup and with a draft model
    dm = mistral.Model("tests/data/tiny/dense_sw8_f32", n_threads=2)
    dctx = mistral.Context(dm, n_seq=3, n_ctx=160)
    for spec in (dict(lookup=2), dict(lookup=1, draft_max=6), dict(draft=dctx, draft_max=3)):
        sc = mistral.Context(m, n_seq=3, n_ctx=128)
        got = sc.generate(prompts, max_tokens=12, **kw, **spec)
        drafted, accepted = sc.spec_stats()
        expect(got == want, "generate %s %s: %r != CLI %r" % (opts, spec, got, want))
        expect((drafted > 0 or "draft" not in spec) and 0 <= accepted <= drafted, "spec_stats %s: %d %d" % (spec, drafted, accepted))
        sc.close()
    dctx.close()
    dm.close()
os.unlink(f.name)
# a draft with another vocabulary (128 tokens against 256) is refused
fm = mistral.Model("tests/data/conformance/tiny/dense_sw5_f16")
fctx = mistral.Context(fm, n_ctx=64)
try:
    ctx.generate([prompts[0]], max_tokens=4, draft=fctx)
    expect(False, "no error for a foreign draft")
except mistral.Error as e:
    expect(e.status == "MISTRAL_ERR_ARGUMENT" and "vocabulary has 128 tokens" in str(e), "foreign draft: %s" % e)
fctx.close()
fm.close()

# fast_bf16: the CLI's --fast-bf16 logits, bit for bit (the same kernels), not the exact ones
TINYBF = os.path.join(os.path.dirname(TINY), "dense_sw8_bf16")
mb = mistral.Model(TINYBF, n_threads=2)
toks = [1, 147, 186, 149, 240]
fast = mistral.Context(mb, fast_bf16=True).decode(toks, want=[0, 0, 0, 0, 1])[0]
exact = mistral.Context(mb).decode(toks, want=[0, 0, 0, 0, 1])[0]
cli_fast = json.loads(cli("logits", "-m", TINYBF, "--fast-bf16", "--tokens", ",".join(map(str, toks))))["logits"][0]
expect(max(abs(a - b) for a, b in zip(fast, cli_fast)) < 1e-6 and fast != exact, "fast_bf16 differs from the CLI's")
mb.close()

# logits: the CLI's last row, and the callback's stop
ctx.reset(0)
rows = ctx.decode(prompts[0], want=[0, 0, 0, 0, 1])
ref = json.loads(cli("logits", "-m", TINY, "--tokens", ",".join(map(str, prompts[0]))))["logits"][0]
expect(len(rows) == 1 and max(abs(a - b) for a, b in zip(rows[0], ref)) < 1e-6, "logits differ from the CLI")
expect(ctx.pos(0) == 5, "pos %d" % ctx.pos(0))
got = ctx.generate([prompts[1]], max_tokens=10, on_token=lambda seq, tok: True)
expect(len(got[0]) == 1, "on_token stop: %r" % got)

# errors are exceptions with the status
try:
    mistral.Model("tests/data/tiny/nope")
    expect(False, "no error for a missing model")
except mistral.Error as e:
    expect(e.status == "MISTRAL_ERR_IO" and "nope" in str(e), "missing model: %s %s" % (e.status, e))
try:
    ctx.generate([[1, 999]], max_tokens=2)
    expect(False, "no error for a bad id")
except mistral.Error as e:
    expect(e.status == "MISTRAL_ERR_INPUT", "bad id: %s" % e.status)
ctx.close()
m.close()

# text, with the trained model
if os.path.isdir(STORIES):
    m = mistral.Model(STORIES)
    ctx = mistral.Context(m)
    for text in ("Once upon a time", "Lily wanted to play — naïve café 🙂"):
        want = [int(x) for x in cli("tokenize", "-m", STORIES, "-p", text, "--bos").split()]
        expect(m.tokenize(text) == want, "tokenize %r: %r != %r" % (text, m.tokenize(text), want))
    streamed = []
    ids = ctx.generate(["Once upon a time"], max_tokens=60, on_text=streamed.append)[0]
    want_text = cli("generate", "-m", STORIES, "-p", "Once upon a time", "-n", "60")
    expect("".join(streamed) == want_text, "streamed %r != CLI %r" % ("".join(streamed), want_text))
    expect(m.detokenize(ids) == want_text, "detokenize %r" % m.detokenize(ids))
    req = {"messages": [{"role": "user", "content": "Tell me a story"}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(req, f)
    want = [int(x) for x in cli("tokenize", "-m", STORIES, "--chat", f.name).split()]
    os.unlink(f.name)
    expect(m.chat_encode(req) == want, "chat_encode %r != %r" % (m.chat_encode(req), want))
    # structured output: the same ids as the CLI's, alone and in a batch; outputs that parse
    schema = {"type": "object", "additionalProperties": False, "required": ["name", "n"],
              "properties": {"name": {"type": "string", "maxLength": 10},
                             "n": {"type": "integer", "minimum": 0, "maximum": 99}}}
    cs = mistral.Context(m, n_seq=2, n_ctx=512)
    texts = ["Once upon a time", "Lily"]
    for kw, flags in (({}, []), ({"temperature": 1.0, "seed": 9}, ["--temperature", "1", "--seed", "9"])):
        got = cs.generate(texts, max_tokens=200, json_schema=schema, **kw)
        for t, g in zip(texts, got):
            want = cli_ids("generate", "-m", STORIES, "-p", t, "-n", "200", "--ids", "--json-schema",
                           json.dumps(schema), *flags)[0]
            expect(g == want, "json_schema %r %r: %r != CLI %r" % (t, kw, g, want))
            v = json.loads(m.detokenize(g))
            expect(set(v) == {"name", "n"} and 0 <= v["n"] <= 99, "json_schema output %r" % v)
    rx = cs.generate(["Once"], max_tokens=50, regex="(red|green) [0-9]{2}", temperature=1.0, seed=2)[0]
    expect(__import__("re").fullmatch("(red|green) [0-9]{2}", m.detokenize(rx)), "regex %r" % m.detokenize(rx))
    obj = cs.generate(["Once"], max_tokens=100, json=True, temperature=1.0, seed=4)[0]
    want = cli_ids("generate", "-m", STORIES, "-p", "Once", "-n", "100", "--ids", "--json", "--temperature", "1",
                   "--seed", "4")[0]
    expect(obj == want and m.detokenize(obj).startswith("{"), "json=True %r" % m.detokenize(obj))
    for kw, msg in (({"json_schema": {"type": "array", "uniqueItems": True}}, "json schema: (root): uniqueItems"),
                    ({"grammar": 'root ::= "a" b'}, "gbnf: line 1 col"), ({"regex": "(a"}, "regex: offset")):
        try:
            m.check_constraint(**kw)
            expect(False, "check_constraint %r did not raise" % kw)
        except mistral.Error as e:
            expect(e.status == "MISTRAL_ERR_INPUT" and msg in str(e), "check_constraint %r: %s %s" % (kw, e.status, e))
        try:
            cs.generate(["Once"], max_tokens=5, **kw)
            expect(False, "generate %r did not raise" % kw)
        except mistral.Error as e:
            expect(e.status == "MISTRAL_ERR_INPUT", "generate %r: %s" % (kw, e.status))
    m.check_constraint(json_schema=schema, strict=True)
    cs.close()
    ctx.close()
    m.close()
else:
    print("python_test: %s absent: text cases skipped" % STORIES)

print("python_test: ok" if fails == 0 else "python_test: %d check(s) FAILED" % fails)
sys.exit(1 if fails else 0)

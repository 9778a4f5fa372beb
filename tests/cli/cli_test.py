#!/usr/bin/env python3
"""Command-line tests beyond check.py: the trained stories260K model's golden
greedy ids (read from ../shared, skipped where absent), batched generation
from --tokens-file, penalties (batch and speculation invariant), --help on every
subcommand. Standard library only."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "build/mistral"
SHARED = os.environ.get("MISTRAL_SHARED", "../shared")
failures = 0


def run(*args):
    p = subprocess.run([ENGINE, *map(str, args)], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def run_env(env, *args):
    p = subprocess.run([ENGINE, *map(str, args)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, **env))
    return p.returncode, p.stdout, p.stderr


def expect(ok, what):
    global failures
    if not ok:
        failures += 1
        print("FAIL", what)


def ids(s):
    return [int(x) for x in s.split()]


# --- stories260K: the reference's greedy ids, no window / window 32 / chunk 5
stories = os.path.join(SHARED, "models", "stories260K")
if os.path.isfile(os.path.join(stories, "golden.json")):
    with open(os.path.join(stories, "golden.json")) as f:
        golden = json.load(f)
    for c in golden["cases"]:
        args = ["generate", "-m", stories, "--tokens", ",".join(map(str, c["prompt_ids"])),
                "-n", len(c["greedy_ids"]), "--temperature", 0, "--ids"]
        if c["sliding_window"]:
            args += ["--sliding-window", c["sliding_window"]]
        if c["chunk_size"]:
            args += ["--chunk-size", c["chunk_size"]]
        rc, out, err = run(*args)
        what = "stories260K prompt %r window %s chunk %s" % (
            c["prompt"][:20], c["sliding_window"], c["chunk_size"])
        expect(rc == 0 and ids(out) == c["greedy_ids"], what + (": " + err.strip() if rc else ""))
        # the same case from text: exactly the golden text on stdout
        args[3:5] = ["-p", c["prompt"]]
        rc, out, err = run(*[a for a in args if a != "--ids"])
        expect(rc == 0 and out == c["text"], what + " (text): %r" % out[-40:])
    print("# stories260K: %d golden cases, ids and text" % len(golden["cases"]))

    # threads change nothing: every logit of a 300-token prompt (attention
    # and the matrix products split across threads), window 64 and none
    prompt = ",".join(str(1 + (i * 37) % 500) for i in range(300))
    for win in ("0", "64"):
        outs = [run("logits", "-m", stories, "--tokens", prompt, "--all", "--sliding-window", win,
                    "--chunk-size", 128, "-t", t)[1] for t in (1, 2, 3)]
        expect(len(outs[0]) > 1000 and outs[0] == outs[1] == outs[2], "logits with 1, 2, 3 threads, window %s" % win)

    # --fast-bf16: BF16 weights meet bf16-rounded activations (vdpbf16ps where
    # the CPU has it): other logits than the exact products, near them, and
    # still the same bits with 1 or 3 threads and any chunking
    tmpd = tempfile.mkdtemp()
    bf = os.path.join(tmpd, "stories-bf16.gguf")
    rc, _, err = run("quantize", stories, bf, "--type", "bf16")
    expect(rc == 0, "quantize bf16: %s" % err)
    exact = run("logits", "-m", bf, "--tokens", prompt, "--all")[1]
    fast = [run("logits", "-m", bf, "--tokens", prompt, "--all", "--fast-bf16", "-t", t, "--chunk-size", c)[1]
            for t, c in ((1, 300), (3, 7))]
    expect(len(fast[0]) > 1000 and fast[0] == fast[1], "--fast-bf16: logits with 1 and 3 threads, chunks 300 and 7")
    if exact and fast[0]:
        le, lf = json.loads(exact)["logits"], json.loads(fast[0])["logits"]
        d = max(abs(a - b) for re, rf in zip(le, lf) for a, b in zip(re, rf))
        expect(0 < d < 0.5, "--fast-bf16: max logit difference from the exact products %g" % d)
        print("# stories260K bf16: --fast-bf16 moves the logits by at most %.4f" % d)
    shutil.rmtree(tmpd)

    # sampling: a seed repeats, seeds differ, top-k 1 is greedy
    base = ["generate", "-m", stories, "-p", "Once upon a time", "-n", 60]
    s1 = run(*base, "--temperature", 1, "--seed", 1)[1]
    s1b = run(*base, "--temperature", 1, "--seed", 1)[1]
    s2 = run(*base, "--temperature", 1, "--seed", 2)[1]
    greedy = run(*base, "--temperature", 0)[1]
    topk1 = run(*base, "--temperature", 1.5, "--top-k", 1, "--seed", 3)[1]
    expect(s1 == s1b and s1 != s2 and s1 != greedy, "sampling: same seed same text, other seed other text")
    expect(topk1 == greedy, "sampling: top-k 1 is greedy")
    # stdout and stderr into one pipe (2>&1): the text as it is, then the
    # timing line on a line of its own although the text ends mid-line
    p = subprocess.run([ENGINE, *map(str, base), "--temperature", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    expect(p.returncode == 0 and not greedy.endswith("\n") and p.stdout.startswith(greedy + "\nprompt: "),
           "2>&1: the stats line starts a line: %r" % p.stdout[len(greedy) - 20:len(greedy) + 20])
    # --stop: the text up to the stop string
    rc, out, _ = run(*base, "--temperature", 0, "--stop", "Lily")
    expect(rc == 0 and out == greedy[:greedy.index("Lily")], "--stop: %r" % out)
    # chat on stdin: a reply per message, /reset, bad UTF-8 reported and skipped
    p = subprocess.run([ENGINE, "chat", "-m", stories, "-n", "20"],
                       input=b"Hello there\n\xff\xfe\n/reset\nTell me a story\n/exit\nignored\n",
                       capture_output=True, timeout=60)
    replies = p.stdout.decode().splitlines()
    expect(p.returncode == 0 and len(replies) == 2 and all(replies), "chat: %r" % replies)
    expect(b"UTF-8" in p.stderr and b"reset" in p.stderr, "chat: stderr %r" % p.stderr[:200])

    # a conversation that outgrows the window keeps working (the cache rolls)
    msgs = "".join("Tell me about the %s.\n" % w for w in
                   ["cat", "dog", "park", "ball", "tree", "sun", "moon", "boat"]).encode()
    p = subprocess.run([ENGINE, "chat", "-m", stories, "-n", "24", "--ctx", "40"], input=msgs,
                       capture_output=True, timeout=60)
    # 8 turns of ~10 prompt + up to 24 reply tokens: far past 40 positions
    expect(p.returncode == 0 and len(p.stdout) > 80 and not p.stderr,
           "chat past the window: %r %r" % (p.stdout[-80:], p.stderr[-200:]))

    # perplexity of f32 vs q8_0 vs q4_k on a passage of public-domain text
    corpus = os.path.join(SHARED, "corpora", "kjv_genesis_plain.txt")
    if os.path.isfile(corpus):
        tmpd = tempfile.mkdtemp()
        passage = os.path.join(tmpd, "passage.txt")
        with open(corpus, "rb") as f, open(passage, "wb") as g:
            g.write(f.read(12000))
        ppl = {}
        for t in ("f32", "q8_0", "q4_k"):
            model = stories
            if t != "f32":
                model = os.path.join(tmpd, "stories-%s.gguf" % t)
                rc, _, err = run("quantize", stories, model, "--type", t)
                expect(rc == 0, "quantize %s: %s" % (t, err))
            rc, out, err = run("perplexity", "-m", model, "-f", passage)
            expect(rc == 0 and out.startswith("perplexity: "), "perplexity %s: %s" % (t, err))
            ppl[t] = float(out.split()[1]) if rc == 0 else float("nan")
        print("# stories260K perplexity on Genesis: f32 %.3f, q8_0 %.3f (%+.2f%%), q4_k %.3f (%+.2f%%)" % (
            ppl["f32"], ppl["q8_0"], 100 * (ppl["q8_0"] / ppl["f32"] - 1), ppl["q4_k"],
            100 * (ppl["q4_k"] / ppl["f32"] - 1)))
        expect(abs(ppl["q8_0"] / ppl["f32"] - 1) < 0.01, "q8_0 perplexity not within 1% of f32")

        # importance matrix round trip: imatrix (GGUF and .dat) -> quantize --imatrix -> info -> generate
        im = {}
        for ext in ("gguf", "dat"):
            im[ext] = os.path.join(tmpd, "stories.imatrix." + ext)
            rc, out, err = run("imatrix", "-m", stories, "-f", passage, "-o", im[ext], "--ctx", 128, "--chunks", 6)
            expect(rc == 0 and out.startswith("perplexity: ") and "wrote" in err, "imatrix %s: %s" % (ext, err))
        with open(im["gguf"], "rb") as f:
            expect(f.read(4) == b"GGUF", "imatrix -o *.gguf writes GGUF")
        for ext in ("gguf", "dat"):
            q = os.path.join(tmpd, "stories-q3_k_m-%s.gguf" % ext)
            rc, _, err = run("quantize", stories, q, "--type", "q3_k_m", "--imatrix", im[ext])
            expect(rc == 0 and "importance weights for" in err, "quantize --imatrix %s: %s" % (ext, err))
            rc, out, err = run("info", q)
            expect(rc == 0 and "q4_0" in out and "q5_0" in out and "q8_0" in out, "info of the imatrix file: %s" % out)
            rc, out, err = run("generate", "-m", q, "-p", "Once upon a time", "-n", 12)
            expect(rc == 0 and len(out) > 20, "generate on the imatrix file: %r %s" % (out, err))
        plain = os.path.join(tmpd, "stories-q3_k_m.gguf")
        run("quantize", stories, plain, "--type", "q3_k_m")
        with open(plain, "rb") as f, open(os.path.join(tmpd, "stories-q3_k_m-gguf.gguf"), "rb") as g:
            expect(f.read() != g.read(), "quantize --imatrix changes the bytes")
        rc, _, err = run("quantize", stories, plain, "--type", "q4_0", "--imatrix", passage)
        expect(rc == 1 and "not an importance matrix" in err, "a text as --imatrix: %s" % err)
        rc, _, err = run("quantize", stories, plain, "--type", "q4_0", "--imatrix", os.path.join(tmpd, "none"))
        expect(rc == 1 and err.count("\n") == 1, "a missing --imatrix file: one line: %s" % err)
        rc, _, err = run("imatrix", "-m", stories, "-f", passage, "-o", im["gguf"], "--ctx", 4096)
        expect(rc == 1 and "at least" in err, "imatrix on too short a text: %s" % err)
        print("# imatrix round trip: GGUF and .dat, quantize --imatrix, info, generate")
        shutil.rmtree(tmpd)

    # tokenize / detokenize through the model directory
    rc, out, _ = run("tokenize", "-m", stories, "-p", "Once upon a time", "--bos")
    expect(rc == 0 and out == "1 403 407 261 378\n", "tokenize: %r" % out)
    rc, out, _ = run("detokenize", "-m", stories, "--ids", "403,407,261,378")
    expect(rc == 0 and out == "Once upon a time", "detokenize: %r" % out)
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(b"Lily  and\tBen\n")
        path = f.name
    rc, out, _ = run("tokenize", "-m", stories, "-f", path)
    rc2, out2, _ = run("tokenize", "-m", stories, "-p", "Lily  and\tBen\n")
    expect(rc == 0 and out == out2, "tokenize -f reads the file's bytes")
    with open(path, "wb") as f:
        f.write(b"bad \xc3\x28 utf8")
    rc, out, err = run("tokenize", "-m", stories, "-f", path)
    expect(rc == 1 and not out and len(err.strip().splitlines()) == 1 and "UTF-8" in err,
           "invalid UTF-8: %r" % err)
    os.unlink(path)
else:
    print("SKIP: %s not found; stories260K golden cases not run" % stories)

# --- chat requests through tokenize --chat (Mistral's tokenizers, from ../shared)
toks = os.path.join(SHARED, "tokenizers")
if os.path.isdir(os.path.join(toks, "chat")):
    files = {"v1": "tokenizer.model.v1", "v2": "mistral_instruct_tokenizer_240323.model.v3",
             "v3": "mistral_instruct_tokenizer_240323.model.v3"}
    n = 0
    for sample in sorted(os.listdir(os.path.join(toks, "chat"))):
        d = os.path.join(toks, "chat", sample)
        for v, tf in files.items():
            gold = os.path.join(d, "tokens_%s.json" % v)
            if not os.path.isfile(gold):
                continue
            rc, out, err = run("tokenize", "--tokenizer", os.path.join(toks, "mistral", tf),
                               "--chat", os.path.join(d, "sample.json"), "--chat-format", v)
            want = json.load(open(gold))["tokens"]
            expect(rc == 0 and ids(out) == want, "tokenize --chat %s %s: %s" % (sample, v, err.strip()))
            n += 1
    print("# tokenize --chat: %d golden encodings" % n)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write('{"messages": [{"role": "robot", "content": "hi"}]}')
        path = f.name
    rc, out, err = run("tokenize", "--tokenizer", os.path.join(toks, "mistral", files["v3"]), "--chat", path)
    expect(rc == 1 and "robot" in err and len(err.strip().splitlines()) == 1, "unknown role: %r" % err)
    os.unlink(path)
else:
    print("SKIP: %s not found; chat encodings not run" % os.path.join(toks, "chat"))

# --- tokenize / detokenize: the golden strings through the command line (a
# sample of each file; tests/unit/test_spm.c and test_tekken.c check every case)
gold_dir = os.path.join(SHARED, "tokenizers", "golden")
tok_files = {"mistral_v1": "mistral/tokenizer.model.v1",
             "mistral_v3": "mistral/mistral_instruct_tokenizer_240323.model.v3",
             "mistral_v7": "mistral/mistral_instruct_tokenizer_241114.model.v7",
             "tekken_240718": "mistral/tekken_240718.json"}
if os.path.isdir(gold_dir):
    n = 0
    for name, tf in tok_files.items():
        g = json.load(open(os.path.join(gold_dir, "golden_tokenize_%s.json" % name)))
        tk = os.path.join(SHARED, "tokenizers", tf)
        for c in g["cases"][::6]:
            with tempfile.NamedTemporaryFile("wb", delete=False) as f:
                f.write(c["text"].encode("utf-8", "surrogatepass"))
            rc, out, err = run("tokenize", "--tokenizer", tk, "-f", f.name, "--bos")
            os.unlink(f.name)
            expect(rc == 0 and ids(out) == c["ids_with_bos"], "tokenize %s %r: %s" % (name, c["text"][:20], err))
            p = subprocess.run([ENGINE, "detokenize", "--tokenizer", tk, "--ids", ",".join(map(str, c["ids"]))],
                               capture_output=True, timeout=60)
            expect(p.returncode == 0 and p.stdout.decode() == c["decoded"], "detokenize %s %r" % (name, c["text"][:20]))
            n += 1
    print("# tokenize/detokenize: %d golden strings" % n)
else:
    print("SKIP: %s not found; tokenizer golden strings not run" % gold_dir)

# --- --tokens-file: every prompt in one batch, each line as if alone
golden = json.load(open("tests/data/golden/moe_sw8_f32.json"))
prompts = [c["prompt"] for c in golden["cases"]]
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    for i, p in enumerate(prompts):
        f.write((" " if i % 2 else ",").join(map(str, p)) + "\n")
    path = f.name
for chunk in (None, 3):
    extra = ["--chunk-size", chunk] if chunk else []
    rc, out, err = run("generate", "-m", "tests/data/tiny/moe_sw8_f32", "--tokens-file", path,
                       "-n", 16, "--temperature", 0, "--ids", *extra)
    lines = out.splitlines()
    expect(rc == 0 and [ids(l) for l in lines] == golden["batched_generate_tokens"],
           "--tokens-file batch (chunk %s): %s" % (chunk, err.strip()))
# sampling: a batch gives each prompt what it gets alone, and a seed repeats
rc, batch, _ = run("generate", "-m", "tests/data/tiny/moe_sw8_f32", "--tokens-file", path, "-n", 12,
                   "--temperature", 0.8, "--top-p", 0.9, "--seed", 7, "--ids")
alone = [run("generate", "-m", "tests/data/tiny/moe_sw8_f32", "--tokens", ",".join(map(str, p)),
             "-n", 12, "--temperature", 0.8, "--top-p", 0.9, "--seed", 7, "--ids")[1].strip()
         for p in prompts]
expect(rc == 0 and batch.splitlines() == alone, "sampled batch differs from sampled runs alone")
os.unlink(path)

# --- --sliding-window overrides the model's window (0: full attention)
p = ",".join(map(str, prompts[0]))
_, w8, _ = run("logits", "-m", "tests/data/tiny/dense_sw8_f32", "--tokens", p)
_, w0, _ = run("logits", "-m", "tests/data/tiny/dense_sw8_f32", "--tokens", p, "--sliding-window", 0)
_, w8b, _ = run("logits", "-m", "tests/data/tiny/dense_sw8_f32", "--tokens", p, "--sliding-window", 8)
expect(w8 == w8b and w8 != w0, "--sliding-window override")

# --- developer overrides, read by the CLI: MISTRAL_SIMD picks a kernel table
# (unknown: the default), MISTRAL_REPACK=0 keeps the rows as loaded; the
# generic table has no packed layouts, so with it both agree bit for bit
lg = ("logits", "-m", "tests/data/tiny/dense_sw8_f32", "--tokens", p)
d = run_env({}, *lg)
g = run_env({"MISTRAL_SIMD": "generic"}, *lg)
g0 = run_env({"MISTRAL_SIMD": "generic", "MISTRAL_REPACK": "0"}, *lg)
b = run_env({"MISTRAL_SIMD": "bogus"}, *lg)
d0 = run_env({"MISTRAL_REPACK": "0"}, *lg)
expect(all(r[0] == 0 for r in (d, g, g0, b, d0)), "MISTRAL_SIMD / MISTRAL_REPACK runs")
expect(g[1] == g0[1] and b[1] == d[1], "MISTRAL_SIMD=generic with and without MISTRAL_REPACK=0; unknown table")
if os.uname().machine in ("x86_64", "aarch64"):
    expect(g[1] != d[1], "MISTRAL_SIMD=generic changes the table")

# --- --mem-limit: experts streamed from the file into a cache; the same ids
moe = "tests/data/tiny/moe_sw8_f32"
gen = ("generate", "-m", moe, "--tokens", "1,2,3,4,5,6,7,8,9,10", "-n", 12, "--ids", "--chunk-size", 3)
rc, want, _ = run(*gen)
rc2, small, err = run(*gen, "--mem-limit", 1)
expect(rc2 == 1 and "at least" in err and len(err.strip().splitlines()) == 1, "--mem-limit 1: %r" % err)
least = int(err.split("(")[-1].split()[0])
for lim in (least, least + 150000, "1M"):
    rc2, got, err = run(*gen, "--mem-limit", lim)
    expect(rc == 0 and rc2 == 0 and got == want, "--mem-limit %s: %r vs %r %s" % (lim, got, want, err))
rc2, got, err = run(*gen, "--mem-limit", least, "--verbose")
rep = [l for l in err.splitlines() if l.startswith("expert cache [")]
expect(rc2 == 0 and got == want and any(l.startswith("expert cache [pp]: ") for l in rep)
       and any(l.startswith("expert cache [tg]: ") and "hit the cache" in l for l in rep),
       "generate --mem-limit --verbose: %r" % err)
rc2, _, err = run(*gen, "--verbose")
expect(rc2 == 0 and "expert cache" not in err, "--verbose without --mem-limit: %r" % err)
# -v: the peak resident size, beside the weights and the KV cache
mem = [l for l in err.splitlines() if l.startswith("memory: peak resident ")]
expect(len(mem) == 1 and float(mem[0].split()[3]) > 0 and "KV cache" in mem[0], "-v memory line: %r" % err)
for bad in ("8X", "-1", "G", "0"):
    rc2, _, err = run(*gen, "--mem-limit", bad)
    expect(rc2 == 2 and "--mem-limit" in err, "--mem-limit %s: exit %d %r" % (bad, rc2, err))
rc2, _, err = run("generate", "-m", "tests/data/tiny/dense_sw8_f32", "--tokens", "1,2", "-n", 2, "--ids", "--mem-limit", "1G")
expect(rc2 == 1 and "experts" in err, "--mem-limit on a dense model: %r" % err)
rc2, out, err = run("bench", "-m", moe, "-p", 8, "-n", 4, "-r", 1, "--json", "--mem-limit", least)
try:
    ec = json.loads(out.splitlines()[-1])["expert_cache"]
    ok = ec["slots"] == 1 and ec["disk_gb_s"] > 0 and 0 <= ec["tg"]["prediction"] <= 1 and ec["tg"]["gb_read_per_token"] > 0 and ec["tg"]["read_gb_s"] > 0
except (ValueError, KeyError, IndexError):
    ok = False
expect(rc2 == 0 and ok, "bench --mem-limit --json: %r %s" % (out[-300:], err))

# --- speculative decoding: the same ids as plain decoding; a foreign draft refused
sw8, moe8 = "tests/data/tiny/dense_sw8_f32", "tests/data/tiny/moe_sw8_f32"
with tempfile.TemporaryDirectory() as td:
    path = os.path.join(td, "prompts.txt")
    with open(path, "w") as f:
        f.write("1 2 3 1 2 3 1 2\n7\n5 9 5 9 5 9 5 9 5 9 5 9 4\n")
    for samp in ([], ["--temp", 0.8, "--top-p", 0.9, "--seed", 5]):
        rc, plain, _ = run("generate", "-m", sw8, "--tokens-file", path, "-n", 24, "--ids", *samp)
        for spec in (["--lookup", 2], ["--lookup", 1, "--draft-max", 7], ["--draft", moe8, "--draft-max", 3],
                     ["--draft", sw8]):
            rc2, out, err = run("generate", "-m", sw8, "--tokens-file", path, "-n", 24, "--ids", *samp, *spec)
            expect(rc == 0 and rc2 == 0 and out == plain and "speculation: drafted" in err,
                   "generate %s %s: %r vs %r %s" % (samp, spec, out, plain, err))
rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--ids", "--draft",
                 "tests/data/conformance/tiny/dense_sw5_f16")
expect(rc == 1 and len(err.strip().splitlines()) == 1 and "vocabulary has 128 tokens, the model's 256" in err,
       "--draft with another vocabulary: exit %d %r" % (rc, err))
rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--ids", "--draft", sw8, "--lookup", 2)
expect(rc == 2 and "not both" in err, "--draft with --lookup: exit %d %r" % (rc, err))
rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--draft-max", 4)
expect(rc == 2 and "--draft-max" in err, "--draft-max alone: exit %d %r" % (rc, err))
rc, _, err = run("serve", "-m", sw8, "--draft-policy", "always")
expect(rc == 2 and "--draft-policy" in err, "serve --draft-policy alone: exit %d %r" % (rc, err))
rc, _, err = run("serve", "-m", sw8, "--lookup", 2, "--draft-policy", "sometimes")
expect(rc == 2 and "auto or always" in err, "serve --draft-policy sometimes: exit %d %r" % (rc, err))
rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--lookup", 2, "--draft-policy", "always")
expect(rc == 2 and "--draft-policy" in err, "generate --draft-policy: exit %d %r" % (rc, err))
rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--lookup", 2, "--draft-max", 99)
expect(rc == 2 and "--draft-max" in err, "--draft-max 99: exit %d %r" % (rc, err))
rc, out, err = run("bench", "-m", sw8, "-p", 8, "-n", 16, "-r", 1, "--json", "--lookup", 2)
try:
    sp = json.loads(out.splitlines()[-1])["spec"]
    ok = sp["drafter"] == "lookup" and sp["n"] == 16 and 0 <= sp["accepted"] <= sp["drafted"] and sp["plain_tok_s"] > 0 \
        and sp["spec_tok_s"] > 0 and 0 <= sp["acceptance"] <= 1
except (ValueError, KeyError, IndexError):
    ok = False
expect(rc == 0 and ok, "bench --lookup --json: %r %s" % (out[-400:], err))
rc, out, err = run("bench", "-m", sw8, "-p", 8, "-n", 16, "-r", 1, "--draft", moe8)
expect(rc == 0 and "speculative decode" in out and "| speculative  |" in out, "bench --draft: %r %s" % (out, err))
if os.path.isdir(stories):
    text = "Once upon a time, there was a little girl named Lily. She loved to play. Once upon a time, there was"
    rc, plain, _ = run("generate", "-m", stories, "-p", text, "-n", 40, "--temp", 0.8, "--seed", 3)
    for spec in (["--lookup", 3], ["--draft", stories, "--draft-max", 5]):
        rc2, out, err = run("generate", "-m", stories, "-p", text, "-n", 40, "--temp", 0.8, "--seed", 3, *spec)
        expect(rc == 0 and rc2 == 0 and out == plain and "speculation: drafted" in err,
               "stories260K %s: %r vs %r %s" % (spec, out, plain, err))
    # a guide's masks apply to the drafted rows one after the other
    for guide in (["--regex", "(the (cat|dog|girl) (ran|sat)\\. ){1,9}"], ["--json"]):
        rc, plain, _ = run("generate", "-m", stories, "-p", "Once upon a time", "-n", 60, "--temp", 0.7, "--seed", 4,
                           *guide)
        for spec in (["--lookup", 2], ["--draft", stories, "--draft-max", 4]):
            rc2, out, err = run("generate", "-m", stories, "-p", "Once upon a time", "-n", 60, "--temp", 0.7,
                                "--seed", 4, *guide, *spec)
            expect(rc == 0 and rc2 == 0 and out == plain and "speculation: drafted" in err,
                   "stories260K %s %s: %r vs %r %s" % (guide, spec, out, plain, err))

# --- penalties: a batch and speculation give each prompt its tokens alone; bad values refused
with tempfile.TemporaryDirectory() as td:
    path = os.path.join(td, "prompts.txt")
    with open(path, "w") as f:
        f.write("1 2 3 1 2 3 1 2\n7\n5 9 5 9 5 9 5 9 5 9 5 9 4\n")
    for pen in (["--frequency-penalty", 1.5], ["--presence-penalty", -1, "--repeat-penalty", 1.4, "--repeat-last-n", 5]):
        for samp in ([], ["--temp", 0.8, "--seed", 5]):
            rc, plain, _ = run("generate", "-m", sw8, "--tokens-file", path, "-n", 24, "--ids", *samp)
            rc1, batch, err = run("generate", "-m", sw8, "--tokens-file", path, "-n", 24, "--ids", *samp, *pen)
            alone = [run("generate", "-m", sw8, "--tokens", l.replace(" ", ","), "-n", 24, "--ids", *samp, *pen,
                         "--chunk-size", 3)[1].strip() for l in open(path).read().split("\n") if l]
            expect(rc == 0 and rc1 == 0 and batch != plain and batch.splitlines() == alone,
                   "penalties %s %s: batch %r, alone %r, plain %r %s" % (pen, samp, batch, alone, plain, err))
            for spec in (["--lookup", 2], ["--draft", moe8, "--draft-max", 3]):
                rc2, out, err = run("generate", "-m", sw8, "--tokens-file", path, "-n", 24, "--ids", *samp, *pen, *spec)
                expect(rc2 == 0 and out == batch and "speculation: drafted" in err,
                       "penalties %s %s %s: %r vs %r %s" % (pen, samp, spec, out, batch, err))
for bad, code, msg in ((["--presence-penalty", 3], 1, "presence penalty 3 out of range"),
                       (["--frequency-penalty", "x"], 2, "--frequency-penalty"),
                       (["--repeat-penalty", 1.2, "--pipeline"], 2, "--repeat-penalty does not work with --pipeline")):
    rc, _, err = run("generate", "-m", sw8, "--tokens", "1,2", "-n", 4, "--ids", *bad)
    expect(rc == code and len(err.strip().splitlines()) == 1 and msg in err, "%s: exit %d %r" % (bad, rc, err))

# --- help on every subcommand
for cmd in ("generate", "logits", "chat", "tokenize", "detokenize"):
    rc, out, _ = run(cmd, "--help")
    expect(rc == 0 and "usage: mistral " + cmd in out, cmd + " --help")
rc, out, _ = run("--help")
expect(rc == 0 and "generate" in out, "mistral --help")
rc, _, err = run("frobnicate")
expect(rc != 0 and len(err.strip().splitlines()) == 1, "unknown command")

print("cli_test: %s" % ("ok" if failures == 0 else "%d FAILED" % failures))
sys.exit(1 if failures else 0)

#!/usr/bin/env python3
"""Command-line tests beyond check.py: the trained stories260K model's golden
greedy ids (read from ../shared, skipped where absent), batched generation
from --tokens-file, --help on every subcommand. Standard library only."""
import json
import os
import subprocess
import sys
import tempfile

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "build/mistral"
SHARED = os.environ.get("MISTRAL_SHARED", "../shared")
failures = 0


def run(*args):
    p = subprocess.run([ENGINE, *map(str, args)], capture_output=True, text=True, timeout=300)
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
    print("# stories260K: %d golden cases" % len(golden["cases"]))
else:
    print("SKIP: %s not found; stories260K golden cases not run" % stories)

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

# --- help on every subcommand
for cmd in ("generate", "logits"):
    rc, out, _ = run(cmd, "--help")
    expect(rc == 0 and "usage: mistral " + cmd in out, cmd + " --help")
rc, out, _ = run("--help")
expect(rc == 0 and "generate" in out, "mistral --help")
rc, _, err = run("frobnicate")
expect(rc != 0 and len(err.strip().splitlines()) == 1, "unknown command")

print("cli_test: %s" % ("ok" if failures == 0 else "%d FAILED" % failures))
sys.exit(1 if failures else 0)

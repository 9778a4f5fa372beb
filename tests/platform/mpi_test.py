#!/usr/bin/env python3
"""Distributed generation under mpirun (tests/platform/mpi.sh runs this).

  python3 tests/platform/mpi_test.py SINGLE_MISTRAL MPI_MISTRAL

- --pipeline (np 2, 3 and 4, even and --layer-split), --expert-parallel
  (np 2, 3 and 4) and both (2 stages of 2 ranks) give the reference's greedy ids on every golden checkpoint,
  one prompt or a batch (--tokens-file), chunked prefill or not; and the same
  text/ids as one process on stories260K (skipped where ../shared lacks it);
- bad flags and impossible splits are one line and a non-zero exit;
- ranks that load different models all say so and exit non-zero;
- a rank that never starts ends the job after MISTRAL_DIST_TIMEOUT;
- a rank killed with SIGKILL mid-run ends every rank within seconds;
- `mistral serve --pipeline` (np 2) and `--expert-parallel` (np 2, a tiny
  MoE) answer concurrent completions with the text of one process, and
  SIGINT to the server (rank 0) ends every rank, mpirun with status 0.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

SINGLE, MPI = sys.argv[1], sys.argv[2]
MPIRUN = ["mpirun", "--oversubscribe"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, "tests/data/tiny")
STORIES = os.path.join(ROOT, "..", "shared", "models", "stories260K")
failures = 0
checks = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL mpi: " + msg)


def run(argv, timeout=120, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def mpirun(np, args, timeout=120):
    return run(MPIRUN + ["-np", str(np), MPI] + args, timeout)


def expect_same(what, got, want):
    global checks
    checks += 1
    if got != want:
        fail("%s: got %r, expected %r" % (what, got[:300], want[:300]))


def golden_cases(tmp):
    """Every golden checkpoint: its prompts as one --tokens-file batch."""
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/data/golden/*.json"))):
        g = json.load(open(path))
        if "cases" not in g:
            continue
        ck = os.path.join(TINY, g["checkpoint"])
        tf = os.path.join(tmp, g["checkpoint"] + ".txt")
        with open(tf, "w") as f:
            for c in g["cases"]:
                f.write(",".join(map(str, c["prompt"])) + "\n")
        want = "".join(" ".join(map(str, c["greedy_tokens"])) + "\n" for c in g["cases"])
        yield g, ck, tf, want


def check_golden(tmp):
    for g, ck, tf, want in golden_cases(tmp):
        p = g["params"]
        L, E = p["n_layers"], p.get("moe", {}).get("num_experts", 0)
        n = str(len(g["cases"][0]["greedy_tokens"]))
        runs = [(2, ["--pipeline"]), (2, ["--pipeline", "--chunk-size", "3"])]
        if L >= 3:
            runs += [(3, ["--pipeline"]), (3, ["--pipeline", "--chunk-size", "5"])]
            runs += [(2, ["--pipeline", "--layer-split", "%d,1" % (L - 1)])]
        if L >= 4:
            runs += [(4, ["--pipeline", "--chunk-size", "2"])]
        if E:
            runs += [(2, ["--expert-parallel"]), (3, ["--expert-parallel", "--chunk-size", "3"])]
        if E >= 4:
            runs += [(4, ["--expert-parallel"])]
        if E:  # each rank streams its own experts through a cache of ~2 of them
            runs += [(2, ["--expert-parallel", "--mem-limit", "600K"]), (2, ["--pipeline", "--mem-limit", "600K"])]
        if E >= 2 and L >= 2:  # 2 stages of 2 ranks sharing the experts
            runs += [(4, ["--pipeline", "--expert-parallel", "--layer-split", "%d,%d" % (L - L // 2, L // 2),
                          "--chunk-size", "4"])]
        for np, extra in runs:
            what = "%s np=%d %s" % (g["checkpoint"], np, " ".join(extra))
            rc, out, err = mpirun(np, ["generate", "-m", ck, "--tokens-file", tf, "-n", n, "--ids"] + extra)
            if rc:
                fail("%s: exit %d: %s" % (what, rc, err.strip()[-300:]))
                continue
            expect_same(what + " (batch)", out, want)
        # one prompt alone (no micro-batches), both modes
        c = g["cases"][0]
        toks = ",".join(map(str, c["prompt"]))
        one = " ".join(map(str, c["greedy_tokens"])) + "\n"
        for np, extra in [(2, ["--pipeline"])] + ([(2, ["--expert-parallel"])] if E else []):
            rc, out, err = mpirun(np, ["generate", "-m", ck, "--tokens", toks, "-n", n, "--ids"] + extra)
            expect_same("%s np=%d %s (one prompt)" % (g["checkpoint"], np, extra[0]), out if rc == 0 else err, one)


def check_stories(tmp):
    if not os.path.isdir(STORIES):
        print("mpi: skipped stories260K (../shared/models/stories260K is absent)")
        return
    base = ["generate", "-m", STORIES, "-p", "Once upon a time", "-n", "48"]
    rc, want, err = run([SINGLE] + base)
    if rc:
        fail("stories260K single process: " + err)
        return
    for np, extra in [(2, []), (3, ["--chunk-size", "2"]), (3, ["--layer-split", "1,3,1"])]:
        rc, out, err = mpirun(np, base + ["--pipeline"] + extra)
        expect_same("stories260K text np=%d %s" % (np, " ".join(extra)), out if rc == 0 else err, want)
    tf = os.path.join(tmp, "stories.txt")
    with open(tf, "w") as f:
        f.write("1 403 407 261 378\n1 365\n1 403 407 261 378 437 410 285 346 308\n1 306 272\n")
    base = ["generate", "-m", STORIES, "--tokens-file", tf, "-n", "40", "--ids"]
    rc, want, err = run([SINGLE] + base)
    for np in (2, 3):
        rc, out, err = mpirun(np, base + ["--pipeline"])
        expect_same("stories260K batch np=%d" % np, out if rc == 0 else err, want)


def expect_error(what, rc, err, text):
    global checks
    checks += 1
    if rc == 0 or text not in err:
        fail("%s: exit %d, stderr %r (expected %r)" % (what, rc, err[-400:], text))


def check_errors():
    d8 = os.path.join(TINY, "dense_sw8_f32")
    gen = ["generate", "-m", d8, "--tokens", "1,2,3", "-n", "4", "--ids"]
    rc, out, err = mpirun(5, gen + ["--pipeline"])
    expect_error("np 5 > 4 layers", rc, err, "5 pipeline stages for a model of 4 layers")
    rc, out, err = mpirun(2, gen + ["--pipeline", "--layer-split", "1,1"])
    expect_error("split sums to 2", rc, err, "adds up to 2 layers, the model has 4")
    rc, out, err = mpirun(2, gen + ["--pipeline", "--layer-split", "4,0"])
    expect_error("split with a 0", rc, err, "expected layer counts")
    rc, out, err = mpirun(2, gen + ["--expert-parallel"])
    expect_error("dense --expert-parallel", rc, err, "the model is dense")
    rc, out, err = mpirun(2, gen + ["--expert-parallel", "--pipeline"])
    expect_error("both modes without a split", rc, err, "needs --layer-split")
    moe = ["generate", "-m", os.path.join(TINY, "moe_sw8_f32"), "--tokens", "1,2,3", "-n", "4", "--ids"]
    rc, out, err = mpirun(3, moe + ["--expert-parallel", "--pipeline", "--layer-split", "1,1"])
    expect_error("3 ranks for 2 stages", rc, err, "3 processes cannot be shared evenly among the 2 stages")
    rc, out, err = run([MPI] + gen + ["--pipeline"])
    expect_error("no mpirun", rc, err, "needs 2 or more processes")
    rc, out, err = run([SINGLE] + gen + ["--pipeline"])
    expect_error("no MPI build", rc, err, "make MPI=1")
    rc, out, err = run([SINGLE] + gen + ["--layer-split", "2,2"])
    expect_error("--layer-split alone", rc, err, "--layer-split needs --pipeline")

    # two ranks, two different models: every rank says so
    other = os.path.join(TINY, "dense_sw8_bf16")
    argv = MPIRUN + ["-np", "1", MPI] + gen + ["--pipeline", ":", "-np", "1", MPI, "generate", "-m", other,
                                                "--tokens", "1,2,3", "-n", "4", "--ids", "--pipeline"]
    rc, out, err = run(argv)
    expect_error("different models", rc, err, "not the same on every rank")
    checks_ranks = [r for r in ("rank 0 of 2", "rank 1 of 2") if r + ": the model or the sampling options: not the same" not in err]
    if rc and checks_ranks:
        fail("different models: no message from %s: %r" % (checks_ranks, err[-400:]))

    # a rank that never joins: the others give up after MISTRAL_DIST_TIMEOUT
    t0 = time.time()
    argv = MPIRUN + ["-x", "MISTRAL_DIST_TIMEOUT=2", "-np", "1", MPI] + gen + ["--pipeline", ":", "-np", "1",
                                                                              "sleep", "60"]
    rc, out, err = run(argv, timeout=60)
    expect_error("a rank that never starts", rc, err, "did not all start within 2 s")
    if time.time() - t0 > 20:
        fail("a rank that never starts: the job took %.1f s to end" % (time.time() - t0))


def rank_pids(parent):
    """{rank: pid} of the processes mpirun started (from their environment)."""
    pids = {}
    try:
        kids = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return pids
    for pid in kids:
        try:
            env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        for kv in env:
            if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                pids[int(kv.split(b"=")[1])] = int(pid)
    return pids


def check_kill():
    """kill -9 of rank 1 in a long run: mpirun and rank 0 are gone within 20 s."""
    global checks
    d8 = os.path.join(TINY, "dense_sw8_f32")
    p = subprocess.Popen(MPIRUN + ["-np", "2", MPI, "generate", "-m", d8, "--tokens", "1,2,3", "-n",
                                   "16000000", "--ids", "--pipeline"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pids = {}
    for _ in range(100):  # up to 10 s for both ranks to start
        time.sleep(0.1)
        pids = rank_pids(p.pid)
        if len(pids) == 2:
            break
    if len(pids) != 2:
        p.kill()
        print("mpi: skipped the killed-rank test (cannot see mpirun's processes: %r)" % pids)
        return
    time.sleep(1.0)
    t0 = time.time()
    os.kill(pids[1], signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        os.kill(pids[0], signal.SIGKILL)
        fail("killed rank: the job was still running 20 s later")
        return
    took = time.time() - t0
    checks += 1
    alive = os.path.exists("/proc/%d" % pids[0]) and "zombie" not in open("/proc/%d/status" % pids[0]).read().lower()
    if p.returncode == 0 or alive:
        fail("killed rank: mpirun exit %d, rank 0 alive: %s" % (p.returncode, alive))
    print("mpi: rank 1 killed with SIGKILL: the job ended in %.1f s, exit %d" % (took, p.returncode))


def http(port, path, body=None, timeout=30):
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def serve_case(name, model, extra, prompts, want, port):
    """mpirun -np 2 mistral serve ... extra: every prompt's completion (sent
    at once, from threads) must be `want` of it; then SIGINT to rank 0 (the
    server) ends every rank, and mpirun exits 0."""
    import threading
    global checks
    p = subprocess.Popen(MPIRUN + ["-np", "2", MPI, "serve", "-m", model, "--port", str(port), "--parallel", "4",
                                   "-t", "1"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        t_end = time.time() + 60
        while time.time() < t_end:
            try:
                if http(port, "/health", timeout=2).get("status") == "ok":
                    break
            except Exception:
                time.sleep(0.2)
        got = [None] * len(prompts)

        def one(i):
            try:
                got[i] = http(port, "/v1/completions", {"prompt": prompts[i], "max_tokens": 16, "logprobs": 0})
            except Exception as e:  # noqa: BLE001
                got[i] = e
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for i, g in enumerate(got):
            if isinstance(g, Exception) or g is None:
                fail("%s: prompt %d: %r" % (name, i, g))
                continue
            expect_same("%s: prompt %d" % (name, i), want(g), want_of[name][i])
    finally:
        pids = rank_pids(p.pid)
        if 0 in pids:
            os.kill(pids[0], signal.SIGINT)
        else:
            fail("%s: rank 0's pid not found" % name)
            p.send_signal(signal.SIGINT)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            err = ""
            fail("%s: SIGINT did not end the job in 30 s" % name)
        checks += 1
        if p.returncode != 0:
            fail("%s: after SIGINT mpirun exited %d: %s" % (name, p.returncode, err[-300:]))


want_of = {}


def check_serve(tmp):
    if not os.path.isdir(STORIES):
        print("mpi: %s absent: serve over MPI skipped" % STORIES)
        return
    base = 21000 + os.getpid() % 4000
    texts = ["Once upon a time", "The little dog", "Lily and Ben", "A big red ball"]
    want_of["pipeline"] = [run([SINGLE, "generate", "-m", STORIES, "-p", t, "-n", "16"])[1] for t in texts]
    serve_case("pipeline", STORIES, ["--pipeline"], texts, lambda g: g["choices"][0]["text"], base)
    moe = os.path.join(tmp, "tiny-moe.gguf")
    rc, _, err = run([SINGLE, "synth", moe, "--shape", "tiny-moe", "--type", "f32", "--tokenizer",
                      os.path.join(STORIES, "tokenizer.model")])
    if rc:
        fail("synth tiny-moe: " + err)
        return
    ids = [[1, 5, 9, 13], [1, 300, 7], [1, 42, 42, 42, 42, 42], [1, 2]]
    want_of["expert-parallel"] = [run([SINGLE, "generate", "-m", moe, "--tokens", ",".join(map(str, x)), "-n", "16"])[1]
                                  for x in ids]
    serve_case("expert-parallel", moe, ["--expert-parallel"], ids, lambda g: g["choices"][0]["text"], base + 1)


def timed(name, f, *a):
    t0 = time.time()
    f(*a)
    print("mpi: %s: %.1f s" % (name, time.time() - t0))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        timed("golden checkpoints", check_golden, tmp)
        timed("stories260K", check_stories, tmp)
        timed("serve", check_serve, tmp)
    timed("errors", check_errors)
    timed("killed rank", check_kill)
    print("mpi: %d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

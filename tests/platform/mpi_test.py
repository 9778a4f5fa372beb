#!/usr/bin/env python3
"""Distributed generation under mpirun (tests/platform/mpi.sh runs this).

  python3 tests/platform/mpi_test.py SINGLE_MISTRAL MPI_MISTRAL [PART ...]

PART: golden, stories, serve, errors, kill (default: all of them).

- --pipeline (np 2, 3 and 4, even and --layer-split), --expert-parallel
  (np 2, 3 and 4) and both (2 stages of 2 ranks) give the reference's greedy ids on every golden checkpoint,
  one prompt or a batch (--tokens-file), chunked prefill or not; and the same
  text/ids as one process on stories260K (skipped where ../shared lacks it);
- speculation (--lookup, --draft) through --pipeline and through
  --expert-parallel alone gives the single process's ids, greedy and seeded;
- bad flags and impossible splits are one line and a non-zero exit;
- ranks that load different models all say so and exit non-zero;
- a rank that never starts ends the job after MISTRAL_DIST_TIMEOUT;
- a rank killed with SIGKILL mid-run ends every rank within seconds;
- `mistral serve --pipeline` (np 2) and `--expert-parallel` (np 2, a tiny
  MoE), plain and speculating, answer concurrent completions with the text
  of one process, and
  SIGINT to the server (rank 0) ends every rank, mpirun with status 0.
A failed job is reported with the first lines of each rank's stderr, under
its rank (mpirun --output-filename keeps them apart), not mpirun's banners.
"""
import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SINGLE, MPI = sys.argv[1], sys.argv[2]
PARTS = sys.argv[3:]  # golden stories serve errors kill: only these (default: all)
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


class Job:
    """One finished process or mpirun: its exit status, stdout, stderr (with
    mpirun, every rank's and mpirun's own, interleaved as mpirun forwarded
    them) and, with mpirun, each rank's own stderr: {rank: text}."""

    def __init__(self, rc, out, err, ranks=None):
        self.rc, self.out, self.err, self.ranks = rc, out, err, ranks or {}


def run(argv, timeout=120, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=e)
    return Job(p.returncode, p.stdout, p.stderr)


def rank_stderr(d):
    """{rank: stderr} from mpirun --output-filename d (d/1/rank.N/stderr)."""
    ranks = {}
    for path in glob.glob(os.path.join(d, "*", "rank.*", "stderr")):
        with open(path, errors="replace") as f:
            ranks[int(os.path.basename(os.path.dirname(path))[5:])] = f.read()
    return ranks


def mpi_job(args, timeout=120, env=None):
    """mpirun ARGS (the options after mpirun's own): every rank's stderr also
    goes to a file of its own, so that a failure can be told by rank."""
    d = tempfile.mkdtemp(prefix="ranks-")
    try:
        j = run(MPIRUN + ["--output-filename", d] + args, timeout, env)
        j.ranks = rank_stderr(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return j


def mpirun(np, args, timeout=120):
    return mpi_job(["-np", str(np), MPI] + args, timeout)


def why(j, lines=6):
    """What a failed job said, for a FAIL line: the first lines of each
    rank's stderr under its rank (first the rank that mpirun names as the
    first to fail), then mpirun's own lines without its banners' rules; a
    plain process (or an mpirun whose ranks wrote no file): the first lines
    of its stderr."""
    def head(text):
        return [x for x in text.splitlines() if x.strip()][:lines]
    if not j.ranks:
        return "\n".join("  " + x for x in head(j.err)) or "  (nothing on stderr)"
    m = re.search(r"Process name: \[\[\d+,\d+\],(\d+)\]|process rank (\d+) with PID", j.err)
    first = int(m.group(1) or m.group(2)) if m else -1
    out = []
    for r in sorted(j.ranks, key=lambda r: (r != first, r)):
        h = head(j.ranks[r])
        out += ["  rank %d: %s" % (r, x) for x in h] or ["  rank %d: (nothing on stderr)" % r]
    theirs = collections.Counter(x for t in j.ranks.values() for x in t.splitlines())
    own = []
    for x in j.err.splitlines():
        if theirs[x] > 0:
            theirs[x] -= 1
        elif x.strip(" -"):
            own.append(x.strip())
    out += ["  mpirun: " + x for x in own[:2 * lines]]
    return "\n".join(out)


def expect_same(what, got, want):
    global checks
    checks += 1
    if got != want:
        fail("%s: got %r, expected %r" % (what, got[:300], want[:300]))


def expect_job(what, j, want):
    """j exited 0 and printed want."""
    global checks
    if j.rc:
        checks += 1
        fail("%s: exit %d:\n%s" % (what, j.rc, why(j)))
        return
    expect_same(what, j.out, want)


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
            # and speculating: a verify step's rows share each expert's read
            runs += [(2, ["--expert-parallel", "--mem-limit", "600K", "--lookup", "2"])]
        if E >= 2 and L >= 2:  # 2 stages of 2 ranks sharing the experts
            runs += [(4, ["--pipeline", "--expert-parallel", "--layer-split", "%d,%d" % (L - L // 2, L // 2),
                          "--chunk-size", "4"])]
        for np, extra in runs:
            what = "%s np=%d %s" % (g["checkpoint"], np, " ".join(extra))
            expect_job(what + " (batch)", mpirun(np, ["generate", "-m", ck, "--tokens-file", tf, "-n", n, "--ids"] + extra),
                       want)
        # one prompt alone (no micro-batches), both modes
        c = g["cases"][0]
        toks = ",".join(map(str, c["prompt"]))
        one = " ".join(map(str, c["greedy_tokens"])) + "\n"
        for np, extra in [(2, ["--pipeline"])] + ([(2, ["--expert-parallel"])] if E else []):
            expect_job("%s np=%d %s (one prompt)" % (g["checkpoint"], np, extra[0]),
                       mpirun(np, ["generate", "-m", ck, "--tokens", toks, "-n", n, "--ids"] + extra), one)


def check_stories(tmp):
    if not os.path.isdir(STORIES):
        print("mpi: skipped stories260K (../shared/models/stories260K is absent)")
        return
    base = ["generate", "-m", STORIES, "-p", "Once upon a time", "-n", "48"]
    one = run([SINGLE] + base)
    if one.rc:
        fail("stories260K single process: exit %d:\n%s" % (one.rc, why(one)))
        return
    for np, extra in [(2, []), (3, ["--chunk-size", "2"]), (3, ["--layer-split", "1,3,1"])]:
        expect_job("stories260K text np=%d %s" % (np, " ".join(extra)), mpirun(np, base + ["--pipeline"] + extra),
                   one.out)
    tf = os.path.join(tmp, "stories.txt")
    with open(tf, "w") as f:
        f.write("1 403 407 261 378\n1 365\n1 403 407 261 378 437 410 285 346 308\n1 306 272\n")
    base = ["generate", "-m", STORIES, "--tokens-file", tf, "-n", "40", "--ids"]
    one = run([SINGLE] + base)
    for np in (2, 3):
        expect_job("stories260K batch np=%d" % np, mpirun(np, base + ["--pipeline"]), one.out)
    # speculation through the stages, the drafter on rank 0: the single process's ids
    for samp in ([], ["--temp", "0.8", "--top-p", "0.9", "--seed", "5"]):
        one = run([SINGLE] + base + samp)
        for np, spec in [(2, ["--lookup", "2"]), (3, ["--lookup", "1", "--draft-max", "6"]),
                         (2, ["--draft", STORIES, "--draft-max", "4"]), (3, ["--draft", STORIES])]:
            j = mpirun(np, base + samp + ["--pipeline"] + spec)
            expect_job("stories260K speculative np=%d %s %s" % (np, " ".join(samp), " ".join(spec)), j, one.out)
            if j.rc == 0 and "speculation: drafted" not in j.err:
                fail("stories260K speculative np=%d %s: no speculation report:\n%s" % (np, " ".join(spec), why(j)))
    # --expert-parallel alone, speculating: rank 0 drafts and sends each step
    # through the ranks; a tiny MoE with stories260K's tokenizer, drafted by
    # lookup or by stories260K itself (a dense draft): the single process's ids
    moe = tiny_moe(tmp)
    if not moe:
        return
    base = ["generate", "-m", moe, "--tokens-file", tf, "-n", "24", "--ids"]
    for samp in ([], ["--temp", "0.8", "--top-p", "0.9", "--seed", "5"]):
        one = run([SINGLE] + base + samp)
        for np, spec in [(2, ["--lookup", "2"]), (3, ["--lookup", "1", "--draft-max", "6", "--chunk-size", "3"]),
                         (2, ["--draft", STORIES, "--draft-max", "4"])]:
            j = mpirun(np, base + samp + ["--expert-parallel"] + spec)
            expect_job("tiny-moe expert-parallel speculative np=%d %s %s" % (np, " ".join(samp), " ".join(spec)), j,
                       one.out)
            if j.rc == 0 and "speculation: drafted" not in j.err:
                fail("tiny-moe expert-parallel speculative np=%d %s: no speculation report:\n%s" %
                     (np, " ".join(spec), why(j)))


def tiny_moe(tmp):
    """A tiny MoE with stories260K's tokenizer (made once): its path, or None."""
    moe = os.path.join(tmp, "tiny-moe.gguf")
    if os.path.exists(moe):
        return moe
    j = run([SINGLE, "synth", moe, "--shape", "tiny-moe", "--type", "f32", "--tokenizer",
             os.path.join(STORIES, "tokenizer.model")])
    if j.rc:
        fail("synth tiny-moe: exit %d:\n%s" % (j.rc, why(j)))
        return None
    return moe


def expect_error(what, j, text):
    """j failed and its stderr says text."""
    global checks
    checks += 1
    if j.rc == 0 or text not in j.err:
        fail("%s: exit %d, expected %r on stderr:\n%s" % (what, j.rc, text, why(j)))


def check_errors():
    d8 = os.path.join(TINY, "dense_sw8_f32")
    gen = ["generate", "-m", d8, "--tokens", "1,2,3", "-n", "4", "--ids"]
    expect_error("np 5 > 4 layers", mpirun(5, gen + ["--pipeline"]), "5 pipeline stages for a model of 4 layers")
    expect_error("split sums to 2", mpirun(2, gen + ["--pipeline", "--layer-split", "1,1"]),
                 "adds up to 2 layers, the model has 4")
    expect_error("split with a 0", mpirun(2, gen + ["--pipeline", "--layer-split", "4,0"]), "expected layer counts")
    expect_error("dense --expert-parallel", mpirun(2, gen + ["--expert-parallel"]), "the model is dense")
    expect_error("both modes without a split", mpirun(2, gen + ["--expert-parallel", "--pipeline"]),
                 "needs --layer-split")
    moe = ["generate", "-m", os.path.join(TINY, "moe_sw8_f32"), "--tokens", "1,2,3", "-n", "4", "--ids"]
    expect_error("3 ranks for 2 stages", mpirun(3, moe + ["--expert-parallel", "--pipeline", "--layer-split", "1,1"]),
                 "3 processes cannot be shared evenly among the 2 stages")
    expect_error("no mpirun", run([MPI] + gen + ["--pipeline"]), "needs 2 or more processes")
    expect_error("no MPI build", run([SINGLE] + gen + ["--pipeline"]), "make MPI=1")
    expect_error("--layer-split alone", run([SINGLE] + gen + ["--layer-split", "2,2"]),
                 "--layer-split needs --pipeline")

    # two ranks, two different models: every rank says so
    other = os.path.join(TINY, "dense_sw8_bf16")
    j = mpi_job(["-np", "1", MPI] + gen + ["--pipeline", ":", "-np", "1", MPI, "generate", "-m", other,
                                           "--tokens", "1,2,3", "-n", "4", "--ids", "--pipeline"])
    expect_error("different models", j, "not the same on every rank")
    silent = [r for r in ("rank 0 of 2", "rank 1 of 2") if r + ": the model or the sampling options: not the same" not in j.err]
    if j.rc and silent:
        fail("different models: no message from %s:\n%s" % (silent, why(j)))

    # a rank that never joins: the others give up after MISTRAL_DIST_TIMEOUT
    t0 = time.time()
    j = mpi_job(["-x", "MISTRAL_DIST_TIMEOUT=2", "-np", "1", MPI] + gen + ["--pipeline", ":", "-np", "1", "sleep", "60"],
                timeout=60)
    expect_error("a rank that never starts", j, "did not all start within 2 s")
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


class Background:
    """mpirun ARGS left running: its stderr in a file, each rank's too
    (--output-filename), so that a failure can be told by rank."""

    def __init__(self, args):
        self.dir = tempfile.mkdtemp(prefix="ranks-")
        self.err_path = os.path.join(self.dir, "mpirun.err")
        with open(self.err_path, "w") as err:
            self.p = subprocess.Popen(MPIRUN + ["--output-filename", os.path.join(self.dir, "out")] + args,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def err(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def wait(self, timeout):
        """The Job once mpirun has exited (None if it has not within timeout:
        then it is killed, with every rank it started)."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            for pid in rank_pids(self.p.pid).values():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.p.kill()
            self.p.wait()
            return None
        return Job(self.p.returncode, "", self.err(), rank_stderr(os.path.join(self.dir, "out")))

    def close(self):
        if self.p.poll() is None:
            self.wait(0)
        shutil.rmtree(self.dir, ignore_errors=True)


def maps(pid, path):
    """Whether process pid has a file under path mapped."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return os.path.realpath(path) in f.read()
    except OSError:
        return False


def check_kill():
    """kill -9 of rank 1 in a long run: mpirun and rank 0 are gone within seconds."""
    global checks
    d8 = os.path.join(TINY, "dense_sw8_f32")
    job = Background(["-np", "2", MPI, "generate", "-m", d8, "--tokens", "1,2,3", "-n", "16000000", "--ids",
                      "--pipeline"])
    try:
        # both ranks past MPI_Init (they load the model after it): OpenMPI
        # 4.1's mpirun can hang for good when a rank dies while it connects
        # (PMIX ERROR: UNREACHABLE), and a loaded machine can take seconds
        pids = {}
        t_end = time.time() + 60
        while time.time() < t_end and job.p.poll() is None:
            pids = rank_pids(job.p.pid)
            if len(pids) == 2 and all(maps(pid, d8) for pid in pids.values()):
                break
            time.sleep(0.1)
        checks += 1
        if len(pids) != 2 or not all(maps(pid, d8) for pid in pids.values()):
            j = job.wait(0)
            fail("killed rank: the ranks did not load the model within 60 s (seen: %r), mpirun %s:\n%s" %
                 (pids, "exit %d" % j.rc if j else "still running", why(j) if j else "  " + job.err()[:600]))
            return
        time.sleep(1.0)
        t0 = time.time()
        os.kill(pids[1], signal.SIGKILL)
        j = job.wait(60)
        took = time.time() - t0
        if j is None:
            fail("killed rank: the job was still running 60 s later")
            return
        alive = os.path.exists("/proc/%d" % pids[0]) and "zombie" not in open("/proc/%d/status" % pids[0]).read().lower()
        if j.rc == 0 or alive:
            fail("killed rank: mpirun exit %d, rank 0 alive: %s:\n%s" % (j.rc, alive, why(j)))
        print("mpi: rank 1 killed with SIGKILL: the job ended in %.1f s, exit %d" % (took, j.rc))
    finally:
        job.close()


def http(port, path, body=None, timeout=30):
    import urllib.request
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    # straight to the server, whatever http_proxy says
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=timeout) as r:
        return json.loads(r.read())


def serve_up(job, name, timeout=120):
    """The port of a `mistral serve --port 0` under mpirun once GET /health
    says ok (rank 0 prints the port it got), or None after a FAIL line: the
    job ended, or timeout seconds passed."""
    port, t_end = None, time.time() + timeout
    while time.time() < t_end:
        if job.p.poll() is not None:
            j = job.wait(0)
            fail("%s: mpirun exited %d before the server was up:\n%s" % (name, j.rc, why(j)))
            return None
        if port is None:
            m = re.search(r"listening on http://[^ ]*:(\d+)", job.err())
            port = int(m.group(1)) if m else None
        try:
            if port and http(port, "/health", timeout=5).get("status") == "ok":
                return port
        except Exception:  # noqa: BLE001 (not listening, or 503 while loading)
            pass
        time.sleep(0.2)
    fail("%s: GET /health not ok within %d s (port %s); mpirun's stderr so far:\n  %s" %
         (name, timeout, port, "\n  ".join(job.err().splitlines()[:12])))
    return None


def serve_case(name, model, extra, prompts, want):
    """mpirun -np 2 mistral serve ... extra: every prompt's completion (sent
    at once, from threads) must be `want` of it; then SIGINT to rank 0 (the
    server) ends every rank, and mpirun exits 0."""
    import threading
    global checks
    job = Background(["-np", "2", MPI, "serve", "-m", model, "--port", "0", "--parallel", "4", "-t", "1"] + extra)
    try:
        port = serve_up(job, name)
        got = [None] * len(prompts)

        def one(i):
            try:
                got[i] = http(port, "/v1/completions", {"prompt": prompts[i], "max_tokens": 16, "logprobs": 0},
                              timeout=120)
            except Exception as e:  # noqa: BLE001
                got[i] = e
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts) if port else 0)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        for i, g in enumerate(got if port else []):
            if isinstance(g, Exception):
                fail("%s: prompt %d: %r" % (name, i, g))
                continue
            expect_same("%s: prompt %d" % (name, i), want(g), want_of[name][i])
        if job.p.poll() is not None:
            return  # serve_up said why
        pids = rank_pids(job.p.pid)
        if 0 in pids:
            os.kill(pids[0], signal.SIGINT)
        else:
            fail("%s: rank 0's pid not found" % name)
            job.p.send_signal(signal.SIGINT)
        j = job.wait(60)
        checks += 1
        if j is None:
            fail("%s: SIGINT did not end the job in 60 s" % name)
        elif j.rc != 0:
            fail("%s: after SIGINT mpirun exited %d:\n%s" % (name, j.rc, why(j)))
    finally:
        job.close()


want_of = {}


def check_serve(tmp):
    if not os.path.isdir(STORIES):
        print("mpi: %s absent: serve over MPI skipped" % STORIES)
        return
    texts = ["Once upon a time", "The little dog", "Lily and Ben", "A big red ball"]
    want_of["pipeline"] = [run([SINGLE, "generate", "-m", STORIES, "-p", t, "-n", "16"]).out for t in texts]
    serve_case("pipeline", STORIES, ["--pipeline"], texts, lambda g: g["choices"][0]["text"])
    # speculation: rank 0 drafts, the stages rewind: the same answers
    want_of["pipeline-lookup"] = want_of["pipeline-draft"] = want_of["pipeline"]
    serve_case("pipeline-lookup", STORIES, ["--pipeline", "--lookup", "1", "--draft-policy", "always"], texts,
               lambda g: g["choices"][0]["text"])
    serve_case("pipeline-draft", STORIES, ["--pipeline", "--draft", STORIES, "--draft-max", "3", "--draft-policy", "always"],
               texts, lambda g: g["choices"][0]["text"])
    moe = tiny_moe(tmp)
    if not moe:
        return
    ids = [[1, 5, 9, 13], [1, 300, 7], [1, 42, 42, 42, 42, 42], [1, 2]]
    want_of["expert-parallel"] = [run([SINGLE, "generate", "-m", moe, "--tokens", ",".join(map(str, x)), "-n", "16"]).out
                                  for x in ids]
    serve_case("expert-parallel", moe, ["--expert-parallel"], ids, lambda g: g["choices"][0]["text"])
    want_of["expert-parallel-lookup"] = want_of["expert-parallel-draft"] = want_of["expert-parallel"]
    serve_case("expert-parallel-lookup", moe, ["--expert-parallel", "--lookup", "1", "--draft-policy", "always"], ids,
               lambda g: g["choices"][0]["text"])
    serve_case("expert-parallel-draft", moe, ["--expert-parallel", "--draft", STORIES, "--draft-max", "3",
                                              "--draft-policy", "always"], ids, lambda g: g["choices"][0]["text"])


def timed(name, f):
    t0 = time.time()
    f()
    print("mpi: %s: %.1f s" % (name, time.time() - t0))


def main():
    # OpenMPI keeps a session directory per job under $TMPDIR/ompi.HOST.UID,
    # a folder that every mpirun creates when it starts and removes when it
    # ends and finds it empty: another test run's mpirun (a second checkout
    # testing on the same machine) starting in between fails in orte_init
    # ("A call to mkdir was unable to create the desired directory ... File
    # exists"), exit 1. This run's jobs get a $TMPDIR of their own, one job at
    # a time.
    parts = PARTS or ["golden", "stories", "serve", "errors", "kill"]
    with tempfile.TemporaryDirectory(prefix="mistral-mpi-") as tmp:
        os.environ["TMPDIR"] = tempfile.tempdir = tmp
        for part, name, f in [("golden", "golden checkpoints", lambda: check_golden(tmp)),
                              ("stories", "stories260K", lambda: check_stories(tmp)),
                              ("serve", "serve", lambda: check_serve(tmp)),
                              ("errors", "errors", check_errors), ("kill", "killed rank", check_kill)]:
            if part in parts:
                timed(name, f)
    print("mpi: %d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

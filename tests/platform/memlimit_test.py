#!/usr/bin/env python3
"""--mem-limit bounds the process, not only its weights: generate and bench on
a mixture larger than the limit run inside a memory cgroup (cgroup v2
memory.max, or v1 memory.limit_in_bytes; made here, as root) and are not
killed, and the peak resident memory of each stays under the limit plus an
allowance: what the README's --mem-limit section lists beside the weights
(the KV cache, the activations, the expert cache's read buffers, the threads
and the program; for this model and these few tokens, a few MB; ALLOWANCE
leaves room). Before bench fitted its probes to the limit, its 2 GiB memory
bandwidth probe was killed here.

Skips with one line where no memory cgroup can be made (not Linux, not root,
no memory controller, a read-only cgroup file system). Nothing depends on
timing: the checks are exit statuses and byte counts. Usage:
    python3 tests/platform/memlimit_test.py build/mistral"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ENGINE = sys.argv[1] if len(sys.argv) > 1 else "build/mistral"
MiB = 1 << 20
CGROUP = 200 * MiB   # the cgroup's hard limit
LIMIT = 120 * MiB    # --mem-limit: weights (dense part ~49 MB + expert slots)
ALLOWANCE = 32 * MiB # peak RSS <= LIMIT + ALLOWANCE
NAME = "mistral-memlimit-%d" % os.getpid()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def own_cgroup(controller):
    """This process's cgroup path for a v1 controller, or the v2 one ("")."""
    for line in read("/proc/self/cgroup").splitlines():
        _, ctrls, path = line.split(":", 2)
        if (controller and controller in ctrls.split(",")) or (not controller and ctrls == ""):
            return path
    return None


class Cgroup:
    """A child memory cgroup: procs (its cgroup.procs), peak() and oom_kills()."""

    def __init__(self, path, v2):
        self.path, self.v2 = path, v2
        self.procs = os.path.join(path, "cgroup.procs")
        if v2:
            write(os.path.join(path, "memory.max"), str(CGROUP))
            self.soft(os.path.join(path, "memory.swap.max"), "0")
        else:
            write(os.path.join(path, "memory.limit_in_bytes"), str(CGROUP))
            self.soft(os.path.join(path, "memory.memsw.limit_in_bytes"), str(CGROUP))
            self.soft(os.path.join(path, "memory.swappiness"), "0")

    @staticmethod
    def soft(path, text): # without swap accounting these are absent: no swap to fall back on either
        try:
            write(path, text)
        except OSError:
            pass

    def peak(self):
        f = os.path.join(self.path, "memory.peak" if self.v2 else "memory.max_usage_in_bytes")
        return int(read(f)) if os.path.exists(f) else None

    def oom_kills(self):
        f = os.path.join(self.path, "memory.events" if self.v2 else "memory.oom_control")
        for line in read(f).splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def remove(self):
        for _ in range(50): # the last process may still be leaving
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def make_cgroup():
    """(Cgroup, None) or (None, why not)."""
    if sys.platform != "linux":
        return None, "not Linux"
    why = "no memory controller under /sys/fs/cgroup"
    root = "/sys/fs/cgroup"
    if os.path.isfile(os.path.join(root, "cgroup.controllers")): # v2 (unified)
        if "memory" not in read(os.path.join(root, "cgroup.controllers")).split():
            return None, "cgroup v2 without the memory controller"
        own = own_cgroup(None)
        for parent in ([os.path.join(root, own.lstrip("/"))] if own and own != "/" else []) + [root]:
            ctl = os.path.join(parent, "cgroup.subtree_control")
            try:
                if "memory" not in read(ctl).split():
                    write(ctl, "+memory") # fails where the parent holds processes
                os.mkdir(os.path.join(parent, NAME))
            except OSError as e:
                why = "cgroup v2: %s: %s" % (parent, e.strerror)
                continue
            try:
                return Cgroup(os.path.join(parent, NAME), True), None
            except OSError as e:
                os.rmdir(os.path.join(parent, NAME))
                why = "cgroup v2: %s" % e
        return None, why
    v1 = os.path.join(root, "memory")
    if os.path.isfile(os.path.join(v1, "cgroup.procs")):
        own = own_cgroup("memory")
        for parent in ([os.path.join(v1, own.lstrip("/"))] if own and own != "/" else []) + [v1]:
            try:
                os.mkdir(os.path.join(parent, NAME))
            except OSError as e:
                why = "cgroup v1: %s: %s" % (parent, e.strerror)
                continue
            try:
                return Cgroup(os.path.join(parent, NAME), False), None
            except OSError as e:
                os.rmdir(os.path.join(parent, NAME))
                why = "cgroup v1: %s" % e
        return None, why
    return None, why


def run_in(cg, *args, timeout=600):
    """Runs the engine inside cg: (exit status, stdout, stderr, peak RSS in
    bytes from wait4, as the kernel counted it)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    cmd = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', cg.procs, ENGINE, *map(str, args)]
    p = subprocess.Popen(cmd, stdout=out, stderr=err)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline: # a hang is a failure, not a flake: the limit is generous
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0), err.seek(0)
    return p.returncode, out.read().decode(), err.read().decode(), ru.ru_maxrss * 1024


failures = 0


def expect(ok, what):
    global failures
    if not ok:
        failures += 1
        print("FAIL memlimit:", what)


def main():
    cg, why = make_cgroup()
    if not cg:
        print("SKIP memlimit: no memory cgroup (%s)" % why)
        return 0
    tmp = tempfile.mkdtemp()
    try:
        model = os.path.join(tmp, "moe-small-q4_0.gguf") # 275 MB: more than the cgroup holds
        p = subprocess.run([ENGINE, "synth", model, "--shape", "moe-small", "--type", "q4_0"],
                           capture_output=True, text=True, timeout=600)
        if p.returncode:
            print("FAIL memlimit: synth: %s" % p.stderr.strip())
            return 1
        bound = LIMIT + ALLOWANCE
        mb = lambda b: "%.1f MB" % (b / 1e6)

        rc, out, err, rss = run_in(cg, "generate", "-m", model, "--tokens", "1,2,3,4,5,6,7,8", "-n", 8, "--ids",
                                   "-t", 2, "--mem-limit", LIMIT, "-v")
        expect(rc == 0 and len(out.split()) == 8, "generate in a %s cgroup: exit %d %r" % (mb(CGROUP), rc, err[-300:]))
        expect(rss <= bound, "generate --mem-limit %s: peak RSS %s > %s" % (mb(LIMIT), mb(rss), mb(bound)))
        line = [l for l in err.splitlines() if l.startswith("memory: peak resident ")]
        shown = float(line[0].split()[3]) * 1e6 if line else -1
        expect(0 < shown <= bound, "generate -v: the peak it reports: %r" % line)
        g_rss = rss

        rc, out, err, rss = run_in(cg, "bench", "-m", model, "-p", 16, "-n", 4, "-r", 1, "-t", 2,
                                   "--mem-limit", LIMIT, "--json")
        expect(rc == 0, "bench in a %s cgroup: exit %d %r" % (mb(CGROUP), rc, err[-300:]))
        expect(rss <= bound, "bench --mem-limit %s: peak RSS %s > %s" % (mb(LIMIT), mb(rss), mb(bound)))
        try:
            lines = out.splitlines()
            b, ec = json.loads(lines[0]), json.loads(lines[1])["expert_cache"]
            room = ec["probe_room_bytes"]
            ok = (0 < room < LIMIT and b["bandwidth_probe_bytes"] <= room
                  and (b["bandwidth_gb_s"] is None) == (b["bandwidth_probe_bytes"] == 0)
                  and ec["disk_gb_s"] is not None and ec["disk_gb_s"] > 0
                  and 0 < b["peak_rss_bytes"] <= bound)
        except (ValueError, KeyError, IndexError, TypeError):
            ok = False
        expect(ok, "bench --json under --mem-limit: %r" % out[-600:])
        kills = cg.oom_kills()
        expect(kills == 0, "%d processes killed for memory in the cgroup" % kills)
        peak = cg.peak()
        print("# memlimit: --mem-limit %s in a %s cgroup (%s): peak RSS generate %s, bench %s (bound %s)%s" % (
            mb(LIMIT), mb(CGROUP), "v2" if cg.v2 else "v1", mb(g_rss), mb(rss), mb(bound),
            "; the cgroup's peak %s" % mb(peak) if peak else ""))
    finally:
        cg.remove()
        shutil.rmtree(tmp)
    print("memlimit_test: %s" % ("ok" if failures == 0 else "%d FAILED" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

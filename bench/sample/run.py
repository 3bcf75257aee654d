#!/usr/bin/env python3
"""The samplers' own cost at a 1 s interval, against Glances and Netdata sampling the same
machine, in one run: CPU (% of one core, over DURATION seconds, the tool's whole process
tree) and RSS (MB, the tree's sum at the end). Several hundred processes run meanwhile
(`sleep`s), and a small pipeline tree that kpid follows.

    python3 bench/sample/run.py [DURATION=30] [PROCS=300]

kpid is measured twice: with its samplers (host + the pipeline's processes) and without
(`[sample] host = false`, nothing followed); the difference is the samplers' own cost. Its
per-tick time comes from /api/health (samplers). KPID=path picks the binary (default
target/release/kpid). Glances and Netdata are Debian's (apt install glances netdata); a tool
that is not installed is skipped.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.request

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
PROCS = int(sys.argv[2]) if len(sys.argv) > 2 else 300
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KPID = os.environ.get("KPID", os.path.join(ROOT, "target/release/kpid"))
TICK = os.sysconf("SC_CLK_TCK")


def tree(pid):
    """pid and its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                ppid = int(s[s.rindex(")") + 2:].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_ticks(pids):
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
            f = s[s.rindex(")") + 2:].split()
            t += int(f[11]) + int(f[12])
        except (OSError, ValueError):
            pass
    return t


def rss_mb(pids):
    kb = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb += int(line.split()[1])
        except OSError:
            pass
    return kb / 1024


def measure(name, cmd, env=None, warmup=5.0, after=None, own_only=False):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        time.sleep(warmup)
        pick = (lambda: [p.pid]) if own_only else (lambda: tree(p.pid))
        pids = pick()
        t0, c0 = time.time(), cpu_ticks(pids)
        time.sleep(DURATION)
        pids = pick()  # children started meanwhile too
        c1, t1 = cpu_ticks(pids), time.time()
        rss = rss_mb(pids)
        extra = after(p) if after else {}
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    cpu = (c1 - c0) / TICK / (t1 - t0) * 100
    return dict(tool=name, cpu_pct=cpu, rss_mb=rss, processes=len(pids), **extra)


def kpid_health(port):
    def get(p):
        h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5))
        return {s["name"]: dict(cpu_us_per_tick=round(s["total_cpu_us"] / max(s["ticks"], 1)),
                                last_wall_us=s["last_tick_us"], series=s["series"])
                for s in h["samplers"]["samplers"]}
    return lambda p: {"ticks": get(p)}


def main():
    sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(PROCS)]
    work = tempfile.mkdtemp(prefix="kpid-sample-bench-")
    try:
        pipeline = "for i in 1 2 3 4; do sh -c 'while :; do sleep 0.2; done' & done; wait"
        on = os.path.join(work, "on.toml")
        off = os.path.join(work, "off.toml")
        with open(on, "w") as f:
            f.write('[server]\nport = 18651\n[sample]\ninterval = "1s"\n')
        with open(off, "w") as f:
            f.write('[server]\nport = 18652\n[sample]\nhost = false\n')
        rows = []
        rows.append(measure("kpid, samplers on (host + pipeline tree)",
                            [KPID, "run", "--config", on, "--no-state", "--no-socket", "--", "sh", "-c", pipeline],
                            after=kpid_health(18651), own_only=True))
        rows.append(measure("kpid, samplers off",
                            [KPID, "run", "--config", off, "--no-state", "--no-socket", "--", "sh", "-c", pipeline],
                            own_only=True))
        if shutil.which("glances"):
            rows.append(measure("Glances 1 s (quiet, no UI)", ["glances", "--quiet", "-t", "1"]))
        if shutil.which("netdata"):
            rows.append(measure("Netdata 1 s (Debian defaults)", ["netdata", "-D", "-p", "19999"], warmup=10.0))
    finally:
        for s in sleepers:
            s.kill()
            s.wait()
        shutil.rmtree(work, ignore_errors=True)
    nproc = len(os.listdir("/proc"))
    print(f"# {DURATION:.0f} s each, {PROCS} extra processes, {os.cpu_count()} cores")
    print("| tool | CPU (% of one core) | RSS (MB) | processes measured |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['tool']} | {r['cpu_pct']:.3f} | {r['rss_mb']:.1f} | {r['processes']} |")
    on, off = rows[0], rows[1]
    print(f"\nsamplers' own cost (on - off): {on['cpu_pct'] - off['cpu_pct']:.3f} % of one core, "
          f"{on['rss_mb'] - off['rss_mb']:.1f} MB; per tick: {on.get('ticks')}")
    for r in rows[2:]:
        d = max(on["cpu_pct"] - off["cpu_pct"], 1e-3)
        print(f"{r['tool']}: {r['cpu_pct'] / d:.0f}x the samplers' CPU, {r['rss_mb'] / max(on['rss_mb'], 0.1):.1f}x kpid's whole RSS")


if __name__ == "__main__":
    main()

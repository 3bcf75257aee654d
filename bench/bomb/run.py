#!/usr/bin/env python3
"""Cardinality bomb: 4,000,000 lines with a unique key each, then 4,000,000 with a unique
label value each, through the release binary; prints lines/s and peak RSS (VmHWM) of each.

    cargo build --release && python3 bench/bomb/run.py [LINES]
    KPID=path/to/another/kpid python3 bench/bomb/run.py     # an earlier build, side by side
"""
import json, os, subprocess, sys, tempfile, time, urllib.request

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4_000_000
BIN = os.environ.get("KPID") or os.path.join(os.path.dirname(__file__), "..", "..", "target", "release", "kpid")


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def run(name, config, make):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "kpid.toml"), "w") as f:
            f.write(config)
        with open(os.path.join(d, "bomb.log"), "w") as f:
            for i in range(N):
                f.write(make(i))
        p = subprocess.Popen(
            [BIN, "--config", "kpid.toml", "--log", "bomb.log", "--from-start", "--no-state",
             "--no-socket", "--port", "0"],
            cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(p.stdout.readline().strip().rstrip("/").rsplit(":", 1)[1])
        t0 = time.time()
        idle = vm(p.pid, "VmRSS")
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health") as r:
                read = sum(s["lines"] for s in json.load(r)["sources"])
            if read >= N:
                break
            time.sleep(0.05)
        time.sleep(1.5)
        secs = time.time() - t0
        before = vm(p.pid, "VmHWM")
        # Still answering, and every line counted (the whole catalogue, once).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/metrics/latest") as r:
            kpis = json.load(r)["kpis"]
        total = sum(k.get("total", 0) for k in kpis if k["name"] == "log_lines_total")
        assert total == N, (total, N)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health") as r:
            drops = json.load(r)["drops"]
        print(f"{name}: {N:,} lines in {secs:.1f} s (1.5 s of it idle), RSS at start "
              f"{idle:.1f} MB, peak while ingesting {before:.1f} MB, peak {vm(p.pid, 'VmHWM'):.1f} MB, after {vm(p.pid, 'VmRSS'):.1f} MB, "
              f"{len(kpis)} KPIs, series refused {drops['series_refused']:,}, "
              f"label sets folded {drops['label_sets_folded']:,}")
        p.terminate()
        p.wait()


run("unique key per line", "", lambda i: f"k{i}=1\n")
run("unique label value per line",
    '[[rule]]\nname = "hits_total"\nkind = "counter"\nlabels = ["user"]\n',
    lambda i: f"user=u{i:012}\n")

#!/usr/bin/env python3
"""CPU cost of remote-write at 10,000 series.

Usage: python3 bench/remote_write/run.py [SECONDS] [INTERVAL]   (defaults 90, 15s)

Runs target/release/kpid (build it first: cargo build --release --bin kpid) on a log that
makes 10,000 gauges (100 lines of 100 numeric fields, appended again every second with new
values), twice: with `--remote-write` to a local Prometheus (`--web.enable-remote-write-receiver`)
and without. Prints kpid's CPU (utime + stime from /proc) per second of wall time for both,
the difference, and remote-write's own figures from /api/health (collections, samples sent,
CPU time spent rendering and encoding per collection). Files go to bench/out/remote_write/.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "bench", "out", "remote_write")
KPID = os.path.join(ROOT, "target", "release", "kpid")
FIELDS, LINES = 100, 100
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def wait(what, f, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / TICK


def write_lines(log, round_):
    with open(log, "a") as f:
        for i in range(LINES):
            fields = " ".join(f"m{i}_{j}={(round_ * 7 + i + j) % 1000}" for j in range(FIELDS))
            f.write(f"level=info msg=stats {fields}\n")


def run(seconds, interval, prom_port):
    work = os.path.join(OUT, "with" if prom_port else "without")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = os.path.join(work, "app.log")
    open(log, "w").close()
    cfg = os.path.join(work, "kpid.toml")
    with open(cfg, "w") as f:
        f.write("[store]\nmax_series = 20000\nmax_label_sets = 200\n")
        if prom_port:
            f.write(
                f'[remote_write]\nurl = "http://127.0.0.1:{prom_port}/api/v1/write"\n'
                f'interval = "{interval}"\n'
            )
    port = free_port()
    k = subprocess.Popen(
        [KPID, "--config", cfg, "--log", log, "--no-state", "--no-socket", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "kpid.err"), "w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait("kpid", lambda: get(base + "/api/health"))
        write_lines(log, 0)
        wait(
            "10,000 series",
            lambda: len(json.loads(get(base + "/api/kpis"))["kpis"]) >= FIELDS * LINES,
        )
        time.sleep(2)
        c0, t0 = cpu(k.pid), time.time()
        r = 1
        while time.time() - t0 < seconds:
            write_lines(log, r)
            r += 1
            time.sleep(max(0.0, t0 + r - 1 - time.time()))
        c1, t1 = cpu(k.pid), time.time()
        health = json.loads(get(base + "/api/health"))
        metrics = get(base + "/metrics")
        series = sum(1 for l in metrics.splitlines() if l and not l.startswith("#"))
        return (c1 - c0) / (t1 - t0), health.get("remote_write"), series
    finally:
        k.send_signal(signal.SIGTERM)
        k.wait(timeout=60)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 90
    interval = sys.argv[2] if len(sys.argv) > 2 else "15s"
    if not os.path.exists(KPID):
        sys.exit("build first: cargo build --release --bin kpid")
    os.makedirs(OUT, exist_ok=True)
    prom_port = free_port()
    pdir = os.path.join(OUT, "prometheus")
    shutil.rmtree(pdir, ignore_errors=True)
    os.makedirs(pdir)
    with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 15s\n")
    prom = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={pdir}/prometheus.yml",
            f"--storage.tsdb.path={pdir}/tsdb",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--web.enable-remote-write-receiver",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait("prometheus", lambda: get(f"http://127.0.0.1:{prom_port}/-/ready"))
        with_rw, rw, series = run(seconds, interval, prom_port)
        without, _, _ = run(seconds, interval, None)
    finally:
        prom.terminate()
        prom.wait()
    rec = rw["receivers"][0]
    per = rec["encode_cpu_seconds_total"] / max(1, rec["collections"])
    print(f"series exposed: {series}, interval {interval}, {seconds:.0f} s each run")
    print(f"kpid CPU with remote-write:    {with_rw * 100:.2f} % of a core")
    print(f"kpid CPU without remote-write: {without * 100:.2f} % of a core")
    print(f"difference:                    {(with_rw - without) * 100:.2f} % of a core")
    print(
        f"remote-write: {rec['collections']} collections, {rec['samples_sent']} samples sent, "
        f"{rec['batches_sent']} batches, render+encode {per * 1000:.1f} ms CPU per collection, "
        f"dropped {rec['dropped_samples']}, refused {rec['refused_samples']}, retries {rec['retries']}"
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Idle CPU and memory of `kpid --log FILE` with nothing being written.

Starts kpid on a small existing log, waits WARMUP s, then reads the CPU time of its threads
(/proc/PID/task/*/schedstat, ns; /proc/PID/stat ticks as a cross-check) over WINDOW s and VmRSS / VmHWM from /proc/PID/status. Targets: <= 0.1 % of one core and
<= 15 MB RSS; exit 1 on a miss.
Usage: idle.py [WINDOW=60] [WARMUP=5]   (from the repository root)
"""
import os
import socket
import subprocess
import sys
import time

WINDOW = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
WARMUP = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
KPID = os.environ.get("KPID", "target/release/kpid")
OUT = "bench/out"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_ns(pid):
    """CPU time of all live threads in ns (/proc/PID/task/*/schedstat), finer than ticks."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, "idle.log")
    with open(log, "w") as f:
        for i in range(100):
            f.write(f"2026-11-23T10:00:00Z INFO pipeline stats fps_in=95.{i % 10} queue_rt={i % 7}\n")
    state = os.path.join(OUT, "idle-state")
    cmd = [KPID, "--log", log, "--port", str(free_port()), "--state-dir", state]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, "idle.err"), "w"))
    try:
        time.sleep(WARMUP)
        if proc.poll() is not None:
            sys.exit("kpid exited; see bench/out/idle.err")
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0, n0 = time.monotonic(), ticks(proc.pid), run_ns(proc.pid)
        time.sleep(WINDOW)
        t1, c1, n1 = time.monotonic(), ticks(proc.pid), run_ns(proc.pid)
        rss, hwm = status_kb(proc.pid, "VmRSS"), status_kb(proc.pid, "VmHWM")
        threads = len(os.listdir(f"/proc/{proc.pid}/task"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    tick_pct = (c1 - c0) / hz / (t1 - t0) * 100
    cpu_pct = (n1 - n0) / 1e9 / (t1 - t0) * 100
    print(f"kpid: {' '.join(cmd)}")
    print(f"window={t1 - t0:.1f}s threads={threads} cpu_ticks={c1 - c0} ({tick_pct:.3f}%, 1 tick = {1000 / hz:.0f} ms)")
    print(f"idle_cpu={cpu_pct:.3f}% of one core  rss={rss / 1024:.1f} MB  peak_rss={hwm / 1024:.1f} MB")
    ok = cpu_pct <= 0.1 and rss <= 15 * 1024
    print(("PASS" if ok else "MISS") + ": cpu <= 0.1 %, rss <= 15 MB targets")
    sys.exit(0 if ok else 1)


main()

#!/usr/bin/env python3
"""Latency from appending a line (or closing a span in an app) to seeing it on kpid's
WebSocket /ws/metrics.

Lines: starts `kpid --log FILE --interval 50ms`, subscribes to the zero-config gauge `seq`,
appends `seq=N` lines at random gaps (default 60-140 ms; `5-30` has several lines per
interval), and for each line takes the first update frame whose `seq` value is >= N.
Spans: starts `kpid --socket PATH`, and an app (the stdlib Python client, flushed after each
span) closes span `probe` at the same gaps; for span N, the first frame where
`span_total{span="probe"}` is >= N. Prints p50/p95/p99/max; exit 1 if p99 > 50 ms.
Usage: ws_latency.py [LINES=250] [INTERVAL=50ms] [GAP_MS=60-140] [lines|spans]
(from the repository root)
"""
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # keep bench/live free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WebSocket  # noqa: E402

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 250
INTERVAL = sys.argv[2] if len(sys.argv) > 2 else "50ms"
GAP = [float(x) / 1000 for x in (sys.argv[3] if len(sys.argv) > 3 else "60-140").split("-")]
MODE = sys.argv[4] if len(sys.argv) > 4 else "lines"
TARGET_MS = 50.0
KPID = os.environ.get("KPID", "target/release/kpid")
OUT = "bench/out"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seq_values(frame):
    for k in frame.get("kpis", []):
        if MODE == "lines" and k.get("name") == "seq" and k.get("value") is not None:
            yield int(k["value"])
        if MODE == "spans" and k.get("name") == "span_total" and k.get("total") is not None:
            yield int(k["total"])


def main():
    os.makedirs(OUT, exist_ok=True)
    log = os.path.join(OUT, "latency.log")
    open(log, "w").close()
    port = free_port()
    sock = os.path.abspath(os.path.join(OUT, "latency.sock"))
    cmd = [KPID, "--interval", INTERVAL, "--port", str(port), "--no-state"]
    cmd += ["--log", log, "--no-socket"] if MODE == "lines" else ["--socket", sock]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, "latency.err"), "w"))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("kpid did not come up; see bench/out/latency.err")
                time.sleep(0.05)
        ws = WebSocket("127.0.0.1", port)
        first = ws.recv_json()
        assert first and first["type"] == "snapshot", first
        ws.send_text(json.dumps({"type": "subscribe", "kpis": ["seq" if MODE == "lines" else "span_total"]}))
        seen = []  # (monotonic time, max seq in the frame)
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                try:
                    frame = ws.recv_json()
                except (OSError, ConnectionError):
                    return
                if frame is None:
                    return
                now = time.monotonic()
                vals = list(seq_values(frame))
                if vals:
                    seen.append((now, max(vals)))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        time.sleep(0.3)
        appended = []
        rng = random.Random(7)
        if MODE == "lines":
            fd = os.open(log, os.O_WRONLY | os.O_APPEND)
            for n in range(1, LINES + 1):
                line = f"level=info msg=probe seq={n}\n".encode()
                os.write(fd, line)
                appended.append(time.monotonic())
                time.sleep(rng.uniform(*GAP))
            os.close(fd)
        else:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
            from kpid_client import Client
            app = Client(app="bench", socket_path=sock)
            time.sleep(0.5)  # connected
            for n in range(1, LINES + 1):
                with app.span("probe"):
                    pass
                appended.append(time.monotonic())
                app.flush()
                time.sleep(rng.uniform(*GAP))
            app.close()
        time.sleep(1.0)
        stop.set()
        ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    lat, missing = [], 0
    j = 0
    for n, ta in enumerate(appended, start=1):
        while j < len(seen) and seen[j][1] < n:
            j += 1
        if j == len(seen):
            missing += 1
            continue
        lat.append((seen[j][0] - ta) * 1000)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else float("nan")

    print(f"kpid: {' '.join(cmd)}")
    print(f"mode={MODE} lines={LINES} seen={len(lat)} never_seen={missing} interval={INTERVAL} gaps_ms={GAP[0] * 1000:.0f}-{GAP[1] * 1000:.0f}")
    print(f"latency_ms p50={pct(50):.1f} p95={pct(95):.1f} p99={pct(99):.1f} max={lat[-1] if lat else float('nan'):.1f}")
    ok = missing == 0 and pct(99) <= TARGET_MS
    print(("PASS" if ok else "MISS") + f": p99 <= {TARGET_MS:.0f} ms target")
    sys.exit(0 if ok else 1)


main()

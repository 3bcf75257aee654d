"""Bodies of many tiny OTLP items against a running kpid, to measure that what they would take
decoded is charged to the receiver's memory budget (BENCHMARKS.md, "OTLP bodies of tiny items").

  python3 bench/otlp/tiny_items.py PORT KIND CONCURRENCY

KIND: `logs` (2,000,000 empty log records, 4 MB of protobuf), `metrics` (one gauge of
1,900,000 empty points), `json` (1,300,000 empty log records as JSON). CONCURRENCY requests
at once; prints the body size and each answer. Read the daemon's peak RSS (`VmHWM` in
/proc/PID/status) before and after."""
import sys
import threading
import urllib.request


def ld(tag, inner):
    out = bytearray([tag])
    n = len(inner)
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + inner


port, kind, conc = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if kind == "logs":
    body, path, ct = ld(0x0A, ld(0x12, bytes([0x12, 0]) * 2_000_000)), "/v1/logs", "application/x-protobuf"
elif kind == "metrics":
    points = ld(0x2A, bytes([0x0A, 0]) * 1_900_000)
    body, path, ct = ld(0x0A, ld(0x12, ld(0x12, points))), "/v1/metrics", "application/x-protobuf"
else:
    records = ",".join(["{}"] * 1_300_000)
    body = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + records + "]}]}]}").encode()
    path, ct = "/v1/logs", "application/json"
print(f"{kind}: {len(body)} bytes, {conc} at once")
lock = threading.Lock()


def send():
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers={"Content-Type": ct})
    try:
        answer = urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        answer = e.code
    with lock:
        print(answer)


threads = [threading.Thread(target=send) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()

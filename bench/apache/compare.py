#!/usr/bin/env python3
"""Compares the Apache benchmark's metrics as printed by kpid and mtail (Prometheus text).

Checks, exactly: requests per status, the byte sum, every histogram bucket and the count;
the latency sum within 1e-9 relative (float summation order differs). Also checks that
every line matched (requests summed over statuses == LINES).
Usage: compare.py KPID_PROM MTAIL_PROM LINES   (exit 1 on any difference)
"""
import re
import sys

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
WANTED = ("http_requests_total", "http_response_bytes_total", "http_request_duration_seconds")


def load(path):
    out = {}
    for line in open(path, encoding="utf-8", errors="replace"):
        m = LINE.match(line)
        if not m or not m.group(1).startswith(WANTED):
            continue
        labels = {k: v for k, v in LABEL.findall(m.group(2) or "") if k != "prog"}
        if "le" in labels:
            labels["le"] = repr(float(labels["le"]))
        key = (m.group(1), tuple(sorted(labels.items())))
        out[key] = float(m.group(3))
    return out


def main():
    kpid, mtail, lines = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
    bad = []
    for key in sorted(set(kpid) | set(mtail)):
        a, b = kpid.get(key), mtail.get(key)
        name = key[0] + ("{" + ",".join(f'{k}="{v}"' for k, v in key[1]) + "}" if key[1] else "")
        if key[0].endswith("_sum") and a is not None and b is not None:
            same = abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)
        else:
            same = a == b
        print(f"{'ok  ' if same else 'DIFF'} {name:<60} kpid={a} mtail={b}")
        if not same:
            bad.append(name)
    requests = sum(v for (n, _), v in kpid.items() if n == "http_requests_total")
    if requests != lines:
        bad.append(f"kpid counted {requests:.0f} requests for {lines} lines")
    if not kpid or not mtail:
        bad.append("no metrics from one side")
    if bad:
        print("MISMATCH: " + "; ".join(bad))
        sys.exit(1)
    print(f"same counts on both sides ({len(kpid)} series, {lines} lines)")


main()

#!/usr/bin/env python3
"""Writes N Apache combined-log lines with the request time (%D, microseconds) at the end.

    LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D"

Deterministic (fixed seed): the same N gives the same file, byte for byte.
Usage: gen.py OUT [N=2000000] [SEED=20261123]
"""
import random
import sys
import time

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 20261123)

STATUS = [(200, 800), (304, 60), (404, 50), (201, 20), (302, 20), (301, 10),
          (500, 15), (400, 10), (403, 10), (503, 5)]
PATHS = ["/", "/index.html", "/login", "/logout", "/static/app.js", "/static/app.css",
         "/static/img/logo.png", "/favicon.ico", "/api/v1/items", "/api/v1/orders",
         "/api/v1/search", "/api/v2/users/me", "/docs/getting-started", "/blog/2026/11/kpis"]
METHODS = [("GET", 85), ("POST", 10), ("PUT", 2), ("DELETE", 1), ("HEAD", 2)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
          "curl/8.11.0", "python-requests/2.32.3", "Go-http-client/1.1",
          "Googlebot/2.1 (+http://www.google.com/bot.html)"]
REFERERS = ["-", "-", "-", "https://example.com/", "https://www.google.com/",
            "https://example.com/docs/getting-started"]
USERS = ["-"] * 18 + ["alice", "bob"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def expand(weighted):
    return [v for v, w in weighted for _ in range(w)]


status_pool = expand(STATUS)
method_pool = expand(METHODS)
hosts = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
         for _ in range(5000)]
t0 = 1795428000  # 2026-11-23T10:00:00Z
stamps = {}


def stamp(t):
    s = stamps.get(t)
    if s is None:
        g = time.gmtime(t)
        s = f"{g.tm_mday:02d}/{MONTHS[g.tm_mon - 1]}/{g.tm_year}:{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d} +0000"
        stamps.clear()
        stamps[t] = s
    return s


rand, choice, lognorm = rng.random, rng.choice, rng.lognormvariate
with open(out, "w", buffering=1 << 20) as f:
    w = f.write
    for i in range(n):
        status = choice(status_pool)
        method = choice(method_pool)
        path = choice(PATHS)
        if rand() < 0.3:
            path += f"?page={rng.randrange(1, 50)}&q=k{rng.randrange(1000)}"
        if status in (304, 204) or method == "HEAD":
            size = "-"
        else:
            size = str(int(lognorm(8.0, 1.5)) % 5_000_000)
        # latency: mostly 1-50 ms, a slow tail to several seconds
        us = int(lognorm(9.6, 1.1)) if rand() > 0.02 else rng.randrange(500_000, 5_000_000)
        w(f'{choice(hosts)} - {choice(USERS)} [{stamp(t0 + i // 1000)}] "{method} {path} HTTP/1.1" '
          f'{status} {size} "{choice(REFERERS)}" "{choice(AGENTS)}" {us}\n')

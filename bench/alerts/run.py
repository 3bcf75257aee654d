#!/usr/bin/env python3
"""Issue 12: the cost of 1,000 alert rules evaluated every second, and the time from the line
that crosses a threshold to the webhook request (`for` = 0).

    python3 bench/alerts/run.py [DURATION=30] [CROSSINGS=30]

kpid runs twice on the same logs: with 1,000 rules (999 that never fire, over 100 gauges, a
third each `last`, `avg` over 1 m and `rate`, each with a templated annotation, plus
`TempHigh`), then with `TempHigh` alone; CPU is the process's own (/proc, over DURATION
seconds, one line a second appended meanwhile), and the evaluator's own time comes from
/api/health (`alerts.eval_seconds_total` / `alerts.evaluations`). Then CROSSINGS times a line
crossing TempHigh's threshold is appended, at a random phase against the 1 s intervals, and
the time until a local HTTP listener receives the firing webhook is recorded (then a line
clears it and the resolved one is awaited). KPID=path picks the binary (default
target/release/kpid).
"""
import http.server, json, os, random, subprocess, sys, tempfile, threading, time, urllib.request

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
CROSSINGS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KPID = os.environ.get("KPID", os.path.join(ROOT, "target/release/kpid"))
TICK = os.sysconf("SC_CLK_TCK")
GOT = []  # (monotonic time, payload)


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        GOT.append((time.monotonic(), json.loads(body)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def config(port, rules):
    c = f"""[alerts]
interval = "1s"

[[source]]
path = "a.log"

[[alert]]
name = "TempHigh"
kpi = "temp"
warn = 10
clear = 5
annotations = {{ summary = "temp {{{{ $value }}}}" }}

[[notify]]
kind = "webhook"
url = "http://127.0.0.1:{port}/hook"
group_interval = "10ms"
"""
    for i in range(rules):
        c += (f'[[alert]]\nname = "R{i}"\nkpi = "g{i % 100}"\nwarn = {1e9 + i}\n'
              f'value = "{["last", "avg", "rate"][i % 3]}"\n'
              'annotations = { summary = "g at {{ $value }}" }\n')
    return c


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    f = s[s.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / TICK


def start(d, port, rules):
    with open(os.path.join(d, "kpid.toml"), "w") as f:
        f.write(config(port, rules))
    p = subprocess.Popen([KPID, "--config", "kpid.toml", "--no-state", "--no-socket", "--port", "0"],
                         cwd=d, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    return p, int(line.strip().rstrip("/").rsplit(":", 1)[1])


def health(kport):
    with urllib.request.urlopen(f"http://127.0.0.1:{kport}/api/health") as r:
        return json.load(r)["alerts"]


GAUGES = "".join(f" g{i}={i}" for i in range(100))


def append(d, v):
    with open(os.path.join(d, "a.log"), "a") as f:
        f.write(f"temp={v}{GAUGES}\n")


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    for rules in (999, 0):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "a.log"), "w").close()
            p, kport = start(d, port, rules)
            time.sleep(3)
            h0, c0, t0 = health(kport), cpu(p.pid), time.monotonic()
            while time.monotonic() - t0 < DURATION:
                append(d, 1)
                time.sleep(1)
            h1, c1, wall = health(kport), cpu(p.pid), time.monotonic() - t0
            ev = h1["evaluations"] - h0["evaluations"]
            es = h1["eval_seconds_total"] - h0["eval_seconds_total"]
            print(f"rules {h1['rules']}: process CPU {100 * (c1 - c0) / wall:.2f} % of a core; "
                  f"evaluation {100 * es / wall:.3f} % of a core, {1000 * es / max(ev, 1):.3f} ms each ({ev} in {wall:.0f} s)")
            if rules:
                lat = []
                for _ in range(CROSSINGS):
                    for v, status in ((20, "firing"), (1, "resolved")):
                        n = len(GOT)
                        time.sleep(random.uniform(0.2, 1.2))
                        t = time.monotonic()
                        append(d, v)
                        while not any(pl["status"] == status for _, pl in GOT[n:]):
                            if time.monotonic() - t > 10:
                                sys.exit(f"no {status} webhook")
                            time.sleep(0.001)
                        if status == "firing":
                            at = next(at for at, pl in GOT[n:] if pl["status"] == status)
                            lat.append(1000 * (at - t))
                lat.sort()
                q = lambda x: lat[min(len(lat) - 1, round((len(lat) - 1) * x))]
                print(f"line -> webhook ms (n={len(lat)}): p50 {q(0.5):.0f}  p90 {q(0.9):.0f}  p99 {q(0.99):.0f}  max {lat[-1]:.0f}")
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# History benchmarks, release mode: bytes per point on disk per tier, the writer's CPU at
# 10,000 series at 1 Hz, and query latency over HTTP (24 h at 1 min, 7 days at 1 h) against
# the built kpid serving a filled database.
#   bash bench/history/run.sh            # everything
#   bash bench/history/run.sh http       # the HTTP part only
set -euo pipefail
cd "$(dirname "$0")/../.."
what="${1:-all}"
if [[ $what == all || $what == disk ]]; then cargo bench --bench history -- disk; fi
if [[ $what == all || $what == cpu ]]; then cargo bench --bench history -- cpu; fi
if [[ $what == all || $what == http ]]; then
  cargo build --release --bin kpid
  work=$(mktemp -d)
  trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
  read -r from to < <(cargo bench --bench history -- fill "$work/state" | tail -1)
  touch "$work/app.log"
  ./target/release/kpid --state-dir "$work/state" --log "$work/app.log" --no-socket --port 0 > "$work/out" &
  pid=$!
  for _ in $(seq 100); do grep -q http "$work/out" 2>/dev/null && break; sleep 0.1; done
  port=$(head -1 "$work/out" | sed 's/.*://; s/[^0-9].*//')
  latency() { # label, path
    for _ in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$port$2"; done
    for _ in $(seq 300); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$2"; done \
      | sort -n | awk -v l="$1" '{a[NR]=$1} END {printf "%s: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms (%d requests)\n", l, a[int(NR*0.5)]*1000, a[int(NR*0.95)]*1000, a[int(NR*0.99)]*1000, NR}'
  }
  latency "24 h of one gauge at 1 min (1,440 points)" "/api/metrics/history?kpi=bench_9&from=$((to - 86400))&to=$to&step=60"
  latency "7 days of one counter at 1 h (168 points)" "/api/metrics/history?kpi=bench_0&from=$from&to=$to&step=3600"
  latency "7 days of one gauge at 1 h, CSV export" "/api/export?format=csv&kpi=bench_9&from=$from&to=$to&step=3600"
fi

#!/usr/bin/env bash
# Replay speed: an old log (N lines, one a second, RFC 3339 stamped: days of buckets) read
# into history by `kpid import`, against the same lines ingested without history by
# `kpid --one-shot` (the engine's plain ingest rate, same parser and rules), in the same run.
#   bash bench/import/run.sh [LINES]      # default 1,000,000
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000000}"
cargo build --release --bin kpid
kpid=./target/release/kpid
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$n" "$work/app.log" <<'PY'
import sys, time
n, path = int(sys.argv[1]), sys.argv[2]
t0 = (int(time.time()) // 86400 - 1) * 86400 - n  # ends yesterday 00:00 UTC
with open(path, "w") as f:
    for i in range(n):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + i))
        f.write(f"ts={t} level={'warn' if i % 97 == 0 else 'info'} stage=decode latency_ms={3 + i % 40} queue={(i * 7919) % 13} msg=frame\n")
PY
printf 'lines: %d, bytes: %d\n' "$n" "$(stat -c %s "$work/app.log")"
timed() { # label, command...
  local label=$1; shift
  local s e
  s=$(date +%s.%N)
  "$@" > "$work/out.txt"
  e=$(date +%s.%N)
  awk -v l="$label" -v s="$s" -v e="$e" -v n="$n" 'BEGIN {printf "%s: %.2f s, %.0f lines/s\n", l, e - s, n / (e - s)}'
}
for round in 1 2; do
  timed "one-shot ingest, no history (round $round)" "$kpid" --one-shot --log "$work/app.log"
  rm -rf "$work/state"
  timed "import into history (round $round)" "$kpid" import --state-dir "$work/state" "$work/app.log"
  tail -1 "$work/out.txt" | cut -c1-160
  du -b "$work/state/history/history.db" | awk '{printf "history.db: %d bytes\n", $1}'
done

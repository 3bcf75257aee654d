#!/usr/bin/env bash
# The log viewer streaming RATE lines/s (default 5,000) for SECS seconds (default 20) into the
# dashboard in headless Chromium (needs tests/browser's `npm ci` and chromium, as the tests):
#   bash bench/logview/run.sh [RATE] [SECS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rate="${1:-5000}" secs="${2:-20}"
cargo build --release --bin kpid
work=$(mktemp -d)
touch "$work/app.log"
./target/release/kpid --log "$work/app.log" --no-state --no-socket --no-otlp --port 0 > "$work/out" 2>"$work/err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q http "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*?token=[0-9a-f]*' "$work/out" | head -1)
node bench/logview/stream.mjs "$url" "$work/app.log" "$rate" "$secs"
ps -o rss=,time= -p "$pid" | awk '{printf "kpid after the run: RSS %.1f MiB, CPU time %s\n", $1/1024, $2}'

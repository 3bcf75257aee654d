#!/usr/bin/env bash
# Apache benchmark: kpid vs mtail 3.0 on the same 2,000,000-line file, in one run.
#
#   bench/apache/run.sh [LINES]          (default 2000000; env REPEAT=3 runs per tool, best kept)
#
# With KPID_BASE=path/to/another/kpid, that binary (an earlier build) runs the same file in the
# same session, interleaved with this one, for a side-by-side of the two builds.
#
# Both do the same extraction: one regex with 8 named captures, a counter by status, a byte
# sum and a latency histogram with fixed buckets (kpid.toml, progs/apache.mtail). The script
# checks that both report the same counts (compare.py), then prints lines/s and the ratio.
# Files go to bench/out/ (git-ignored). Needs python3; installs mtail with apt if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${1:-2000000}
REPEAT=${REPEAT:-3}
OUT=bench/out
LOG=$OUT/access.log
mkdir -p "$OUT"

if ! command -v mtail >/dev/null; then
  echo "installing mtail (Debian package)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mtail >/dev/null
fi
cargo build --release -q -p kpid
KPID=target/release/kpid

if [ "$(cat "$LOG.lines" 2>/dev/null)" != "$LINES" ] || [ ! -s "$LOG" ]; then
  echo "generating $LINES lines into $LOG..."
  python3 bench/apache/gen.py "$LOG.tmp" "$LINES"
  mv "$LOG.tmp" "$LOG" && echo "$LINES" > "$LOG.lines"
fi
cat "$LOG" > /dev/null # page cache warm for both sides
BYTES=$(stat -c %s "$LOG")

# kpid.toml names the source path bench/out/access.log; `--log` the same file.
KPID_CMD=("$KPID" --one-shot --from-start --config bench/apache/kpid.toml --log "$LOG")
MTAIL_CMD=(mtail --one_shot --one_shot_format prometheus --logs "$LOG" --progs bench/apache/progs
  --address 127.0.0.1 --port 0 --log_dir "$OUT")

# run NAME OUTFILE CMD...: best wall time of REPEAT runs; prints "wall cpu maxrss_kb".
run() {
  local name=$1 out=$2; shift 2
  local best="" line
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/$name.time" "$@" > "$out" 2> "$OUT/$name.err"
    line=$(awk '{printf "%.3f %.3f %d", $1, $2 + $3, $4}' "$OUT/$name.time")
    if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN{exit !(a < b)}'; then
      best=$line
    fi
  done
  echo "$best"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $LOG, $LINES lines, $BYTES bytes; best of $REPEAT runs each"
read -r KW KC KM <<< "$(run kpid "$OUT/kpid.prom" "${KPID_CMD[@]}")"
read -r MW MC MM <<< "$(run mtail "$OUT/mtail.prom" "${MTAIL_CMD[@]}")"
if [ -n "${KPID_BASE:-}" ]; then
  BASE_CMD=("$KPID_BASE" "${KPID_CMD[@]:1}")
  read -r BW BC BM <<< "$(run base "$OUT/base.prom" "${BASE_CMD[@]}")"
  read -r KW2 KC2 KM2 <<< "$(run kpid "$OUT/kpid.prom" "${KPID_CMD[@]}")"
  # Interleaved: the better of this build's two batches against the baseline's one.
  if awk -v a="$KW2" -v b="$KW" 'BEGIN{exit !(a < b)}'; then KW=$KW2; KC=$KC2; KM=$KM2; fi
  awk -v n="$LINES" -v bw="$BW" -v bm="$BM" -v kw="$KW" 'BEGIN {
    printf "baseline %s: %.0f lines/s, %.1f MB; this build %.0f lines/s (%+.1f%%)\n", ENVIRON["KPID_BASE"], n / bw, bm / 1024, n / kw, (bw / kw - 1) * 100 }'
fi

python3 bench/apache/compare.py "$OUT/kpid.prom" "$OUT/mtail.prom" "$LINES" > "$OUT/compare.txt" || {
  cat "$OUT/compare.txt"; echo "FAIL: kpid and mtail disagree"; exit 1; }
tail -1 "$OUT/compare.txt"

awk -v n="$LINES" -v b="$BYTES" -v kw="$KW" -v kc="$KC" -v km="$KM" -v mw="$MW" -v mc="$MC" -v mm="$MM" 'BEGIN {
  printf "%-6s %8s %8s %12s %8s %10s\n", "tool", "wall_s", "cpu_s", "lines/s", "MB/s", "maxrss_MB"
  printf "%-6s %8.2f %8.2f %12.0f %8.1f %10.1f\n", "kpid", kw, kc, n / kw, b / kw / 1e6, km / 1024
  printf "%-6s %8.2f %8.2f %12.0f %8.1f %10.1f\n", "mtail", mw, mc, n / mw, b / mw / 1e6, mm / 1024
  printf "kpid/mtail: %.1fx lines/s (wall), %.1fx less CPU time\n", mw / kw, mc / kc
}' | tee "$OUT/result.txt"
echo "kpid: ${KPID_CMD[*]}"
echo "mtail: ${MTAIL_CMD[*]}"

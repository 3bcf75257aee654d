#!/usr/bin/env bash
# Fuzzing, the CI's short run (docs/fuzzing.md): builds every target of fuzz/ on the stable
# toolchain (scripts/fuzz-build.sh) and runs each from its committed corpus, one at a time,
# for FUZZ_SECONDS each, or by default for an equal share of what the build left of
# FUZZ_BUDGET (default 300 s, the CI's budget for fuzzing; at least 5 s each). Fails on any crash, panic, timeout or out-of-memory, and
# names the input that did it. Leaves the tree as it was: new corpus entries go to
# target/fuzz/run/<target>, findings to target/fuzz/artifacts/<target>.
#   scripts/fuzz.sh                                every target
#   FUZZ_SECONDS=600 scripts/fuzz.sh parser_json   one target, longer
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
command -v c++ >/dev/null 2>&1 || {
  echo "fuzz: libFuzzer needs a C++ compiler; scripts/deps.sh installs g++" >&2
  exit 1
}
bin=$(bash scripts/fuzz-build.sh --quiet | tail -n 1)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^kpid-fuzz$')
fi
secs=${FUZZ_SECONDS:-}
if [ -z "$secs" ]; then
  left=$((${FUZZ_BUDGET:-300} - (SECONDS - start) - 5 * ${#targets[@]}))
  secs=$((left / ${#targets[@]}))
  [ "$secs" -ge 5 ] || secs=5
fi
echo "fuzz: built in $((SECONDS - start)) s; ${#targets[@]} targets, $secs s each"
failed=()
for t in "${targets[@]}"; do
  run=target/fuzz/run/$t art=target/fuzz/artifacts/$t
  rm -rf "$run" && mkdir -p "$run" "$art"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  # The first directory receives new inputs; the committed corpus is only read.
  if "$bin/$t" "$run" "fuzz/corpus/$t" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=4096 -artifact_prefix="$art/" -print_final_stats=1 >"$art/log" 2>&1; then
    echo "fuzz: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$art/log" | grep -o '[0-9]*$') runs, no finding"
  else
    echo "fuzz: $t: FAILED; input and log in $art/" >&2
    grep -E '^(thread|panicked|==[0-9]+==|SUMMARY|Test unit written)' "$art/log" | head -n 20 >&2 || true
    failed+=("$t")
  fi
done
echo "fuzz: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}: add each input as a regression test (docs/fuzzing.md)" >&2
  exit 1
fi

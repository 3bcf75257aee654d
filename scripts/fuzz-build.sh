#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ on the stable toolchain: libFuzzer (from the libfuzzer-sys
# crate) with the coverage instrumentation cargo-fuzz would ask rustc for, no sanitizer, debug
# assertions and overflow checks on. Binaries: target/fuzz/<host>/release/<target>.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
flags=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  -Cllvm-args=-sanitizer-coverage-stack-depth
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0
  -Cdebug-assertions
  -Coverflow-checks
  --cfg fuzzing
)
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
RUSTFLAGS="${flags[*]}" cargo build --manifest-path fuzz/Cargo.toml --target-dir target/fuzz \
  --target "$host" --release --locked "$@"
echo "target/fuzz/$host/release"

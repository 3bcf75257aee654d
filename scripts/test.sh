#!/usr/bin/env bash
# Runs every check and test of the workspace: the README's test command, called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# Plugin cdylibs and the daemon binary are built first: integration tests load and run them.
cargo build --workspace --quiet
cargo test --workspace
# A short fuzzing run of every target from its committed corpus (docs/fuzzing.md): at most
# 5 minutes with the build, fails on any crash.
bash scripts/fuzz.sh

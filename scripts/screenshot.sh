#!/usr/bin/env bash
# Refreshes the README's picture, docs/screenshot.png, on request (the test suite never writes
# tracked files): runs `kpid demo` on a free port, lets it fill its charts, drives headless
# Chromium with tests/browser/dashboard.mjs (the browser test's script), copies the result.
# Needs what the browser test needs (`bash scripts/deps.sh` installs chromium, node, npm).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin kpid
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
work="$(mktemp -d)"
demo_pid=""
cleanup() {
  # Only the demo this script started, by its pid.
  if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
bin="$PWD/target/release/kpid"
(cd "$work" && exec "$bin" demo --port 0 >"$work/demo.out" 2>"$work/demo.err") &
demo_pid=$!
url=""
for _ in $(seq 1 300); do
  url="$(grep -o 'http://[0-9.:]*/' "$work/demo.out" 2>/dev/null | head -n1 || true)"
  [ -n "$url" ] && break
  kill -0 "$demo_pid" 2>/dev/null || { cat "$work/demo.err" >&2; echo "screenshot: kpid demo exited" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "screenshot: kpid demo printed no address" >&2; exit 1; }
shot="target/screenshots/dashboard.png"
node tests/browser/dashboard.mjs "$url" "$shot"
cp "$shot" docs/screenshot.png
echo "screenshot: docs/screenshot.png refreshed from $url (commit it if it should change)"

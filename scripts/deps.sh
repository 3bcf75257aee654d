#!/usr/bin/env bash
# Installs what the test suite needs and is missing: Debian's chromium (browser test),
# prometheus (promtool and a real Prometheus server scraping kpid), the browser test's npm
# packages, a C++ compiler (libFuzzer, built by the fuzz targets' libfuzzer-sys), the
# programs that write tests/formats.rs's fixtures (nginx, rsyslog, logger, uvicorn, Go with
# golang.org/x/exp/slog), mtail (tests/mtail_rules.rs compares its counts with kpid's).
# Idempotent; safe to run on every test run.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
# tests/formats.rs: fixtures written by the real programs.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
command -v logger >/dev/null 2>&1 || need+=(bsdutils)
# tests/formats.rs: a Go program logging with slog's TextHandler. Debian 12's Go (1.19) has no
# log/slog; golang-golang-x-exp-dev ships its precursor golang.org/x/exp/slog (same output),
# built in GOPATH mode.
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/exp/slog ] || need+=(golang-golang-x-exp-dev)
# tests/mtail_rules.rs: mtail runs its own example programs beside kpid's translations.
command -v mtail >/dev/null 2>&1 || need+=(mtail)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# uvicorn from PyPI (tests/formats.rs serves a tiny ASGI app with it).
python3 -c "import uvicorn" 2>/dev/null || python3 -m pip install --quiet uvicorn
# Debian's prometheus package may start a service on install; it is left alone: the tests
# start their own Prometheus on free ports, so nothing needs stopping.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# The OTLP tests (tests/otlp.rs) send with the real OpenTelemetry Python SDK and its OTLP/HTTP
# exporter, from PyPI, in a virtual environment under the target directory (where the tests
# look for it, and make it themselves if it is missing).
venv="${CARGO_TARGET_DIR:-target}/tmp/otel-venv"
if ! "$venv/bin/python" -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" >/dev/null 2>&1; then
  echo "deps: installing opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
fi

#!/usr/bin/env bash
# Runs every test of edge-logout: formatting, lints (host and wasm32), the Rust unit tests, the
# worker build, and the end-to-end tests against the built worker under `wrangler dev`.
# Installs what is missing first (scripts/setup.sh). Exits non-zero on the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/setup.sh
export CI=true

step() { printf '\n==> %s\n' "$*" >&2; }
started=$SECONDS

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
step "cargo clippy --target wasm32-unknown-unknown -- -D warnings"
cargo clippy --target wasm32-unknown-unknown -- -D warnings
step "cargo test"
cargo test
step "fuzz every target briefly (scripts/fuzz.sh 3600 for long runs)"
bash scripts/fuzz.sh 5
step "build the worker"
bash scripts/build.sh
step "browser for the end-to-end tests (scripts/setup-browser.sh)"
CHROMIUM="$(bash scripts/setup-browser.sh | sed -n 's/^CHROMIUM=//p')"
[ -n "$CHROMIUM" ] || { echo "scripts/setup-browser.sh named no browser" >&2; exit 1; }
export CHROMIUM
step "end-to-end tests (Node $("$NODE22" --version), wrangler dev)"
mkdir -p tests/artifacts
# One file at a time; every test and hook is bounded in time (--test-timeout, and the suites' own).
"$NODE22" --test --test-concurrency=1 --test-timeout=240000 --test-reporter=spec tests/e2e/*.test.mjs

step "all tests passed in $((SECONDS - started)) s"

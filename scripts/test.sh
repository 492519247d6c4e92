#!/usr/bin/env bash
# Runs the tests of edge-logout; with no argument, all of them:
#   ./scripts/test.sh                  everything below, in this order, then checks that the
#                                      working tree is as clean as it was (git status)
#   ./scripts/test.sh lint             cargo fmt --check, clippy (host --all-targets, wasm32, and the bench-memory build)
#   ./scripts/test.sh rust             cargo test (unit, property and host integration tests)
#   ./scripts/test.sh fuzz             every fuzz target to its minimum of inputs (scripts/fuzz.sh ci)
#   ./scripts/test.sh e2e [WORD...]    builds the worker, then the end-to-end tests under
#                                      `wrangler dev`: only the files of tests/e2e/ whose name
#                                      contains one of the WORDs, if any (e.g. `e2e backchannel`)
#   ./scripts/test.sh faults           a small fault run under `wrangler dev` (150 logouts; relying
#                                      parties failing, the runtime restarted, the cron sweep
#                                      triggered): tests/load/run.mjs faults --n 150 --untimed
#   ./scripts/test.sh clone            what a new user does with a clean clone: npm ci, wrangler
#                                      deploy --dry-run (builds through [build]), ./scripts/dev.sh
#                                      (scripts/check-clone.sh)
# Installs what the chosen part needs and is missing first (scripts/setup.sh). Exits non-zero on
# the first failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CI=true

step() { printf '\n==> %s\n' "$*" >&2; }
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
started=$SECONDS

part="${1:-all}"
[ $# -gt 0 ] && shift
words=("$@")
case "$part" in
  all | lint | rust | fuzz | e2e | faults | clone) ;;
  -h | --help | help) usage ;;
  *) echo "unknown part '$part'" >&2; usage ;;
esac
if [ "$part" != e2e ] && [ ${#words[@]} -gt 0 ]; then
  echo "only e2e takes words" >&2
  usage
fi

# What the working tree looked like before (the full run must leave it so). A git that fails
# (not a clone, a broken repository) fails the run: the check cannot be made without it.
before=
if [ "$part" = all ]; then
  before="$(git status --porcelain)" || { echo "git status failed: cannot check that the tests leave the tree clean" >&2; exit 1; }
fi

# A step that ran no test fails: a filter, a build or a reporter that silently selects nothing
# must not read as a pass. `counted WHAT N`: N tests ran.
counted() {
  local what="$1" n="$2"
  if ! [ "$n" -gt 0 ] 2>/dev/null; then
    echo "$what ran no test (counted '${n:-nothing}'): failing" >&2
    exit 1
  fi
  echo "$what: $n tests ran" >&2
}
steplog="$(mktemp "${TMPDIR:-/tmp}/edge-logout-test.XXXXXX")"
trap 'rm -f "$steplog"' EXIT

case "$part" in
  all) . scripts/setup.sh test ;;
  lint) . scripts/setup.sh rust ;;
  rust) ;;
  fuzz) . scripts/setup.sh fuzz ;;
  e2e | faults) . scripts/setup.sh dev ;;
  clone) ;;
esac

run_lint() {
  step "cargo fmt --check"
  cargo fmt --check
  # test-support: the host bench (benches/) and the fixtures are linted too.
  step "cargo clippy --all-targets --features test-support -- -D warnings"
  cargo clippy --all-targets --features test-support -- -D warnings
  step "cargo clippy --target wasm32-unknown-unknown -- -D warnings"
  cargo clippy --target wasm32-unknown-unknown -- -D warnings
  # The benchmark's in-isolate build (bench/ only: refused without EDGE_LOGOUT_BENCH=1).
  step "cargo clippy --target wasm32-unknown-unknown --features bench-memory -- -D warnings"
  EDGE_LOGOUT_BENCH=1 cargo clippy --target wasm32-unknown-unknown --features bench-memory -- -D warnings
}
run_rust() {
  step "cargo test"
  cargo test 2>&1 | tee "$steplog"
  # Each test binary prints "test result: ok. N passed; ...": the sum is what ran.
  counted "cargo test" "$(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed.*/\1/p' "$steplog" | awk '{n += $1} END {print n + 0}')"
}
run_fuzz() {
  step "fuzz every target to its minimum of inputs (scripts/fuzz.sh ci; 3600 for long runs)"
  bash scripts/fuzz.sh ci
}
run_e2e() {
  step "build the worker"
  bash scripts/build.sh
  step "browser for the end-to-end tests (scripts/setup-browser.sh)"
  CHROMIUM="$(bash scripts/setup-browser.sh | sed -n 's/^CHROMIUM=//p')"
  [ -n "$CHROMIUM" ] || { echo "scripts/setup-browser.sh named no browser" >&2; exit 1; }
  export CHROMIUM
  local files=() f w
  for f in tests/e2e/*.test.mjs; do
    if [ ${#words[@]} -eq 0 ]; then
      files+=("$f")
      continue
    fi
    for w in "${words[@]}"; do
      case "$(basename "$f")" in *"$w"*) files+=("$f"); break ;; esac
    done
  done
  [ ${#files[@]} -gt 0 ] || { echo "no file in tests/e2e/ has ${words[*]} in its name" >&2; exit 1; }
  step "end-to-end tests (Node $("$NODE22" --version), wrangler dev): ${files[*]}"
  mkdir -p tests/artifacts
  # One file at a time; every test and hook is bounded in time (--test-timeout, and the suites'
  # own). The worker was built above: EDGE_LOGOUT_PREBUILT (tools/worker.mjs) skips
  # wrangler.toml's [build] at each of the many starts.
  "$NODE22" --test --test-concurrency=1 --test-timeout=240000 --test-reporter=spec "${files[@]}" 2>&1 | tee "$steplog"
  # The spec reporter ends with "ℹ tests N" and "ℹ pass N": none run, or none passed, fails.
  counted "end-to-end tests" "$(sed -n 's/^ℹ tests \([0-9]*\)$/\1/p' "$steplog" | tail -1)"
  counted "end-to-end tests (passed)" "$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$steplog" | tail -1)"
  # node --test reports a file that declared no test as one test named by the file: each file
  # must have run tests of its own.
  for f in "${files[@]}"; do
    if grep -qE "^(✔|✖) ${f//./\\.} \(" "$steplog"; then
      echo "$f ran no test: failing" >&2
      exit 1
    fi
  done
}
run_faults() {
  step "build the worker"
  bash scripts/build.sh
  step "a small fault run: tests/load/run.mjs faults --n 150 --untimed"
  "$NODE22" tests/load/run.mjs faults --n 150 --concurrency 16 --untimed
}
run_clone() {
  step "a clean clone: npm ci, wrangler deploy --dry-run --outdir, ./scripts/dev.sh (scripts/check-clone.sh)"
  bash scripts/check-clone.sh
}

case "$part" in
  all)
    run_lint
    run_rust
    run_fuzz
    run_e2e
    run_faults
    run_clone
    step "the commands left the working tree as it was (git status --porcelain)"
    after="$(git status --porcelain)" || { echo "git status failed after the tests" >&2; exit 1; }
    if [ "$after" != "$before" ]; then
      echo "git status --porcelain before the tests:" >&2
      printf '%s\n' "${before:-(nothing)}" >&2
      echo "and after:" >&2
      printf '%s\n' "${after:-(nothing)}" >&2
      git diff --stat >&2 || true
      echo "the tests changed the working tree (above): every file they write must be ignored" >&2
      exit 1
    fi
    ;;
  lint) run_lint ;;
  rust) run_rust ;;
  fuzz) run_fuzz ;;
  e2e) run_e2e ;;
  faults) run_faults ;;
  clone) run_clone ;;
esac

step "$part: passed in $((SECONDS - started)) s"

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 5), printing how many inputs each ran.
# For long runs: `scripts/fuzz.sh 3600`, or one target: `scripts/fuzz.sh 3600 request`.
# `scripts/fuzz.sh ci [TARGET...]` (the test command): each target for its time in CI_PLAN
# below, failing when it ran fewer inputs than its minimum there (a run that only replays the
# seeds proves little). The times are set to reach the minimums on 2 busy cores.
# libFuzzer through cargo-fuzz; RUSTC_BOOTSTRAP lets the stable toolchain take its -Z flags.
# `-s none`: the code is safe Rust, so the short runs skip AddressSanitizer; for hours, set
# FUZZ_SANITIZER=address.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh" fuzz
cd "$ROOT"
# target:seconds:minimum inputs. Rates measured on the shared 2-core machine under load
# (load average ~12), `scripts/fuzz.sh 20 request cookies client_metadata` and
# `scripts/fuzz.sh 10 id_token_hint form redirect`: request 907 inputs in 20 s (a whole request,
# some with a confirmation page first), id_token_hint 49,591 in 10 s, form 422,322 in 10 s,
# cookies 1,054,034 in 20 s, client_metadata 1,246,222 in 20 s, redirect 333,816 in 10 s. Each
# time gives about twice its minimum at those rates.
CI_PLAN=(request:120:3000 id_token_hint:15:30000 form:10:150000 cookies:10:150000 client_metadata:10:150000 redirect:10:100000)
seconds="${1:-5}"
shift || true
targets=("$@")
ci=false
if [ "$seconds" = ci ]; then
  ci=true
fi
plan_of() { # target -> "seconds minimum"
  local e
  for e in "${CI_PLAN[@]}"; do
    [ "${e%%:*}" = "$1" ] && { e="${e#*:}"; echo "${e%%:*} ${e#*:}"; return; }
  done
  echo "no CI plan for fuzz target $1" >&2
  exit 1
}
[ ${#targets[@]} -gt 0 ] || targets=(request id_token_hint form cookies client_metadata redirect)
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"
"$CARGO_FUZZ" build -s "$sanitizer" >&2
logs="$(mktemp -d)"
for t in "${targets[@]}"; do
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  # The corpus grows in fuzz/corpus (ignored by git); the committed seeds in fuzz/seeds are read.
  # The test command (ci) starts each time from the seeds alone, in a scratch corpus: replaying a
  # corpus grown over weeks would eat its seconds and miss its minimum on one machine and not on
  # a fresh clone.
  corpus="fuzz/corpus/$t"
  secs="$seconds" min=0
  if $ci; then
    read -r secs min <<<"$(plan_of "$t")"
    corpus="$logs/corpus/$t"
  fi
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  note=""
  [ "$min" -gt 0 ] && note=" (at least $min inputs)"
  echo "[fuzz] $t for ${secs}s$note" >&2
  # -max_len bounds inputs to the service's own limits; a slow input (> 2 s) is a failure.
  if ! "$CARGO_FUZZ" run -s "$sanitizer" "$t" "$corpus" "fuzz/seeds/$t" -- -max_total_time="$secs" \
    -max_len=16384 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
    ${dict[@]+"${dict[@]}"} >"$logs/$t.log" 2>&1; then
    # The panic's message and where the crashing input was written.
    echo "[fuzz] $t FAILED; the end of its log ($logs/$t.log):" >&2
    grep -E "panicked|assertion|left:|right:|ERROR|SUMMARY|Test unit written|Base64" "$logs/$t.log" | tail -n 20 >&2 || tail -n 40 "$logs/$t.log" >&2
    exit 1
  fi
  grep -E "^Done" "$logs/$t.log" >&2 || true
  runs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$logs/$t.log" | tail -1)"
  echo "[fuzz] $t ran ${runs:-no} inputs in ${secs}s" >&2
  if [ "${runs:-0}" -lt "$min" ] || [ -z "$runs" ]; then
    echo "[fuzz] $t ran ${runs:-no} inputs, fewer than its minimum $min: a run that short mostly replays the seeds" >&2
    exit 1
  fi
done
echo "[fuzz] all targets ran without a crash" >&2

#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 5; the test command uses the default).
# For long runs: `scripts/fuzz.sh 3600`, or one target: `scripts/fuzz.sh 3600 request`.
# libFuzzer through cargo-fuzz; RUSTC_BOOTSTRAP lets the stable toolchain take its -Z flags.
# `-s none`: the code is safe Rust, so the short runs skip AddressSanitizer; for hours, set
# FUZZ_SANITIZER=address.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh" fuzz
cd "$ROOT"
seconds="${1:-5}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(request id_token_hint form cookies client_metadata redirect)
export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"
"$CARGO_FUZZ" build -s "$sanitizer" >&2
logs="$(mktemp -d)"
for t in "${targets[@]}"; do
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  # The corpus grows in fuzz/corpus (ignored by git); the committed seeds in fuzz/seeds are read.
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  echo "[fuzz] $t for ${seconds}s" >&2
  # -max_len bounds inputs to the service's own limits; a slow input (> 2 s) is a failure.
  if ! "$CARGO_FUZZ" run -s "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -max_total_time="$seconds" \
    -max_len=16384 -timeout=2 -rss_limit_mb=2048 -print_final_stats=0 -artifact_prefix="fuzz/artifacts/$t/" \
    ${dict[@]+"${dict[@]}"} >"$logs/$t.log" 2>&1; then
    # The panic's message and where the crashing input was written.
    echo "[fuzz] $t FAILED; the end of its log ($logs/$t.log):" >&2
    grep -E "panicked|assertion|left:|right:|ERROR|SUMMARY|Test unit written|Base64" "$logs/$t.log" | tail -n 20 >&2 || tail -n 40 "$logs/$t.log" >&2
    exit 1
  fi
  grep -E "^Done" "$logs/$t.log" >&2 || true
done
echo "[fuzz] all targets ran without a crash" >&2

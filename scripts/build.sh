#!/usr/bin/env bash
# Builds the worker (build/index.js + build/index_bg.wasm) with worker-build, using the tools
# setup.sh installs instead of the downloads worker-build would try. It is also wrangler's
# [build] command (wrangler.toml), so that `wrangler deploy` and `wrangler dev` build a clean
# clone themselves, installing the Rust tools they need when they are missing (after `npm ci`).
# Skips everything, tool checks included, when the inputs did not change since the last build:
# then it costs a fraction of a second, which keeps `wrangler dev` starts quick.
#
# EDGE_LOGOUT_FEATURES (optional): cargo features of a variant build, e.g. `wasm-crypto` (the
# Rust signer in the worker, for bench/), built into build-<features>/ instead of build/.
# `bench-memory` (state in the isolate's memory, no KV: bench/ only) is refused unless
# EDGE_LOGOUT_BENCH=1, and never goes to build/, the folder wrangler.toml deploys.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
features="${EDGE_LOGOUT_FEATURES:-}"
out=build
extra=()
if [ -n "$features" ]; then
  out="build-${features//[^a-z0-9-]/-}"
  extra=(. --features "$features")
fi
case ",$features," in
  *,bench-memory,*)
    if [ "${EDGE_LOGOUT_BENCH:-}" != 1 ] || [ "$out" = build ]; then
      echo "[build] bench-memory keeps state in one isolate's memory: bench/ only (EDGE_LOGOUT_BENCH=1, into build-bench-memory/)" >&2
      exit 2
    fi
    ;;
esac

# SHA-256 of stdin with whatever this system has (GNU coreutils, macOS/BSD, or OpenSSL).
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 | cut -d' ' -f1
  else
    openssl dgst -sha256 | sed 's/^.*= *//'
  fi
}
# The inputs: the crate's manifest and lockfile, this script, and every file under src/ and
# vendor/ (the patched crates; names and contents, in a fixed order).
inputs="$(
  {
    printf 'features=%s\n' "$features"
    cat Cargo.toml Cargo.lock scripts/build.sh
    find src vendor -type f | LC_ALL=C sort | while IFS= read -r f; do
      printf '\n%s\n' "$f"
      cat "$f"
    done
  } | sha256
)"
stamp="$out/.inputs"
if [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "[build] up to date" >&2
  exit 0
fi

. "$ROOT/scripts/setup.sh" build
rm -f "$stamp"
echo "[build] worker-build --release ${extra[*]:-}" >&2
# worker-build runs wasm-bindgen, wasm-opt and esbuild found through these variables.
"$WORKER_BUILD" --release --out-dir "$out" ${extra[@]+"${extra[@]}"} >&2
# worker-build keeps the wasm name section (~200 KB, ~50 KB gzip): strip it from the upload,
# and optimise once more without the names (another ~4 KB gzip), repeating -Oz until it gains
# nothing more (--converge: 1.3 kB gzip less for ~25 s more; bench/README.md, size levers).
"$WASM_OPT_BIN" -Oz --converge --strip-debug --strip-producers --enable-mutable-globals --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue --enable-reference-types \
  --enable-exception-handling "$out/index_bg.wasm" -o "$out/index_bg.wasm"
echo "$inputs" > "$stamp"
echo "[build] built $out/index.js and $out/index_bg.wasm" >&2

#!/usr/bin/env bash
# Builds the worker (build/index.js + wasm) with worker-build, using the tools setup.sh installed
# instead of the downloads worker-build would try. Skips the build when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$ROOT/scripts/setup.sh"
cd "$ROOT"

stamp=build/.inputs
inputs="$(cat Cargo.toml Cargo.lock $(find src -type f | sort) | sha256sum | cut -d' ' -f1)"
if [ -f build/index.js ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "[build] up to date" >&2
  exit 0
fi
echo "[build] worker-build --release" >&2
# worker-build runs wasm-bindgen, wasm-opt and esbuild found through these variables.
"$WORKER_BUILD" --release >&2
# worker-build keeps the wasm name section (~200 KB, ~50 KB gzip): strip it from the upload,
# and optimise once more without the names (another ~4 KB gzip).
"$WASM_OPT_BIN" -Oz --strip-debug --strip-producers --enable-mutable-globals --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-bulk-memory --enable-multivalue --enable-reference-types \
  --enable-exception-handling build/index_bg.wasm -o build/index_bg.wasm
echo "$inputs" > "$stamp"

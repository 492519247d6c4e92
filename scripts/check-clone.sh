#!/usr/bin/env bash
# Checks what a new user does with a clean clone, offline and without a Cloudflare login:
#   git clone (of this repository's HEAD) -> npm ci -> npx wrangler deploy --dry-run --outdir DIR
# where wrangler runs wrangler.toml's [build] (node scripts/build.mjs -> scripts/build.sh) itself: the bundle must hold
# the wasm module, and npm ci must take the lockfile as it is. Then `./scripts/dev.sh` in the
# same clone must start edge-logout with its demo data and stop cleanly on Ctrl-C, leaving no
# process behind. Last, `git status --porcelain` of the clone must be empty.
# Part of ./scripts/test.sh (`./scripts/test.sh clone` alone).
# Uncommitted changes are not part of the clone: commit first to check them.
# The clone compiles into this checkout's target/ (CARGO_TARGET_DIR) unless
# EDGE_LOGOUT_CHECK_FRESH_TARGET=1: the same sources then cost an incremental build, not a full one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Only a Node >= 22.12 is needed from setup (wrangler refuses older ones): `npx wrangler` runs
# with it first on PATH, as it would on a machine whose Node is new enough.
. "$ROOT/scripts/setup.sh" node
say() { printf '[check-clone] %s\n' "$*" >&2; }
started=$SECONDS

tmp="$(mktemp -d "${TMPDIR:-/tmp}/edge-logout-check-clone.XXXXXX")"
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

say "npx wrangler deploy --dry-run --outdir (runs [build]: node scripts/build.mjs)"
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

size() { wc -c < "$1" | tr -d ' '; }
say "bundle: $(cd "$out" && for f in *; do printf '%s (%s bytes) ' "$f" "$(size "$f")"; done)"
say "$(grep -E 'Total Upload' "$tmp/deploy.log" | head -n 1 | sed 's/^ *//')"

# ./scripts/dev.sh in the clone, on a free port, until it says it runs; then Ctrl-C (SIGINT).
port="$("$NODE22" -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => console.log(p)); })')"
say "./scripts/dev.sh (PORT=$port), then Ctrl-C"
t=$SECONDS
: > "$tmp/dev.log"
env -u EDGE_LOGOUT_PREBUILT PORT="$port" ${target[@]+"${target[@]}"} ./scripts/dev.sh > "$tmp/dev.log" 2>&1 &
dev_pid=$!
stop_dev() { kill -INT "$dev_pid" 2>/dev/null || true; }
trap 'stop_dev; rm -rf "$tmp"' EXIT
up=0
for _ in $(seq 600); do
  grep -q '^\[dev\] running' "$tmp/dev.log" && { up=1; break; }
  kill -0 "$dev_pid" 2>/dev/null || break
  sleep 0.5
done
dev_s=$((SECONDS - t))
[ "$up" = 1 ] || { tail -n 60 "$tmp/dev.log" >&2; say "./scripts/dev.sh did not come up (log above)"; exit 1; }
"$NODE22" -e 'fetch(process.argv[1]).then(async (r) => { const j = await r.json(); if (r.status !== 200 || !j.end_session_endpoint) throw new Error(`discovery: ${r.status}`); })' \
  "http://127.0.0.1:$port/.well-known/openid-configuration" || { say "discovery of ./scripts/dev.sh did not answer"; exit 1; }
kill -INT "$dev_pid"
code=0
wait "$dev_pid" || code=$?
[ "$code" = 130 ] || { tail -n 30 "$tmp/dev.log" >&2; say "./scripts/dev.sh ended with status $code on Ctrl-C, not 130"; exit 1; }
grep -q '^\[dev\] stopped' "$tmp/dev.log" || { say "./scripts/dev.sh did not say it stopped"; exit 1; }
if "$NODE22" -e 'fetch(process.argv[1]).then(() => process.exit(0), () => process.exit(1))' "http://127.0.0.1:$port/"; then
  say "something still answers on 127.0.0.1:$port after Ctrl-C"
  exit 1
fi
left="$(ps -eo pid=,args= | grep -F "$clone" | grep -v grep || true)"
[ -z "$left" ] || { printf '%s\n' "$left" >&2; say "processes of the clone left after Ctrl-C (above)"; exit 1; }

status="$(git status --porcelain)"
[ -z "$status" ] || { printf '%s\n' "$status" >&2; say "git status --porcelain of the clone is not empty after npm ci, the deploy build and dev.sh"; exit 1; }
say "ok in $((SECONDS - started)) s (npm ci ${npm_s} s, deploy --dry-run with its build ${deploy_s} s, dev.sh up in ${dev_s} s); the clone is clean"

#!/usr/bin/env bash
# Runs edge-logout locally with demo data: installs what is missing (scripts/setup.sh), builds
# the worker, writes .dev.vars if there is none, starts `wrangler dev` on 127.0.0.1:$PORT
# (default 8787) and a demo relying party on $PORT+1, seeds demo clients and a demo session,
# prints the URLs, and stays in the foreground until Ctrl-C.
#   ./scripts/dev.sh            PORT=8790 ./scripts/dev.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/setup.sh
bash scripts/build.sh

PORT="${PORT:-8787}"
[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT > 0 && PORT < 65535 )) || { echo "[dev] PORT must be a port number below 65535, not '$PORT'" >&2; exit 2; }
RP_PORT=$((PORT + 1))
export PORT CI=true WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

say() { printf '[dev] %s\n' "$*" >&2; }
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "$RP_PORT"; do
  if in_use "$p"; then say "127.0.0.1:$p is in use: stop what listens there, or choose another PORT"; exit 1; fi
done

"$NODE22" scripts/dev-vars.mjs

WRANGLER_PID="" RP_PID=""
cleanup() {
  trap - EXIT INT TERM HUP
  local pg
  for pg in $WRANGLER_PID $RP_PID; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  # wrangler leaves its workerd children behind if only its node process goes: wait a little,
  # then kill whatever is left of both process groups.
  for _ in $(seq 50); do
    local alive=0
    for pg in $WRANGLER_PID $RP_PID; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pg in $WRANGLER_PID $RP_PID; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Each in its own session and process group (setsid), so that the whole group can be killed.
# No --var flags: .dev.vars governs (wrangler reads it from the project directory).
setsid "$NODE22" tests/support/rp.mjs --port "$RP_PORT" &
RP_PID=$!
setsid "$NODE22" "$WRANGLER_JS" dev --ip 127.0.0.1 --port "$PORT" --persist-to .wrangler/state \
  --show-interactive-dev-session=false &
WRANGLER_PID=$!

# Up when discovery answers (any HTTP status: seed-demo.mjs reports a bad one).
answers() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET /.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$PORT" >&3
    IFS= read -r -t 10 status <&3 || exit 1
    [[ "$status" == HTTP/* ]]
  ) 2>/dev/null
}
deadline=$((SECONDS + 60))
until answers; do
  kill -0 "$WRANGLER_PID" 2>/dev/null || { say "wrangler dev exited"; exit 1; }
  (( SECONDS < deadline )) || { say "wrangler dev did not answer on 127.0.0.1:$PORT within 60 s"; exit 1; }
  sleep 0.2
done
kill -0 "$RP_PID" 2>/dev/null || { say "the demo RP exited"; exit 1; }

BASE_URL="http://127.0.0.1:$PORT" RP_URL="http://127.0.0.1:$RP_PORT" "$NODE22" scripts/seed-demo.mjs
say "running; Ctrl-C stops wrangler and the demo RP"

# Until Ctrl-C, or until either process ends by itself.
set +e
wait -n "$WRANGLER_PID" "$RP_PID"
status=$?
say "a process ended by itself (status $status)"
exit "$status"

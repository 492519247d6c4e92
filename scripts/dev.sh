#!/usr/bin/env bash
# Runs edge-logout locally with demo data: installs what running needs and is missing
# (scripts/setup.sh dev: no test tools), builds the worker, writes .dev.vars if there is none,
# starts `wrangler dev` on 127.0.0.1:$PORT (default 8787, with --test-scheduled: the cron runs on
# request at /cdn-cgi/local/scheduled?format=json) and a demo relying party on $PORT+1,
# seeds demo clients and a demo session, prints the URLs, and stays in the foreground until
# Ctrl-C (scripts/dev-run.mjs, which ends both process groups whole).
#   ./scripts/dev.sh            PORT=8790 ./scripts/dev.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PORT="${PORT:-8787}"
case "$PORT" in
  '' | *[!0-9]*) echo "[dev] PORT must be a port number below 65535, not '$PORT'" >&2; exit 2 ;;
esac
(( PORT > 0 && PORT < 65535 )) || { echo "[dev] PORT must be a port number below 65535, not '$PORT'" >&2; exit 2; }
export PORT

. scripts/setup.sh dev
bash scripts/build.sh
"$NODE22" scripts/dev-vars.mjs
exec "$NODE22" scripts/dev-run.mjs

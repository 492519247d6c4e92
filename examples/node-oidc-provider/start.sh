#!/usr/bin/env bash
# Runs the example locally: edge-logout (wrangler dev) beside node-oidc-provider under one issuer,
# http://127.0.0.1:$PORT (default 8787), with two demo relying parties. Installs what is missing
# (scripts/setup.sh dev), builds the worker, then ./example.mjs starts everything with fresh keys
# and prints the URLs. Ctrl-C stops it all.
#   ./examples/node-oidc-provider/start.sh          PORT=8790 ./examples/node-oidc-provider/start.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
. scripts/setup.sh dev
bash scripts/build.sh
exec "$NODE22" examples/node-oidc-provider/example.mjs "$@"

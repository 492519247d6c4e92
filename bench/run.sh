#!/usr/bin/env bash
# The benchmark in one command: installs what is missing (scripts/setup.sh), builds the worker
# when its sources changed (scripts/build.sh), compiles the host micro-benchmarks, then runs
# bench/run.mjs with Node 22. Flags go to bench/run.mjs (see bench/lib/options.mjs or bench/README.md).
#   bash bench/run.sh            # default run, a few minutes
#   bash bench/run.sh --quick    # smoke run
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/setup.sh
bash scripts/build.sh
case " $* " in
  *" --no-host "*) ;;
  *) cargo bench --bench logout_crypto --features test-support --no-run >&2 || echo "[bench] the host benchmarks do not build now: run.mjs reports it and goes on" >&2 ;;
esac
exec "$NODE22" bench/run.mjs "$@"

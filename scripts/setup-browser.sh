#!/usr/bin/env bash
# Installs the browser the end-to-end browser tests drive (tests/e2e/browser.test.mjs): Debian's
# Chromium, driven by the npm package playwright-core (a test tool's own browser download cannot
# work here). Idempotent: nothing happens when /usr/bin/chromium is there; `apt-get update` runs
# only when installing. Needs root (or sudo without a password) to install. Non-interactive.
# Prints `CHROMIUM=/path` on stdout (everything else goes to stderr), so that callers can
#   eval "$(bash scripts/setup-browser.sh)"; export CHROMIUM
set -euo pipefail

say() { printf '[setup-browser] %s\n' "$*" >&2; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  if [ "$CHROMIUM" != /usr/bin/chromium ]; then
    say "CHROMIUM=$CHROMIUM is not an executable"
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no /usr/bin/chromium and no apt-get to install it: install Chromium and set CHROMIUM=/path/to/it"
    exit 1
  fi
  LOG="${TMPDIR:-/tmp}/edge-logout-setup-browser.log"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      SUDO=(sudo -n)
    else
      say "installing Chromium needs root: run 'apt-get install -y chromium' as root"
      exit 1
    fi
  fi
  say "installing Debian's chromium with apt-get (once per machine; log in $LOG)"
  # No recommends (printing, avahi, samba...): headless Chromium needs only its dependencies,
  # plus a common font family so that screenshots look alike from machine to machine.
  if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      chromium fonts-liberation; } >"$LOG" 2>&1; then
    tail -n 40 "$LOG" >&2
    say "apt-get failed (whole log in $LOG)"
    exit 1
  fi
  [ -x "$CHROMIUM" ] || { say "apt-get finished but $CHROMIUM is missing"; exit 1; }
fi

say "$("$CHROMIUM" --version 2>/dev/null || echo "chromium at $CHROMIUM")"
printf 'CHROMIUM=%s\n' "$CHROMIUM"

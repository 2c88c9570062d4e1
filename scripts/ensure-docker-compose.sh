#!/usr/bin/env bash
# Makes sure the docker-compose v1 CLI (Debian's `docker-compose` package, 1.29) is on PATH.
# Used by test/unit/compose.test.ts so a fresh CI machine installs it instead of skipping.
# Exit 0 when docker-compose runs afterwards; non-zero with a message naming what is missing.
set -euo pipefail

if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-docker-compose: docker-compose is not installed and this user is not root;" \
    "install it (Debian: 'sudo apt-get install -y docker-compose') and re-run." >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-docker-compose: docker-compose is not installed and apt-get is not available;" \
    "install docker-compose 1.29 (or a compatible CLI) by hand and re-run." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
# Package lists may be missing or stale on a fresh machine: update only if the first try fails.
if ! apt-get install -y --no-install-recommends docker-compose >&2; then
  apt-get update >&2
  apt-get install -y --no-install-recommends docker-compose >&2
fi
echo "ensure-docker-compose: installed docker-compose in $(( $(date +%s) - start ))s" >&2

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "ensure-docker-compose: apt-get finished but docker-compose is still not on PATH." >&2
  exit 1
fi

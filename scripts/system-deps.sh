#!/usr/bin/env bash
# Install the Debian packages piizone's sandbox and database tests use, when we can (root + apt).
# Without them the sandbox refuses to run and the PostgreSQL tests skip outside CI (fail in CI).
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing ${need[*]}; install them (apt-get install ${need[*]}) for the full test suite" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

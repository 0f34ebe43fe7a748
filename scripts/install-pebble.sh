#!/bin/sh
# Install Debian's pebble (ACME test server) and pebble-challtestsrv, used by test/pki/acme.test.ts.
# Idempotent: does nothing when both binaries are already on PATH. Needs root (apt-get).
set -eu
if command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1; then
  echo "pebble already installed: $(command -v pebble) $(command -v pebble-challtestsrv)"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install-pebble.sh: must run as root (apt-get install -y pebble)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends pebble
command -v pebble
command -v pebble-challtestsrv

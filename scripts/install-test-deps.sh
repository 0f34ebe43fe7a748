#!/bin/sh
# Installs the system packages the test suite uses, when they are missing:
#   pebble + pebble-challtestsrv  real ACME server for the certificate tests
#   openssl                       the certificate tests' tooling
#   wrk                           the benchmark scripts' request-encoding test (bench/waf/requests.test.ts)
# Idempotent. Uses apt-get as root, or sudo when available; otherwise says what is missing.
set -eu
need=""
command -v pebble >/dev/null 2>&1 && command -v pebble-challtestsrv >/dev/null 2>&1 || need="$need pebble"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
if [ -z "$need" ]; then echo "test dependencies present"; exit 0; fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "install-test-deps.sh: missing:$need; run as root or install them with apt-get" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
echo "installed:$need"

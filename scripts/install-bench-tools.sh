#!/bin/sh
# Install what the benchmarks under bench/ compare Portcullis with (Debian packages):
#   nginx, haproxy, wrk                 bench/http/run.ts (the proxy benchmark)
#   libnginx-mod-http-modsecurity       bench/waf (nginx + ModSecurity v3; it pulls in libmodsecurity3).
#     Only the module is used: the benchmark points ModSecurity at the CRS v4.28.0 rules in
#     ../shared/waf/crs-v4.28.0, never at Debian's modsecurity-crs (CRS v3), which is not installed.
#   testssl.sh                          scripts/testssl.ts (TLS configuration scan of an HTTPS listener;
#     it pulls in bsdextrautils etc. and uses the system openssl; bench/tls/run.ts uses openssl too)
# Idempotent: installs only what is missing, runs `apt-get update` only when apt has no candidate.
# Needs root. Does NOT enable or start the packages' system services: the benchmarks run their own
# foreground instances with temporary configs on ephemeral loopback ports.
set -eu

MODULE=/usr/lib/nginx/modules/ngx_http_modsecurity_module.so

missing=""
command -v nginx   >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]   || missing="$missing nginx"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$missing haproxy"
command -v wrk     >/dev/null 2>&1 || missing="$missing wrk"
command -v testssl >/dev/null 2>&1 || command -v testssl.sh >/dev/null 2>&1 || missing="$missing testssl.sh"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -f "$MODULE" ] || missing="$missing libnginx-mod-http-modsecurity"

if [ -z "$missing" ]; then
  echo "bench tools already installed: nginx haproxy wrk libnginx-mod-http-modsecurity testssl.sh openssl"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "install-bench-tools.sh: must run as root to install:$missing (apt-get install -y$missing)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Keep invoke-rc.d from starting the services during install: a policy-rc.d that answers 101
# ("action forbidden"). Put back whatever was there before, even on error.
POLICY=/usr/sbin/policy-rc.d
SAVED=""
if [ -e "$POLICY" ]; then
  SAVED="$(mktemp)"
  cp -p "$POLICY" "$SAVED"
fi
restore_policy() {
  if [ -n "$SAVED" ]; then mv -f "$SAVED" "$POLICY"; else rm -f "$POLICY"; fi
}
trap restore_policy EXIT INT TERM
printf '#!/bin/sh\nexit 101\n' > "$POLICY"
chmod 755 "$POLICY"

echo "installing:$missing"
need_update=0
for p in $missing; do
  cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
done
[ "$need_update" = 1 ] && apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing

# On systemd hosts the units may still be enabled for the next boot; disable and stop them so the
# packaged nginx/haproxy never hold :80 or run beside the benchmark. Harmless without systemd.
for svc in nginx haproxy; do
  case "$missing" in *"$svc"*)
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  esac
done

for bin in nginx haproxy wrk; do
  p="$(command -v "$bin" 2>/dev/null || true)"
  [ -z "$p" ] && [ -x "/usr/sbin/$bin" ] && p="/usr/sbin/$bin"
  if [ -z "$p" ]; then echo "install-bench-tools.sh: $bin still missing after install" >&2; exit 1; fi
  echo "$bin: $p"
done
p="$(command -v testssl 2>/dev/null || command -v testssl.sh 2>/dev/null || true)"
if [ -z "$p" ]; then echo "install-bench-tools.sh: testssl still missing after install" >&2; exit 1; fi
echo "testssl: $p"
if [ ! -f "$MODULE" ]; then echo "install-bench-tools.sh: $MODULE still missing after install" >&2; exit 1; fi
echo "modsecurity module: $MODULE ($(dpkg-query -W -f='libmodsecurity3 ${Version}' libmodsecurity3 2>/dev/null || echo 'libmodsecurity3 version unknown'))"

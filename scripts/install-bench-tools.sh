#!/bin/sh
# Install Debian's nginx, haproxy and wrk, used by bench/http/run.ts (the proxy benchmark).
# Idempotent: installs only what is missing, and runs `apt-get update` at most once.
# Needs root (apt-get). Does NOT enable or start the packages' system services: the benchmark runs
# its own foreground instances with temporary configs on ephemeral loopback ports.
set -eu

missing=""
command -v nginx   >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]   || missing="$missing nginx"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$missing haproxy"
command -v wrk     >/dev/null 2>&1 || missing="$missing wrk"

if [ -z "$missing" ]; then
  echo "bench tools already installed: nginx haproxy wrk"
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
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing

# On systemd hosts the unit may still be enabled for the next boot; disable and stop it so the
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

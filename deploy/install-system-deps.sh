#!/usr/bin/env bash
# Installs what Harmoniq needs from the system's packages:
#   nginx   the edge proxy that `make dev` and the fleet tests run as their own child process
#   coturn  TURN/STUN for voice (the voice service and its tests)
#   prometheus  for its promtool, which checks and unit-tests the alert rules
#               (tests/deploy/test_monitoring.py); its daemon is not used here
#   kubectl     for its kustomize, which renders deploy/k8s (tests/deploy/test_k8s.py); not in
#               Debian's own archive: taken from whichever apt source has it (Kubernetes'
#               pkgs.k8s.io, Google Cloud's), else this script says how to get it and fails
# Idempotent: does nothing when both are there. Debian/Ubuntu through apt-get, as root or with
# sudo; anywhere else it prints what to install and exits non-zero.
#
# Debian 12 (bookworm) has `nginx` (1.22, the full server; `nginx-light` is only a transitional
# package depending on it there, and it is gone in Debian 13), so the package is `nginx`.
#
# Harmoniq runs its own nginx/coturn with its own configs on its own ports: installing the
# packages must not leave their system daemons running (nginx on :80, coturn on :3478). Service
# starts are denied during the install with a policy-rc.d (exit 101, "action forbidden"; honoured
# by invoke-rc.d and deb-systemd-invoke), a daemon that started anyway is stopped by its pid file,
# and on systemd hosts the units this script installed are disabled so they do not start at boot.
set -euo pipefail

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
have_coturn() { command -v turnserver >/dev/null 2>&1 || [ -x /usr/bin/turnserver ]; }
have_promtool() { command -v promtool >/dev/null 2>&1 || [ -x /usr/bin/promtool ]; }
have_kubectl() { command -v kubectl >/dev/null 2>&1; }

need=()
have_nginx || need+=(nginx)
have_coturn || need+=(coturn)
have_promtool || need+=(prometheus)
if ! have_kubectl; then
  if apt-cache policy kubectl 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    need+=(kubectl)
  else
    echo "Harmoniq needs kubectl (>= 1.27, for kustomize): add Kubernetes' apt repository" >&2
    echo "(https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/) and run this again." >&2
    exit 1
  fi
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

manual="sudo apt-get update && sudo apt-get install -y ${need[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Harmoniq needs: ${need[*]} (nginx >= 1.18, coturn >= 4.5) from your package manager," >&2
  echo "e.g. 'brew install nginx coturn' or 'sudo dnf install nginx coturn'." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
  as_root=(sudo)   # passwordless, or a terminal where sudo can ask for the password
else
  echo "Harmoniq needs: ${need[*]}. As root (or with sudo) run:" >&2
  echo "  $manual" >&2
  exit 1
fi
run() { "${as_root[@]}" "$@"; }

echo "install-system-deps: installing ${need[*]} with apt-get" >&2

# Deny service starts for the duration: install our policy-rc.d, keeping any existing one aside
# and restoring it afterwards (even on failure or Ctrl-C).
policy=/usr/sbin/policy-rc.d
saved="$policy.harmoniq-saved"
if [ -e "$policy" ]; then
  run mv -f "$policy" "$saved"
fi
restore_policy() {
  run rm -f "$policy"
  if [ -e "$saved" ]; then
    run mv -f "$saved" "$policy"
  fi
}
trap restore_policy EXIT
trap 'exit 130' INT TERM
printf '#!/bin/sh\n# installed by Harmoniq deploy/install-system-deps.sh for one apt-get run\nexit 101\n' \
  | run tee "$policy" >/dev/null
run chmod 0755 "$policy"

# Pid files of the daemons these packages would start; one that exists before is not ours.
pidfiles=(/run/nginx.pid /run/turnserver/turnserver.pid /run/turnserver.pid /run/prometheus.pid)
preexisting=()
for pidfile in "${pidfiles[@]}"; do
  if [ -e "$pidfile" ]; then preexisting+=("$pidfile"); fi
done

run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${need[@]}"

# Belt and braces: a daemon that started anyway is stopped, only by the pid file it wrote
# during this install and only if that pid really is nginx/turnserver.
for pidfile in "${pidfiles[@]}"; do
  case " ${preexisting[*]-} " in *" $pidfile "*) continue ;; esac
  [ -s "$pidfile" ] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  case "$pid" in '' | *[!0-9]*) continue ;; esac
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  case "$comm" in
    nginx | turnserver | prometheus)
      echo "install-system-deps: stopping the $comm daemon the package started (pid $pid)" >&2
      run kill "$pid" 2>/dev/null || true
      ;;
  esac
done
# systemd hosts: the packages enable their units; ours run from make dev instead.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for package in "${need[@]}"; do
    run systemctl disable --now "$package.service" >/dev/null 2>&1 || true
  done
fi

have_nginx || { echo "install-system-deps: nginx is still missing; run: $manual" >&2; exit 1; }
have_coturn || { echo "install-system-deps: coturn is still missing; run: $manual" >&2; exit 1; }
have_promtool || { echo "install-system-deps: promtool is still missing; run: $manual" >&2; exit 1; }
echo "install-system-deps: done ($("$(command -v nginx || echo /usr/sbin/nginx)" -v 2>&1))" >&2

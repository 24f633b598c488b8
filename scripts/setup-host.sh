#!/bin/sh
# Prepares this host for testbed: installs the Debian packages it needs and starts the Docker
# engine, virtlogd and libvirtd when they are not running (no systemd needed). Idempotent.
# As non-root or off Debian it checks instead and prints what to install.
set -eu

PACKAGES="docker.io libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils busybox-static xorriso cpio e2fsprogs dropbear-bin mmdebstrap fdisk"
LIBVIRT_URI="${TESTBED_LIBVIRT_URI:-${BENCHSCALE_LIBVIRT_URI:-qemu:///system}}"

log() { printf 'setup-host: %s\n' "$*" >&2; }

missing_packages() {
  for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
  done
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  seconds=$1; what=$2; shift 2
  i=0
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge "$((seconds * 5))" ]; then log "$what did not come up within ${seconds}s"; return 1; fi
    sleep 0.2
  done
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  # Not root or not Debian: say what is missing, but do not fail; tests then report the gap.
  if command -v dpkg-query >/dev/null 2>&1; then
    missing=$(missing_packages)
    [ -z "$missing" ] || log "missing packages: $missing (run: sudo apt-get install -y --no-install-recommends $missing)"
  fi
  docker info >/dev/null 2>&1 || log "Docker engine not reachable: start it (sudo systemctl start docker) or set DOCKER_HOST"
  virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1 || log "libvirt at $LIBVIRT_URI not reachable: start libvirtd and add yourself to the libvirt group"
  [ ! -e /dev/kvm ] || [ -r /dev/kvm ] && [ -w /dev/kvm ] || log "/dev/kvm is not accessible: add yourself to the kvm group"
  exit 0
fi

missing=$(missing_packages)
if [ -n "$missing" ]; then
  log "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# libvirtd re-probes QEMU on every start while the qemu user cannot open /dev/kvm (≈ 48 s per
# domain start). Make it accessible as distributions do: group kvm, mode 0660, qemu user in kvm.
if [ -e /dev/kvm ]; then
  getent group kvm >/dev/null 2>&1 || groupadd -r kvm
  chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  id -nG libvirt-qemu 2>/dev/null | grep -qw kvm || usermod -aG kvm libvirt-qemu 2>/dev/null || true
fi

if ! docker info >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd"
    nohup dockerd >/var/log/testbed-dockerd.log 2>&1 &
  fi
  wait_for 60 dockerd docker info
fi

if ! pgrep -x virtlogd >/dev/null 2>&1; then log "starting virtlogd"; virtlogd -d; fi
if ! virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
  if ! pgrep -x libvirtd >/dev/null 2>&1; then log "starting libvirtd"; libvirtd -d; fi
  wait_for 60 libvirtd virsh -c "$LIBVIRT_URI" version
fi
log "host ready: Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), $(virsh -c "$LIBVIRT_URI" version 2>/dev/null | sed -n 's/^Running hypervisor: //p')"

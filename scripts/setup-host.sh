#!/bin/sh
# Prepares this host for testbed: installs the Debian packages it needs and starts the Docker
# engine, virtlogd and libvirtd when they are not running (no systemd needed). Idempotent.
# As non-root or off Debian it installs nothing: it says what it found and prints the exact
# commands that finish the setup.
set -eu

PACKAGES="docker.io libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils busybox-static xorriso cpio e2fsprogs dropbear-bin mmdebstrap fdisk openssh-client iproute2"
LIBVIRT_URI="${TESTBED_LIBVIRT_URI:-${BENCHSCALE_LIBVIRT_URI:-qemu:///system}}"
LIBVIRTD_CONF=/etc/libvirt/libvirtd.conf
LIBVIRT_SOCK=/var/run/libvirt/libvirt-sock
SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

log() { printf 'setup-host: %s\n' "$*" >&2; }
# set -e stops at the first failing command; say so instead of ending without a word.
trap 'rc=$?; [ "$rc" = 0 ] || log "failed (exit $rc); run \`sh -x $SCRIPT\` to see the failing step"' EXIT

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

# The host's own daemon, by its pidfile: `pgrep` would also find the dockerd and libvirtd of a
# test host in a namespace (test/integration/support/remote-host.ts) and start nothing here.
daemon_pid() { # daemon_pid NAME: prints the pid of the host's running NAME, or fails
  pid=$(cat "/run/$1.pid" 2>/dev/null) && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

in_group() { id -nG | tr ' ' '\n' | grep -qx "$1"; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  # Not root or not Debian: report what is there and print the commands that finish the setup.
  # Exit 0: tests then report (or skip locally) the backends that are still missing.
  user=$(id -un)
  commands=""
  add() { commands="$commands  $*
"; }
  log "found: user $user (uid $(id -u)), groups: $(id -nG)"
  if command -v dpkg-query >/dev/null 2>&1; then
    missing=$(missing_packages)
    if [ -n "$missing" ]; then
      log "found: missing packages: $missing"
      add "sudo apt-get install -y --no-install-recommends $missing"
    else
      log "found: every package testbed uses is installed"
    fi
  else
    log "found: not a Debian host (no dpkg-query); install the equivalents of: $PACKAGES"
  fi
  groups_needed=""
  if docker info >/dev/null 2>&1; then
    log "found: Docker engine reachable"
  elif [ -S /var/run/docker.sock ] && ! in_group docker; then
    log "found: Docker engine running, but /var/run/docker.sock is for group docker and $user is not in it"
    groups_needed="docker"
  else
    log "found: Docker engine not reachable (no /var/run/docker.sock answering; DOCKER_HOST=${DOCKER_HOST:-unset})"
  fi
  if virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
    log "found: libvirt at $LIBVIRT_URI reachable"
  else
    if [ -S "$LIBVIRT_SOCK" ]; then
      log "found: libvirtd running, but $LIBVIRT_URI refuses $user ($(virsh -c "$LIBVIRT_URI" version 2>&1 | tail -n 1))"
    else
      log "found: libvirtd not running (no $LIBVIRT_SOCK)"
    fi
    if ! in_group libvirt; then
      groups_needed="${groups_needed:+$groups_needed,}libvirt"
    elif [ -S "$LIBVIRT_SOCK" ] && [ ! -d /run/systemd/system ]; then
      # In the group, yet refused: no polkit to ask (no systemd); the script opens the socket to the group.
      add "sudo sh $SCRIPT   # lets group libvirt connect without polkit"
    fi
    # Where virsh starts the per-user daemon from: a user's PATH has no /usr/sbin.
    if { [ -x /usr/sbin/libvirtd ] || [ -x /usr/sbin/virtqemud ]; } && command -v qemu-system-x86_64 >/dev/null 2>&1; then
      log "found: qemu:///session usable (libvirt's per-user daemon, started on first use): testbed uses it while $LIBVIRT_URI is not reachable"
    fi
  fi
  if [ ! -e /dev/kvm ]; then
    log "found: no /dev/kvm (guests run under TCG: slower, still correct); enable virtualization in the firmware or the VM's settings"
  elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    log "found: /dev/kvm accessible"
  else
    log "found: /dev/kvm not accessible to $user ($(ls -l /dev/kvm | cut -d' ' -f1,3,4)): guests of qemu:///session run under TCG"
    in_group kvm || groups_needed="${groups_needed:+$groups_needed,}kvm"
  fi
  if [ -n "$groups_needed" ]; then
    add "sudo usermod -aG $groups_needed $user   # then log out and in again"
    for g in $(echo "$groups_needed" | tr ',' ' '); do
      ! id -nG "$user" | tr ' ' '\n' | grep -qx "$g" || log "found: $user is in group $g, but not in this session yet: log out and in again (or: newgrp $g)"
    done
  fi
  if { [ ! -S /var/run/docker.sock ] && [ -z "${DOCKER_HOST:-}" ]; } || [ ! -S "$LIBVIRT_SOCK" ]; then
    if [ -d /run/systemd/system ]; then
      add "sudo systemctl enable --now docker libvirtd virtlogd"
    else
      # No systemd: the script starts the daemons itself, and lets group libvirt in without polkit.
      add "sudo sh $SCRIPT   # starts dockerd, virtlogd and libvirtd"
    fi
  fi
  if [ -n "$commands" ]; then
    log "to finish the setup, run:"
    printf '%s' "$commands" >&2
  else
    log "host ready for $user"
  fi
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
  if ! daemon_pid dockerd >/dev/null; then
    log "starting dockerd"
    nohup dockerd >/var/log/testbed-dockerd.log 2>&1 &
  fi
  wait_for 60 dockerd docker info
fi

# Debian lets group libvirt into qemu:///system through polkit, which needs the system D-Bus.
# Without systemd there is none, and libvirtd refuses every non-root client: grant the same
# access through the socket's group instead.
restart_libvirtd=""
if [ ! -d /run/systemd/system ] && [ ! -S /run/dbus/system_bus_socket ] && [ -f "$LIBVIRTD_CONF" ]; then
  if ! grep -q '^# testbed: group libvirt' "$LIBVIRTD_CONF"; then
    log "letting group libvirt use qemu:///system without polkit ($LIBVIRTD_CONF)"
    getent group libvirt >/dev/null 2>&1 || groupadd -r libvirt
    cat >>"$LIBVIRTD_CONF" <<'EOF'

# testbed: group libvirt may connect (no polkit without a system D-Bus), as Debian's polkit rule allows
unix_sock_group = "libvirt"
unix_sock_rw_perms = "0770"
auth_unix_rw = "none"
EOF
  fi
  # A daemon started before the change still asks polkit; its socket is not yet group libvirt.
  if [ -S "$LIBVIRT_SOCK" ] && [ "$(stat -c %G "$LIBVIRT_SOCK")" != libvirt ]; then restart_libvirtd=1; fi
fi

if ! daemon_pid virtlogd >/dev/null; then log "starting virtlogd"; virtlogd -d; fi
if [ -n "$restart_libvirtd" ] && pid=$(daemon_pid libvirtd); then
  # Running guests survive: the new daemon reconnects to their QEMU processes.
  log "restarting libvirtd (pid $pid) with the new socket permissions"
  kill "$pid"
  wait_for 30 "libvirtd exit" sh -c "! kill -0 $pid"
fi
if ! virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then
  if ! daemon_pid libvirtd >/dev/null; then log "starting libvirtd"; libvirtd -d; fi
  wait_for 60 libvirtd virsh -c "$LIBVIRT_URI" version
fi
if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  for g in libvirt kvm docker; do
    id -nG "$SUDO_USER" | tr ' ' '\n' | grep -qx "$g" || log "$SUDO_USER is not in group $g: sudo usermod -aG $g $SUDO_USER"
  done
fi
log "host ready: Docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), $(virsh -c "$LIBVIRT_URI" version 2>/dev/null | sed -n 's/^Running hypervisor: //p')"

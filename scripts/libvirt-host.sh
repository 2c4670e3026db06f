#!/usr/bin/env bash
# A real libvirt host for tests and measurements: Debian's libvirtd with QEMU in software
# emulation (and the LXC driver), started by hand (there is no systemd here), serving
# qemu:///system and lxc:///system on this machine.
#
#   scripts/libvirt-host.sh up          install what is missing (root), fix /dev/kvm, start virtlogd
#                                       and libvirtd, create the storage pool; idempotent
#   scripts/libvirt-host.sh guests N    define and start guests gp-guest-1..N (128 MiB, 1 vCPU,
#                                       a 64 MiB qcow2 that boots nothing); prints the seconds taken
#   scripts/libvirt-host.sh down        destroy and undefine every domain of the daemon this script
#                                       started, stop libvirtd and virtlogd by PID, restore /dev/kvm
#   scripts/libvirt-host.sh status      exit 0 when the daemon answers, 3 when not
#
# Facts this script is built on (each cost hours to find):
# * where /dev/kvm exists but is root-only, libvirt re-probes QEMU on every define (~56 s each);
#   it is given group kvm and mode 0660 while the host is up, and restored by `down`;
# * LXC domains on this host's mixed cgroup v1/v2 layout need libvirtd started in its own mount
#   namespace (`unshare -m`) with /sys/fs/cgroup/unified unmounted there (and only there);
# * guests keep running after libvirtd stops, so `down` destroys them first;
# * per-interface statistics need <interface type='ethernet'> (user-mode networking has none).
# State (PIDs, the saved /dev/kvm mode, the pool's files) lives under var/libvirt/ of this repo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/var/libvirt"
POOL_DIR="$DIR/pool"
POOL=glasspane
URI="qemu:///system"
WAIT_SECONDS="${GLASSPANE_LIBVIRT_WAIT:-60}"
PACKAGES=(libvirt-daemon-system qemu-system-x86 qemu-utils libvirt-daemon-driver-lxc libvirt-clients)

say() { echo "libvirt-host: $*" >&2; }
die() { say "$*"; exit 1; }
virsh_() { virsh -q -c "$URI" "$@"; }

answers() { timeout 10 virsh -q -c "$URI" version >/dev/null 2>&1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ensure_packages() {
    local missing=()
    command -v libvirtd >/dev/null || missing+=(libvirt-daemon-system)
    command -v virsh >/dev/null || missing+=(libvirt-clients)
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v qemu-img >/dev/null || missing+=(qemu-utils)
    compgen -G "/usr/lib/*/libvirt/connection-driver/libvirt_driver_lxc.so" >/dev/null \
        || missing+=(libvirt-daemon-driver-lxc)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install as root: apt-get install ${PACKAGES[*]}"
    say "installing Debian packages: ${PACKAGES[*]}"
    # no daemon may be started by the packages' maintainer scripts (we start ours by hand)
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
        --no-install-recommends "${PACKAGES[@]}" >&2 || {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
            --no-install-recommends "${PACKAGES[@]}" >&2
    }
    [ "$made_policy" = 1 ] && rm -f "$policy"
    return 0
}

fix_kvm() {
    # Only a root-only /dev/kvm is changed, and its owner and mode are kept to be restored.
    [ -c /dev/kvm ] || return 0
    [ -f "$DIR/kvm.orig" ] && return 0
    local group mode
    group="$(stat -c %G /dev/kvm)"
    mode="$(stat -c %a /dev/kvm)"
    if [ "$group" = root ] && [ "$mode" = 600 ] && getent group kvm >/dev/null; then
        echo "$group $mode" >"$DIR/kvm.orig"
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
        say "/dev/kvm: group kvm, mode 0660 (was $group $mode; restored by down)"
    fi
}

restore_kvm() {
    [ -f "$DIR/kvm.orig" ] || return 0
    local group mode
    read -r group mode <"$DIR/kvm.orig"
    chgrp "$group" /dev/kvm && chmod "$mode" /dev/kvm
    rm -f "$DIR/kvm.orig"
}

start_daemons() {
    mkdir -p "$DIR/log" /run/libvirt
    if ! alive "$DIR/virtlogd.pid"; then
        virtlogd -d -p "$DIR/virtlogd.pid"
    fi
    if ! alive "$DIR/libvirtd.pid"; then
        # its own mount namespace, without the cgroup v2 'unified' mount: the LXC driver can
        # then place containers in the v1 hierarchies. The host's mounts are not touched.
        unshare -m --propagation private sh -c \
            'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec libvirtd -d -p "$1"' \
            libvirtd "$DIR/libvirtd.pid" >>"$DIR/log/libvirtd.out" 2>&1
    fi
    local deadline=$((SECONDS + WAIT_SECONDS))
    until answers; do
        alive "$DIR/libvirtd.pid" || die "libvirtd exited during start-up (see $DIR/log/ and /var/log/libvirt/)"
        [ $SECONDS -lt $deadline ] || die "libvirtd did not answer within ${WAIT_SECONDS}s"
        sleep 0.3
    done
}

ensure_pool() {
    mkdir -p "$POOL_DIR"
    chmod 0755 "$POOL_DIR"
    if ! virsh_ pool-info "$POOL" >/dev/null 2>&1; then
        virsh_ pool-define-as "$POOL" dir --target "$POOL_DIR" >/dev/null
    fi
    virsh_ pool-is-active "$POOL" 2>/dev/null | grep -q yes 2>/dev/null \
        || virsh_ pool-start "$POOL" >/dev/null 2>&1 || true
    virsh_ pool-refresh "$POOL" >/dev/null
}

up() {
    mkdir -p "$DIR"
    if answers && ! alive "$DIR/libvirtd.pid"; then
        say "a libvirtd not started by this script answers at $URI; using it as it is"
        return 0
    fi
    ensure_packages
    fix_kvm
    start_daemons
    ensure_pool
    say "up: $URI (libvirtd pid $(cat "$DIR/libvirtd.pid"))"
}

guest_xml() {
    local name="$1" project="$2"
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <metadata><glasspane:project xmlns:glasspane="https://glasspane.dev/xmlns/1">$project</glasspane:project></metadata>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='$POOL' volume='$name.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='ethernet'><model type='virtio'/></interface>
    <memballoon model='virtio'><stats period='2'/></memballoon>
  </devices>
</domain>
EOF
}

guests() {
    local count="${1:-3}" project="${2:-demo}" started=$SECONDS t0
    t0=$(date +%s.%N)
    answers || up
    for i in $(seq 1 "$count"); do
        local name="gp-guest-$i"
        virsh_ vol-info --pool "$POOL" "$name.qcow2" >/dev/null 2>&1 \
            || virsh_ vol-create-as "$POOL" "$name.qcow2" 64M --format qcow2 >/dev/null
        if ! virsh_ dominfo "$name" >/dev/null 2>&1; then
            guest_xml "$name" "$project" >"$DIR/$name.xml"
            virsh_ define "$DIR/$name.xml" >/dev/null
        fi
        virsh_ domstate "$name" | grep -q running || virsh_ start "$name" >/dev/null
    done
    echo "$count guests running after $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo $((SECONDS - started))) s"
}

down() {
    if ! alive "$DIR/libvirtd.pid"; then
        say "libvirtd was not started by this script (no live $DIR/libvirtd.pid)"
    else
        # guests outlive libvirtd: destroy and undefine ours first
        for dom in $(virsh -c "$URI" list --all --name 2>/dev/null) $(virsh -c lxc:///system list --all --name 2>/dev/null); do
            for uri in "$URI" lxc:///system; do
                virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
                virsh -q -c "$uri" undefine "$dom" >/dev/null 2>&1 || true
            done
        done
        virsh_ pool-destroy "$POOL" >/dev/null 2>&1 || true
        virsh_ pool-undefine "$POOL" >/dev/null 2>&1 || true
        stop_pid "$DIR/libvirtd.pid" libvirtd
    fi
    alive "$DIR/virtlogd.pid" && stop_pid "$DIR/virtlogd.pid" virtlogd
    rm -f "$DIR"/virtlogd.pid "$DIR"/libvirtd.pid
    rm -rf "$POOL_DIR" "$DIR"/gp-guest-*.xml
    restore_kvm
    say "down"
}

stop_pid() {
    local pid
    pid="$(cat "$1")"
    grep -q "$2" "/proc/$pid/cmdline" 2>/dev/null || { say "pid $pid is not $2; left alone"; return 0; }
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

status() {
    if answers; then
        say "running: $URI ($(virsh -q -c "$URI" list --name | grep -c . || true) running domains)"
    else
        say "not running"
        exit 3
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    guests) shift; guests "$@" ;;
    uri) echo "$URI" ;;
    *) echo "usage: $0 up|down|status|guests N [PROJECT]|uri" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real LXD host for tests and `make run`: Debian's lxd (5.0.x) run by hand, without systemd, with
# its own state directory (LXD_DIR) under var/lxd/ of this repository, a `dir` storage pool, no
# network, and a busybox image built locally from Debian's busybox-static (no image server can be
# reached from here).
#
#   scripts/lxd-host.sh start    start (idempotent), wait until ready, print GLASSPANE_LXD_SOCKET=...
#   scripts/lxd-host.sh stop     stop the daemon this script started (pid file) and its instances
#   scripts/lxd-host.sh status   say whether it answers; exit 0 if it does, 3 if not
#   scripts/lxd-host.sh env      print GLASSPANE_LXD_SOCKET=/ABS/PATH/unix.socket
#
# Nothing global is changed: the daemon's database, certificates, images, storage pool and socket
# all live under LXD_DIR (GLASSPANE_LXD_DIR overrides it; the socket path must stay under 100
# characters, so a deep checkout falls back to /tmp/glasspane-lxd-<hash>). Stopping sends the
# daemon SIGPWR, which shuts its instances down and unmounts what it mounted, then waits for it to
# exit; a daemon that will not is killed by its PID.
# Host facts (Debian 12 kernel here): containers run; LXD virtual machines do not ("vhost_vsock
# kernel module not loaded"), so the VM tests skip and say why.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${GLASSPANE_LXD_DIR:-$ROOT/var/lxd}"
if [ ${#DIR} -gt 85 ]; then
    DIR="/tmp/glasspane-lxd-$(echo -n "$ROOT" | sha256sum | cut -c1-12)"
fi
export LXD_DIR="$DIR"
SOCK="$DIR/unix.socket"
PIDFILE="$DIR/lxd.pid"
LOG="$DIR/lxd.log"
IMAGE_ALIAS="busybox"
WAIT_SECONDS="${GLASSPANE_LXD_WAIT:-60}"

say() { echo "lxd-host: $*" >&2; }
die() { say "$*"; exit 1; }

answers() {
    [ -S "$SOCK" ] || return 1
    curl -fsS --max-time 3 --unix-socket "$SOCK" http://lxd/1.0 >/dev/null 2>&1
}

ensure_packages() {
    local missing=()
    command -v lxd >/dev/null || missing+=(lxd)
    command -v lxc >/dev/null || missing+=(lxd-client)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install: apt-get install lxd lxd-client busybox-static curl"
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
}

preseed() {
    # Once per state directory: a `dir` pool and a default profile with a root disk, nothing else
    # (no bridge: it would add iptables rules and a link to the host).
    lxc storage show default >/dev/null 2>&1 && return 0
    say "preseeding: dir storage pool, no network"
    lxd init --preseed <<'EOF'
config: {}
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  description: Glasspane test profile (root disk only, no network)
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF
}

ensure_image() {
    lxc image info "$IMAGE_ALIAS" >/dev/null 2>&1 && return 0
    say "building image '$IMAGE_ALIAS' from /bin/busybox"
    local build
    build="$(mktemp -d "${TMPDIR:-/tmp}/glasspane-lxd-image.XXXXXX")"
    mkdir -p "$build/rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var}
    cp /bin/busybox "$build/rootfs/bin/busybox"
    chroot "$build/rootfs" /bin/busybox --install -s /bin
    # init: sleep until told to stop. LXD stops a container by sending its init SIGPWR; a trap
    # makes that a clean exit at once instead of a 30 s wait and a kill.
    cat >"$build/rootfs/sbin/init" <<'EOF'
#!/bin/sh
trap "exit 0" PWR TERM INT
while true; do sleep 3600 & wait $!; done
EOF
    chmod 755 "$build/rootfs/sbin/init"
    echo "root:x:0:0:root:/root:/bin/sh" >"$build/rootfs/etc/passwd"
    echo "root:x:0:" >"$build/rootfs/etc/group"
    chmod 1777 "$build/rootfs/tmp"
    cat >"$build/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  os: busybox
  release: "$(/bin/busybox | head -1 | awk '{print $2}')"
  description: busybox-static rootfs built locally for Glasspane
EOF
    tar --numeric-owner -C "$build" -czf "$build/busybox.tar.gz" metadata.yaml rootfs
    lxc image import "$build/busybox.tar.gz" --alias "$IMAGE_ALIAS" >/dev/null
    rm -rf "$build"
}

print_env() { echo "GLASSPANE_LXD_SOCKET=$SOCK"; }

start() {
    mkdir -p "$DIR"
    chmod 711 "$DIR"
    if answers; then
        print_env
        return 0
    fi
    ensure_packages
    local began=$SECONDS
    rm -f "$SOCK"
    # setsid: the daemon outlives this shell and is not killed with the caller's process group.
    setsid lxd --group root --logfile "$LOG" >>"$DIR/lxd.out" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    if ! lxd waitready --timeout "$WAIT_SECONDS"; then
        tail -n 20 "$LOG" "$DIR/lxd.out" >&2 || true
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || die "lxd exited during start-up (log: $LOG)"
        die "lxd did not become ready within ${WAIT_SECONDS}s (log: $LOG)"
    fi
    preseed
    ensure_image
    say "ready in $((SECONDS - began))s (LXD_DIR=$DIR)"
    print_env
}

is_our_lxd() {
    local pid="$1"
    kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "^lxd "
}

stop() {
    [ -f "$PIDFILE" ] || { say "not started by this script (no $PIDFILE)"; return 0; }
    local pid
    pid="$(cat "$PIDFILE")"
    if is_our_lxd "$pid"; then
        # SIGPWR: LXD stops every instance, unmounts its tmpfs mounts and exits.
        kill -PWR "$pid"
        for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "lxd (pid $pid) did not exit within 60s of SIGPWR; killing it"
            kill -9 "$pid" || true
        fi
    fi
    rm -f "$PIDFILE"
    local mnt
    for mnt in "$DIR/shmounts" "$DIR/devlxd"; do
        if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || true; fi
    done
    say "stopped"
}

status() {
    if answers; then
        say "running, LXD_DIR=$DIR"
        print_env
    else
        say "not running"
        exit 3
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) print_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

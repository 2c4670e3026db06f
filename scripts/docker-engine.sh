#!/usr/bin/env bash
# A Docker-API engine for tests and `make run`: Debian's podman serving its Docker-compatible API
# on a unix socket under var/podman/ of this repository, with its own storage, its own
# containers.conf and a busybox image built from Debian's busybox-static (no registry needed).
#
#   scripts/docker-engine.sh start    start (idempotent), wait for /_ping, print DOCKER_HOST=...
#   scripts/docker-engine.sh stop     stop the service this script started (pid file), nothing else
#   scripts/docker-engine.sh status   say whether it answers; exit 0 if it does, 3 if not
#   scripts/docker-engine.sh env      print DOCKER_HOST=unix:///ABS/PATH
#
# Nothing global is changed: CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and
# CONTAINERS_REGISTRIES_CONF point at files under var/podman/. Choices forced by this host:
# runc (crun fails on the hybrid cgroup layout), cgroupfs (no systemd), `default_ulimits = []`
# (setrlimit is refused), and slirp4netns as the default network (the bridge network would add
# iptables rules and a cni-podman0 link to the host). Storage driver: overlay, vfs as fallback
# (GLASSPANE_PODMAN_STORAGE_DRIVER=vfs forces it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/var/podman"
SOCK="$DIR/podman.sock"
PIDFILE="$DIR/service.pid"
LOG="$DIR/service.log"
IMAGE="localhost/busybox:latest"
WAIT_SECONDS="${GLASSPANE_PODMAN_WAIT:-30}"

export CONTAINERS_CONF="$DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$DIR/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$DIR/registries.conf"
export TMPDIR="${TMPDIR:-/tmp}"

say() { echo "docker-engine: $*" >&2; }
die() { say "$*"; exit 1; }

ping_ok() {
    [ -S "$SOCK" ] || return 1
    curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
}

ensure_packages() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    command -v slirp4netns >/dev/null || missing+=(slirp4netns)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install: apt-get install podman runc busybox-static uidmap slirp4netns fuse-overlayfs curl"
    say "installing Debian packages: podman runc busybox-static uidmap slirp4netns fuse-overlayfs curl"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        podman runc busybox-static uidmap slirp4netns fuse-overlayfs curl >&2
}

write_config() {
    local driver="$1"
    mkdir -p "$DIR/run" "$DIR/storage" "$DIR/tmp" "$DIR/cni"
    cat >"$CONTAINERS_CONF" <<EOF
# Written by scripts/docker-engine.sh; only this engine reads it.
[containers]
default_ulimits = []
netns = "slirp4netns"
log_driver = "k8s-file"

[network]
network_config_dir = "$DIR/cni"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/events.log"
tmp_dir = "$DIR/tmp"
EOF
    cat >"$CONTAINERS_STORAGE_CONF" <<EOF
# Written by scripts/docker-engine.sh; only this engine reads it.
[storage]
driver = "$driver"
runroot = "$DIR/run"
graphroot = "$DIR/storage"
EOF
    cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
# No registry is reachable from here; images are imported locally.
unqualified-search-registries = []
EOF
}

choose_storage() {
    # Keep whatever driver the storage was created with; otherwise try overlay, fall back to vfs.
    if [ -n "${GLASSPANE_PODMAN_STORAGE_DRIVER:-}" ]; then
        echo "$GLASSPANE_PODMAN_STORAGE_DRIVER"
    elif [ -f "$DIR/storage.driver" ]; then
        cat "$DIR/storage.driver"
    else
        write_config overlay
        if podman info --format '{{.Store.GraphDriverName}}' >/dev/null 2>&1; then
            echo overlay
        else
            rm -rf "$DIR/storage" "$DIR/run"
            echo vfs
        fi
    fi
}

ensure_image() {
    podman image exists "$IMAGE" && return 0
    say "building $IMAGE from /bin/busybox"
    local build
    build="$(mktemp -d "$DIR/tmp/busybox.XXXXXX")"
    mkdir -p "$build/rootfs/bin" "$build/rootfs/tmp" "$build/rootfs/proc" "$build/rootfs/sys" \
        "$build/rootfs/dev" "$build/rootfs/etc" "$build/rootfs/root"
    cp /bin/busybox "$build/rootfs/bin/busybox"
    chroot "$build/rootfs" /bin/busybox --install -s /bin
    echo "root:x:0:0:root:/root:/bin/sh" >"$build/rootfs/etc/passwd"
    echo "root:x:0:" >"$build/rootfs/etc/group"
    chmod 1777 "$build/rootfs/tmp"
    tar -C "$build/rootfs" -cf "$build/busybox.tar" .
    podman import --change 'CMD ["/bin/sh"]' "$build/busybox.tar" "$IMAGE" >/dev/null
    rm -rf "$build"
}

print_env() { echo "DOCKER_HOST=unix://$SOCK"; }

start() {
    mkdir -p "$DIR"
    if ping_ok; then
        print_env
        return 0
    fi
    ensure_packages
    local driver
    driver="$(choose_storage)"
    write_config "$driver"
    echo "$driver" >"$DIR/storage.driver"
    ensure_image
    rm -f "$SOCK"
    # setsid: the service outlives this shell and is not killed with the caller's process group.
    setsid podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + WAIT_SECONDS))
    until ping_ok; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 20 "$LOG" >&2 || true
            die "podman service exited during start-up (log: $LOG)"
        fi
        [ $SECONDS -lt $deadline ] || die "podman service did not answer /_ping within ${WAIT_SECONDS}s (log: $LOG)"
        sleep 0.2
    done
    print_env
}

stop() {
    [ -f "$PIDFILE" ] || { say "not started by this script (no $PIDFILE)"; return 0; }
    local pid
    pid="$(cat "$PIDFILE")"
    # Containers live in this engine's private storage: stop the ones still running (conmon
    # would otherwise keep them alive without a service), then the service itself.
    podman stop --all --time 5 >/dev/null 2>&1 || true
    if kill -0 "$pid" 2>/dev/null && grep -q "system" "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -f "$PIDFILE" "$SOCK"
    # the overlay driver bind-mounts its own directory; do not leave that mount behind
    if mountpoint -q "$DIR/storage/overlay" 2>/dev/null; then umount "$DIR/storage/overlay" || true; fi
    say "stopped"
}

status() {
    if ping_ok; then
        say "running at unix://$SOCK"
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

#!/usr/bin/env bash
# Install what Glasspane needs on a Debian machine: system packages (when root), a virtualenv in
# .venv, and the project with its test extras, all pinned in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

DEBS=(libvirt-dev pkg-config gcc python3-dev python3-venv podman runc busybox-static uidmap slirp4netns
      fuse-overlayfs chromium fonts-liberation redis-server systemd)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: not root; please install: ${missing[*]}" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
.venv/bin/python -m pip install -q -e ".[test]"
mkdir -p var
echo "bootstrap: ready ($(.venv/bin/python --version))"

#!/usr/bin/env bash
# `make run`: migrate, seed the demo, start the local engines, a Celery worker and beat on the
# embedded defaults (SQLite, filesystem broker) and the web server (gunicorn). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8000}
PY=.venv/bin/python
mkdir -p var/log
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # a worker in warm shutdown waits for its tasks; give everything 15 s, then stop it hard
  for _ in $(seq 1 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do pkill -9 -P "$pid" 2>/dev/null || true; kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${started_engine:-0}" = 1 ] && bash scripts/docker-engine.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0

started_engine=0
if [ -z "${DOCKER_HOST:-}" ] && [ -x scripts/docker-engine.sh ]; then
  if line=$(bash scripts/docker-engine.sh start 2>var/log/docker-engine.log); then
    export "${line?}"; started_engine=1
  else
    echo "run: no Docker-API engine (see var/log/docker-engine.log); the demo goes on without it"
  fi
fi

# the local LXD joins the demo when it is up (scripts/lxd-host.sh start); make run does not start it
if [ -z "${GLASSPANE_LXD_SOCKET:-}" ] && line=$(bash scripts/lxd-host.sh status 2>/dev/null); then
  export "${line##*$'\n'}"
fi

SIM_PORT=${SIM_PORT:-5010}
$PY manage.py openstack_sim --port "$SIM_PORT" --seed demo >var/log/openstack-sim.log 2>&1 & pids+=($!)
for _ in $(seq 1 40); do
  (exec 3<>/dev/tcp/127.0.0.1/$SIM_PORT) 2>/dev/null && break
  sleep 0.25
done
export GLASSPANE_DEMO_OPENSTACK_URL="http://127.0.0.1:$SIM_PORT/v3"

K8S_SIM_PORT=${K8S_SIM_PORT:-6443}
$PY -m devsim.kubernetes --port "$K8S_SIM_PORT" --seed demo >var/log/kubernetes-sim.log 2>&1 & pids+=($!)
for _ in $(seq 1 40); do
  (exec 3<>/dev/tcp/127.0.0.1/$K8S_SIM_PORT) 2>/dev/null && break
  sleep 0.25
done
export GLASSPANE_DEMO_KUBERNETES_URL="http://127.0.0.1:$K8S_SIM_PORT"
# a small Proxmox VE cluster (two nodes, two pools) when the test-only fakepve is installed
PVE_PORT=${PVE_PORT:-5011}
if $PY -c "import fakepve" 2>/dev/null; then
  $PY -m devsim.proxmox --port "$PVE_PORT" --cert-dir var/proxmox --seed demo >var/log/proxmox-sim.log 2>&1 & pids+=($!)
  for _ in $(seq 1 40); do
    pve_line=$(grep -m1 "^GLASSPANE_DEMO_PROXMOX=" var/log/proxmox-sim.log 2>/dev/null) && break
    sleep 0.25
  done
  [ -n "${pve_line:-}" ] && export "${pve_line?}" || echo "run: the Proxmox demo cluster did not start (see var/log/proxmox-sim.log)"
fi

$PY manage.py demo | tee var/log/demo.log

.venv/bin/celery -A portal worker --loglevel INFO --concurrency 2 >var/log/worker.log 2>&1 & pids+=($!)
.venv/bin/celery -A portal beat --loglevel INFO >var/log/beat.log 2>&1 & pids+=($!)
# lifecycle events of libvirt accounts, recorded as they happen (metering.listener)
$PY manage.py listen_events >var/log/events.log 2>&1 & pids+=($!)
# the same web server as production (deploy/gunicorn.conf.py), a few workers; WhiteNoise serves static.
# In a session of its own, so Ctrl-C reaches only its master, through cleanup's TERM: a graceful stop
# (a terminal's SIGINT to the workers themselves would cut requests in flight).
GLASSPANE_BIND="127.0.0.1:$PORT" GLASSPANE_WEB_WORKERS=${WEB_WORKERS:-3} \
  setsid .venv/bin/gunicorn -c deploy/gunicorn.conf.py portal.wsgi >var/log/web.log 2>&1 & pids+=($!)

for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
  sleep 0.5
done
echo
echo "Glasspane is running at http://127.0.0.1:$PORT/"
grep -o 'admin login .*' var/log/demo.log | sed 's/^/  /'
echo "  logs: var/log/{web,worker,beat}.log   (Ctrl-C stops everything)"
wait -n "${pids[@]}"

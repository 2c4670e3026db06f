#!/usr/bin/env bash
# Start what the tests need (a Docker-API engine when none is configured), run the whole suite,
# stop what was started. DATABASE_URL and CELERY_BROKER_URL (CI: PostgreSQL and Redis) pass through.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
started_engine=0
if [ -z "${DOCKER_HOST:-}" ] && [ -x scripts/docker-engine.sh ]; then
  if line=$(bash scripts/docker-engine.sh start); then
    export "${line?}"
    started_engine=1
  else
    echo "test: the Docker-API engine did not start; the Docker tests will fail" >&2
  fi
fi
# the worker integration tests use Redis (CI's, or a throwaway one started here)
started_redis=0
if [ -z "${CELERY_BROKER_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --pidfile "$PWD/var/redis.pid" --logfile "$PWD/var/redis.log" && started_redis=1
    sleep 0.5
  fi
fi
.venv/bin/python -m pytest "$@"
status=$?
if [ "$started_redis" = 1 ] && [ -f var/redis.pid ]; then
  kill "$(cat var/redis.pid)" 2>/dev/null || true
fi
if [ "$started_engine" = 1 ]; then
  bash scripts/docker-engine.sh stop >/dev/null || true
fi
exit $status

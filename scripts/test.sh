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
.venv/bin/python -m pytest "$@"
status=$?
if [ "$started_engine" = 1 ]; then
  bash scripts/docker-engine.sh stop >/dev/null || true
fi
exit $status

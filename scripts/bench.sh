#!/usr/bin/env bash
# `make bench`: the benchmarks on PostgreSQL (a fresh glasspane_bench database) with a local
# Docker-API engine; prints one table. RECORD=1 writes bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/glasspane}
server=${base%/*}
export DATABASE_URL="$server/glasspane_bench_run"
.venv/bin/python - "$server" <<'PY'
import sys, psycopg
with psycopg.connect(sys.argv[1] + "/postgres", autocommit=True) as c:
    c.execute("DROP DATABASE IF EXISTS glasspane_bench_run")
    c.execute("CREATE DATABASE glasspane_bench_run")
PY
started_engine=0
if [ -z "${DOCKER_HOST:-}" ] && line=$(bash scripts/docker-engine.sh start 2>/dev/null); then
  export "${line?}"; started_engine=1
fi
status=0
.venv/bin/python -m bench.run || status=$?
[ "$started_engine" = 1 ] && bash scripts/docker-engine.sh stop >/dev/null 2>&1 || true
exit $status

#!/usr/bin/env bash
# `make bench`: the benchmarks on PostgreSQL (a fresh database of this run's own) with a local
# Docker-API engine; prints one table. RECORD=1 writes bench/RESULTS.md. SCALE=large runs the
# large-scale variant (bench/large.py) instead.
#
# The database is named after this checkout and this process (glasspane_bench_<path hash>_<pid>), so
# parallel runs from several checkouts or shells never share or drop each other's, and it is dropped
# when the run ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/glasspane}
server=${base%/*}
db="glasspane_bench_$(pwd -P | cksum | cut -d' ' -f1)_$$"
export DATABASE_URL="$server/$db"
dbctl() {
  .venv/bin/python - "$server" "$1" "$db" <<'PY'
import sys, psycopg
server, action, name = sys.argv[1:]
with psycopg.connect(server + "/postgres", autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if action == "create":
        c.execute(f'CREATE DATABASE "{name}"')
PY
}
started_engine=0
cleanup() {
  [ "$started_engine" = 1 ] && bash scripts/docker-engine.sh stop >/dev/null 2>&1 || true
  dbctl drop || echo "bench: could not drop database $db" >&2
}
trap cleanup EXIT
dbctl create
if [ -z "${DOCKER_HOST:-}" ] && line=$(bash scripts/docker-engine.sh start 2>/dev/null); then
  export "${line?}"; started_engine=1
fi
.venv/bin/python -m bench.run

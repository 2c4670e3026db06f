"""The priced overview under concurrent users, through gunicorn: p50 and p95 of whole HTTP requests.

The load half of ``bench/pages.py`` on its own (the same data, server and clients): builds the
pages' history unless ``--reuse``, starts gunicorn as production does and has ``--clients``
clients in separate processes load the priced overview ``--requests`` times each.

    DATABASE_URL=postgres://.../gp_bench .venv/bin/python bench/overview_load.py [--clients 16] [--reuse]

Needs ``DATABASE_URL`` on a PostgreSQL database of its own: it is flushed and filled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import pages  # noqa: E402  (sets Django up)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=15, help="per client")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: production's)")
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the database")
    args = parser.parse_args()
    if pages.connection.vendor != "postgresql":
        print("set DATABASE_URL to a PostgreSQL database of its own", file=sys.stderr)
        return 2
    if not args.reuse:
        pages.build(args.resources, args.days)
    with pages.Server(args.workers) as server:
        result = pages.load(server, args.clients, args.requests)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

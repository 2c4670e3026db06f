"""``openstack_sim --port PORT [--seed demo]``: serve the OpenStack API simulator on loopback.

Prints its auth URL; the admin login is user ``admin``, password ``admin``, project ``admin``,
domain ``Default``.
"""

from __future__ import annotations

from devsim.openstack.server import serve
from providers.management.base import GlasspaneCommand


class Command(GlasspaneCommand):
    help = "Serve the OpenStack API simulator (Keystone v3, Nova, Cinder) on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=5000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", default="demo", help="demo | empty | gen:N (N generated servers)")

    def handle(self, *args, port, host, seed, **opts):
        if not 0 < port < 65536:
            raise self.usage_error(f"--port {port}: must be between 1 and 65535")
        if seed not in ("demo", "empty") and not (seed.startswith("gen:") and seed[4:].isdigit()):
            raise self.usage_error(f"--seed {seed!r}: use demo, empty or gen:N")
        serve(host=host, port=port, seed=seed, announce=lambda line: self.stdout.write(line))

"""Serve a fake Proxmox VE cluster until interrupted (``make run``'s demo).

    python -m devsim.proxmox --port 8007 --cert-dir var/proxmox --seed demo

Prints one line, ``GLASSPANE_DEMO_PROXMOX=host:port:cafile``, once it listens.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from devsim import proxmox


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devsim.proxmox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert-dir", default="var/proxmox")
    parser.add_argument("--seed", default="demo", help="demo, or gen:N for N generated guests")
    args = parser.parse_args(argv)
    if not proxmox.available():
        print("devsim.proxmox: the test-only package fakepve is not installed (pip install -e '.[test]')",
              file=sys.stderr)
        return 2
    if args.seed == "demo":
        seed = proxmox.demo
    elif args.seed.startswith("gen:") and args.seed[4:].isdigit():
        seed = proxmox.generated(int(args.seed[4:]))
    else:
        print(f"devsim.proxmox: --seed must be demo or gen:N, got {args.seed!r}", file=sys.stderr)
        return 2
    cluster = proxmox.start(args.cert_dir, port=args.port, seed=seed)
    print(f"GLASSPANE_DEMO_PROXMOX={proxmox.HOST}:{cluster.port}:{cluster.cafile}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

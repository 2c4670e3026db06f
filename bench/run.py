"""``make bench``: every figure next to its floor, on PostgreSQL, printed as one table.

Runs on a fresh database (``glasspane_bench`` on the server named by ``DATABASE_URL``). With
``RECORD=1`` the table and the machine's description are written to ``bench/RESULTS.md``.
``BENCH_ONLY=pages,quota`` runs only the steps whose label contains one of the words.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import django


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    django.setup()
    from django.core.management import call_command

    from bench import allocation, csv_export, refresh, report, scaleout, scripts
    from bench.harness import Figure, table

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    figures: list[Figure] = []
    steps = [
        ("libvirt refresh", refresh.libvirt_figures),
        ("OpenStack refresh", refresh.openstack_figures),
        ("Docker refresh", lambda: refresh.docker_figures(os.environ.get("DOCKER_HOST"))),
        ("Kubernetes refresh", refresh.kubernetes_figures),
        ("Proxmox refresh", refresh.proxmox_figures),
        ("usage report", report.figures),
        ("CSV export", csv_export.figures),
        ("pages", scripts.pages),
        ("quota admission", scripts.quota_admission),
        ("allocation", allocation.figures),
        ("scale-out", scaleout.figures),
    ]
    if os.environ.get("SCALE") == "large":  # bench/large.py: 100,000 resources, 10,000,000 segments
        from bench import large

        steps = [("large scale", large.figures)]
    only = [w.strip().lower() for w in os.environ.get("BENCH_ONLY", "").split(",") if w.strip()]
    if only:
        steps = [(label, step) for label, step in steps if any(w in label.lower() for w in only)]
    for label, step in steps:
        t = time.perf_counter()
        print(f"bench: {label} ...", file=sys.stderr, flush=True)
        figures.extend(step())
        print(f"bench: {label} done in {time.perf_counter() - t:.1f}s", file=sys.stderr, flush=True)
    text = table(figures)
    print(text)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if os.environ.get("RECORD") == "1" and not only and os.environ.get("SCALE") != "large":
        machine = f"{platform.node()}: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        Path(__file__).with_name("RESULTS.md").write_text(
            f"# Benchmark results\n\nMachine: {machine}\nDate: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
            f"{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

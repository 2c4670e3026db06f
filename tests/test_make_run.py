"""`make run` itself, on a clean clone of this repository: it starts, prints the URL, serves a
login, the overview, a static file and a CSV, and Ctrl-C (SIGINT to its process group, as a
terminal sends it) stops every process it started.

The clone borrows this checkout's installed ``.venv`` (installing again would take minutes);
``PYTHONPATH`` points the processes at the clone's code, so only committed files are served.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.servers import ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.smoke]

#: variables that switch `make run` away from its embedded defaults
NOT_INHERITED = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SETTINGS_MODULE",
                 "GLASSPANE_VAR_DIR", "DOCKER_HOST", "PYTEST_CURRENT_TEST", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


def clean_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True, timeout=120)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    # the clone's files are newer than the venv's install stamp: age them so make does not reinstall
    stamp = (ROOT / ".venv" / ".installed").stat().st_mtime
    for name in ("pyproject.toml", "scripts/bootstrap.sh"):
        os.utime(dest / name, (stamp - 60, stamp - 60))
    return dest


def processes_of(session: int, clone: Path) -> list[str]:
    """Live processes in the run's session, or whose command line or working directory is in the clone."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            sid = int(stat.rsplit(")", 1)[1].split()[3])
            state = stat.rsplit(")", 1)[1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                cwd = ""
        except (OSError, IndexError, ValueError):
            continue
        if state == "Z":
            continue
        if sid == session or str(clone) in cmdline or cwd.startswith(str(clone)):
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def test_make_run_serves_and_ctrl_c_stops_everything(tmp_path):
    if shutil.which("make") is None:
        pytest.fail("make is not installed (Debian's make package)")
    clone = clean_clone(tmp_path / "clone")
    port = free_port()
    # a fresh machine's environment: none of the suite's switches (CI's LXD socket, GLASSPANE_CI, ...)
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED and not k.startswith("GLASSPANE_")}
    # every simulator on a port of this checkout's range (their defaults may be taken on a shared machine)
    sims = {name: str(free_port()) for name in ("SIM_PORT", "K8S_SIM_PORT", "PVE_PORT")}
    env.update(PORT=str(port), PYTHONPATH=str(clone), WEB_WORKERS="2", **sims)
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        make = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    session = make.pid
    try:
        url = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and url is None:
            assert make.poll() is None, f"make run exited with {make.returncode}:\n{log.read_text()[-3000:]}"
            found = re.search(r"Glasspane is running at (http://\S+)", log.read_text())
            url = found.group(1) if found else None
            time.sleep(0.5)
        assert url == f"http://127.0.0.1:{port}/", log.read_text()[-3000:]
        login = re.search(r"admin login (\S+) / (\S+)", log.read_text())
        assert login, "make run did not print the admin login"

        web = requests.Session()
        page = web.get(f"{url}login/", timeout=30)
        assert page.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        signed_in = web.post(f"{url}login/", timeout=30, headers={"Referer": f"{url}login/"},
                             data={"username": login.group(1), "password": login.group(2),
                                   "csrfmiddlewaretoken": token})
        assert signed_in.status_code == 200 and "/login/" not in signed_in.url, signed_in.url
        overview = web.get(f"{url}projects/webshop/", timeout=60)
        assert overview.status_code == 200 and "webshop" in overview.text.lower()
        # every stylesheet and script the page links is served (WhiteNoise, from collectstatic)
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', overview.text)
        assert assets, "the overview links no static files"
        for asset in assets:
            assert web.get(urljoin(url, asset), timeout=30).status_code == 200, asset
        csv_link = re.search(r'href="([^"]*csv[^"]*)"', overview.text)
        assert csv_link, "the overview has no CSV link"
        csv = web.get(urljoin(overview.url, csv_link.group(1).replace("&amp;", "&")), timeout=60)
        assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
        assert len(csv.text.splitlines()) > 1
        assert "Starting gunicorn" in (clone / "var" / "log" / "web.log").read_text()
        # a refresh asked through the API runs on the worker, through the refresh queue of the embedded broker
        asked = web.post(f"{url}api/v1/refresh-runs/", json={"provider": "kvm-lab"}, timeout=60,
                         headers={"X-CSRFToken": web.cookies["csrftoken"], "Referer": url})
        assert asked.status_code == 202, asked.text[:500]
        deadline = time.monotonic() + 90
        while (run := web.get(asked.headers["Location"], timeout=30).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"the refresh did not finish: {run}"
            time.sleep(0.5)
        assert run["status"] in ("ok", "partial"), run
        assert "Task metering.refresh_account[" in (clone / "var" / "log" / "worker.log").read_text()
    finally:
        if make.poll() is None:
            os.killpg(session, signal.SIGINT)  # Ctrl-C
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(session, signal.SIGKILL)
            raise
    deadline = time.monotonic() + 20
    while processes_of(session, clone) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = processes_of(session, clone)
    if left:
        for line in left:
            os.kill(int(line.split()[0]), signal.SIGKILL)
    assert left == [], f"still running after Ctrl-C: {left}"
    web_log = (clone / "var" / "log" / "web.log").read_text()
    assert "Shutting down: Master" in web_log and "Traceback" not in web_log, web_log[-3000:]

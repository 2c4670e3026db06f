"""A private ``redis-server`` a fault test can stop and start (on a port of its own, no persistence)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest


class PrivateRedis:
    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # by PID: only the server this object started
            self.process.wait(timeout=10)
            self.process = None


def private_redis(port: int):
    if shutil.which("redis-server") is None:
        import os

        if os.environ.get("GLASSPANE_CI") == "1":
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(port)
    server.start()
    return server

"""`flowlane dev` started as a user starts it, on a free port, driven over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

FLOWLANE = str(Path(sys.executable).parent / "flowlane")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def user_env() -> dict[str, str]:
    """The environment of a user's shell: nothing of the test suite's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLANE_", "AWS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class DevServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> DevServer:
        self.process = subprocess.Popen(
            [FLOWLANE, "dev", "--port", str(self.port)],
            cwd=self.workdir,
            env=user_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"flowlane dev exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError("flowlane dev did not answer in time")

    def token(self, user: str) -> str:
        result = subprocess.run(
            [FLOWLANE, "token", "--user", user],
            cwd=self.workdir,
            env=user_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def stop(self) -> int:
        """Ctrl-C, as a user stops it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def kill(self) -> None:
        """A crash: no chance to clean up."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def dev_server(workdir: Path) -> Iterator[DevServer]:
    server = DevServer(workdir).start()
    yield server
    server.kill()

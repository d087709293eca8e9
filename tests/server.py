"""Start the real web process, exactly as the Procfile says, for end-to-end tests."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dev import procfile_command, stop

ROOT = Path(__file__).parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_environment(extra: dict) -> dict:
    bin_dir = str(Path(sys.executable).parent)
    path = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return {"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **extra}


def run_refused(environment: dict) -> subprocess.CompletedProcess:
    """Run the Procfile's command where it should refuse to start; return the result."""
    return subprocess.run(
        procfile_command(),
        cwd=ROOT,
        env=process_environment(environment),
        capture_output=True,
        text=True,
        timeout=60,
    )


class WebProcess:
    """A gunicorn master on 127.0.0.1 and its workers, stopped on close()."""

    def __init__(self, environment: dict, log_path: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = process_environment({**environment, "PORT": str(self.port)})
        env.setdefault("WEB_CONCURRENCY", "2")
        self._log = open(log_path, "ab")  # noqa: SIM115 - open as long as the process
        self.process = subprocess.Popen(
            procfile_command(), cwd=ROOT, env=env, stdout=self._log, stderr=self._log
        )
        self.wait_healthy()

    def wait_healthy(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"web process exited: {self.log_path.read_text()}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("web process never became healthy")

    def wait_derived(self, seconds: float = 60) -> dict:
        """Wait until every stored message is derived; return /healthz's details."""
        deadline = time.monotonic() + seconds
        while True:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=10) as answer:
                details = json.load(answer)
            if details["messages_awaiting_derivation"] == 0:
                return details
            assert time.monotonic() < deadline, f"derivation stalled: {details}"
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The master's current child processes: its workers."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except FileNotFoundError:
            return []
        return [int(child) for child in children.split()]

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, as a crashing host would."""
        for pid in [self.process.pid, *self.worker_pids()]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def close(self) -> None:
        stop(self.process)
        self._log.close()


def http_request(url, data=None, headers=None, method=None):
    """One HTTP request; returns (status, body, headers) for every status."""
    call = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(call, timeout=20) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def wait_for_text(path, text: str, seconds: float = 30) -> None:
    """Wait until a log holds the text: gunicorn writes access lines after replying."""
    deadline = time.monotonic() + seconds
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.05)

"""Gunicorn processes for the benchmarks, on 127.0.0.1 and a free port.

Both the service and the bare Flask app run with the repository's
gunicorn.conf.py, so workers, worker class and threads are the same; only the
bind address is narrowed to loopback.
"""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dev import stop

ROOT = Path(__file__).resolve().parent.parent
SERVICE_APP = "wsgi:create_application()"
BARE_APP = "bench.bare_app:app"


def random_credentials() -> dict:
    """Fresh sender and viewer credentials for one benchmark run."""
    return {
        "WEBHOOK_TOKEN": secrets.token_urlsafe(24),
        "VIEWER_USERNAME": "viewer",
        "VIEWER_PASSWORD": secrets.token_urlsafe(16),
    }


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    """One gunicorn master and its workers; `close()` stops them."""

    def __init__(self, app: str, environment: dict, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bin_dir = Path(sys.executable).parent
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", "/tmp"),
            **environment,
            "PORT": str(self.port),
        }
        command = [
            str(bin_dir / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            app,
        ]
        self._log = log_path.open("ab")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=self._log
        )
        self.cold_start_seconds = self._wait_for_first_200()

    def _wait_for_first_200(self, seconds: float = 60) -> float:
        deadline = self.started + seconds
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self._log.name}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=2).close()
                return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("gunicorn never answered /healthz")

    def derivation_drained(self, seconds: float = 600) -> dict:
        """Wait until no message awaits derivation; how long it took, and its CPU."""
        cpu, started = self.cpu_seconds(), time.perf_counter()
        waiting = self.health()["messages_awaiting_derivation"]
        while self.health()["messages_awaiting_derivation"]:
            if time.perf_counter() - started > seconds:
                raise RuntimeError("derivation did not drain")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        return {
            "derived": waiting,
            "drain_s": elapsed,
            "derived_per_s": waiting / elapsed if waiting else 0.0,
            "derive_cpu_ms": (self.cpu_seconds() - cpu) * 1000 / max(1, waiting),
        }

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=30) as answer:
            return json.load(answer)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def cpu_seconds(self) -> float:
        """CPU time the workers have used so far, user and system."""
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def worker_rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.worker_pids()]

    def close(self) -> None:
        stop(self.process)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def cpu_seconds(pid: int) -> float:
    """A process's user plus system CPU time, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The most memory the process has held since it started (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0

"""Crash safety: SIGKILL workers and the master at random moments under load.

Senders post simulated Control Hub traffic and, like Control Hub, send a body
again until it gets a 200. Afterwards every acknowledged message is in the
archive exactly once with all its rows, and the file passes integrity_check.

CI runs a short version. The full one, as the README states:
    CRASH_MESSAGES=10000 CRASH_KILLS=20 \
        .venv/bin/python -m pytest tests/test_crash.py -s
"""

import contextlib
import json
import os
import random
import signal
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from conftest import CREDENTIALS
from server import WebProcess

import simulator

MESSAGES = int(os.environ.get("CRASH_MESSAGES", "1500"))
KILLS = int(os.environ.get("CRASH_KILLS", "6"))
SENDERS = 4
SECONDS_PER_KILL = 60
ROWS_PER_MESSAGE = """
SELECT body,
       (SELECT count(*) FROM status_changes WHERE message_id = messages.id)
       + (SELECT count(*) FROM events WHERE message_id = messages.id)
FROM messages
"""


class Traffic(threading.Thread):
    """One sender's stream of simulated messages, each body sent until it is kept."""

    def __init__(self, url: str, number: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.sender = simulator.Sender(url, CREDENTIALS["WEBHOOK_TOKEN"], timeout=5)
        # Rooms of their own: a device shared across stretches of time years
        # apart would be one people count held for years, a costly outlier.
        self.building = simulator.Building(rooms=8, seed=number, first_room=8 * number)
        # Each sender has its own stretch of time, so no two send the same message.
        self.at = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=400 * number)
        self.stop = stop
        self.attempts = 0

    def run(self):
        while not self.stop.is_set():
            batch = self.building.messages(self.at)
            self.at += timedelta(minutes=2)
            for start in range(0, len(batch), 3):
                self._deliver(batch[start : start + 3])

    def _deliver(self, messages):
        while not self.stop.is_set():
            self.attempts += 1
            if self.sender.post(messages) == 200:
                return
            time.sleep(0.02)


class Server:
    """The gunicorn web process, killed and restarted on the same port."""

    def __init__(self, folder: Path):
        self.environment = {
            **CREDENTIALS,
            "DATABASE_PATH": str(folder / "archive.db"),
            "WEB_CONCURRENCY": "2",
        }
        self.log = folder / "web.log"
        self.web = WebProcess(self.environment, self.log)
        self.kills = {"worker": 0, "master": 0, "master and workers": 0}

    def kill(self, kind: str, rng: random.Random) -> None:
        self.kills[kind] += 1
        if kind == "worker":
            workers = self.web.worker_pids()
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
            return
        if kind == "master":
            workers = self.web.worker_pids()
            os.kill(self.web.process.pid, signal.SIGKILL)
            self.web.process.wait()
            _wait_gone(workers)  # orphaned workers notice and stop by themselves
        else:
            self.web.kill()
        self.web = WebProcess(self.environment, self.log, port=self.web.port)


def _wait_gone(pids, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _running(pid)]
        if not alive:
            return
        time.sleep(0.1)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def acknowledged(traffic) -> list[dict]:
    return [message for t in traffic for message in t.sender.acknowledged]


def wait_for_acknowledged(traffic, count: int, server: Server) -> None:
    deadline = time.monotonic() + SECONDS_PER_KILL
    while len(acknowledged(traffic)) < count:
        if server.web.process.poll() is not None:
            pytest.fail("the web process stopped:\n" + server.log.read_text()[-3000:])
        assert time.monotonic() < deadline, f"stuck below {count} acknowledged"
        time.sleep(0.01)


def expected_rows(body: str) -> int:
    message = json.loads(body)
    changes = message.get("changes") or {}
    if message["type"] == "events":
        return len(message.get("events") or [])
    return len(changes.get("updated") or {}) + len(changes.get("removed") or [])


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path)
    yield server
    server.web.close()  # also when the test failed before closing it


def test_no_acknowledged_message_is_lost_or_doubled_across_kills(tmp_path, server):
    rng = random.Random(20261204)
    stop = threading.Event()
    traffic = [Traffic(f"{server.web.url}/webhook", n, stop) for n in range(SENDERS)]
    for thread in traffic:
        thread.start()
    started = time.monotonic()

    for kill in range(KILLS):
        wait_for_acknowledged(traffic, MESSAGES * (kill + 1) // (KILLS + 1), server)
        time.sleep(rng.uniform(0, 0.05))  # so kills land at any point of a request
        server.kill(rng.choice(list(server.kills)), rng)
    wait_for_acknowledged(traffic, MESSAGES, server)
    stop.set()
    for thread in traffic:
        thread.join(timeout=30)
    # Killed mid-derivation too: what was waiting is derived once, after restarts.
    server.web.wait_derived()
    server.web.close()
    elapsed = time.monotonic() - started

    with contextlib.closing(sqlite3.connect(tmp_path / "archive.db")) as archive:
        integrity = archive.execute("PRAGMA integrity_check").fetchall()
        bodies = archive.execute("SELECT body, body_sha256 FROM messages").fetchall()
        rows = archive.execute(ROWS_PER_MESSAGE).fetchall()
    sent = [orjson.dumps(message).decode() for message in acknowledged(traffic)]
    stored = {body for body, _ in bodies}
    print(
        f"\ncrash test: {len(sent)} acknowledged messages, "
        f"{sum(t.attempts for t in traffic)} requests, kills {server.kills}, "
        f"{len(bodies)} messages stored, {elapsed:.1f} s"
    )

    assert integrity == [("ok",)]
    assert len(sent) >= MESSAGES
    assert not [body for body in sent if body not in stored]
    assert len({digest for _, digest in bodies}) == len(bodies)
    assert [body for body, count in rows if count != expected_rows(body)] == []
    assert sum(server.kills.values()) == KILLS

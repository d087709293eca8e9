"""Storage faults under the real gunicorn process: disk full, read-only file,
directory gone. The webhook answers 503 with Retry-After, /healthz turns
unhealthy, the workers keep running, and both recover by themselves once the
fault clears. Every 200 is in the archive afterwards.

The archive lives on a small tmpfs mounted for the test, so this needs root,
as CI has; `chattr +i` makes the file read-only even for root.
"""

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import CREDENTIALS, SENDER_TOKEN
from server import WebProcess, http_request

VOLUME_SIZE = "4m"


@pytest.fixture
def volume():
    if os.geteuid() != 0:
        pytest.fail("the storage fault tests mount a tmpfs and need root")
    # Outside pytest's own temporary folders, which a concurrent pytest session
    # may clean up, recursively, while this one still runs.
    mount_point = Path(tempfile.mkdtemp(prefix="room-archive-volume-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={VOLUME_SIZE}", "tmpfs", mount_point],
        check=True,
    )
    (mount_point / "data").mkdir()
    yield mount_point
    subprocess.run(["chattr", "-R", "-i", mount_point], check=False)
    unmount(mount_point)
    mount_point.rmdir()


def unmount(mount_point, seconds: float = 15) -> None:
    """Unmount, waiting for the stopped workers' last open files to close."""
    deadline = time.monotonic() + seconds
    while subprocess.run(["umount", mount_point], capture_output=True).returncode:
        if time.monotonic() > deadline:
            pytest.fail(f"{mount_point} is still busy")
        time.sleep(0.2)


@pytest.fixture
def web(volume, tmp_path):
    environment = {**CREDENTIALS, "DATABASE_PATH": str(volume / "data" / "archive.db")}
    process = WebProcess(environment, tmp_path / "web.log")
    process.database = volume / "data" / "archive.db"
    yield process
    process.close()


class Sender:
    """Posts numbered messages and remembers which ones were acknowledged."""

    def __init__(self, web):
        self.web = web
        self.sent = 0
        self.acknowledged = []

    def post(self):
        self.sent += 1
        message = {
            "type": "status",
            "deviceId": f"ZGV2aWNl{self.sent:06d}",
            "changes": {"updated": {"RoomAnalytics.PeopleCount.Current": 3}},
            "padding": "p" * 2000,  # fills the disk in fewer requests
        }
        status, body, headers = http_request(
            f"{self.web.url}/webhook", json.dumps(message).encode(), SENDER_TOKEN
        )
        assert status in (200, 503), body
        if status == 200:
            self.acknowledged.append(message["deviceId"])
        else:
            assert headers["Retry-After"]
        return status

    def post_until(self, wanted: int, attempts: int = 500) -> None:
        for _ in range(attempts):
            if self.post() == wanted:
                return
        pytest.fail(f"no {wanted} in {attempts} posts")


def health(web) -> int:
    return http_request(f"{web.url}/healthz")[0]


def assert_recovers(web, sender):
    deadline = time.monotonic() + 15
    while {health(web) for _ in range(4)} != {200}:
        assert time.monotonic() < deadline, "never healthy again"
        time.sleep(0.2)
    for _ in range(10):
        assert sender.post() == 200


def archived_devices(web) -> set:
    # Closed at once: an open file would keep the volume from unmounting.
    with contextlib.closing(sqlite3.connect(web.database)) as connection:
        return {row[0] for row in connection.execute("SELECT device_id FROM messages")}


def fill(directory) -> None:
    with open(directory / "filler", "wb") as filler:
        try:
            while True:
                filler.write(bytes(65536))
                filler.flush()
        except OSError:
            pass


@pytest.fixture
def sender(web):
    """A sender whose first message is acknowledged; web.workers as they were then."""
    sender = Sender(web)
    sender.post_until(200)
    web.workers = sorted(web.worker_pids())
    return sender


def assert_refused_while_broken(web, sender):
    acknowledged = len(sender.acknowledged)
    for _ in range(10):
        assert sender.post() == 503
    assert len(sender.acknowledged) == acknowledged
    # Each worker answers on its own; ask often enough to reach both.
    assert {health(web) for _ in range(10)} == {503}
    assert web.process.poll() is None
    assert sorted(web.worker_pids()) == web.workers


def test_disk_full_answers_503_then_recovers(web, sender, volume):
    fill(volume)
    # SQLite first fills the space its log file already holds: that is on disk.
    sender.post_until(503)
    assert_refused_while_broken(web, sender)

    (volume / "filler").unlink()
    assert_recovers(web, sender)
    assert set(sender.acknowledged) <= archived_devices(web)


def test_read_only_database_answers_503_then_recovers(web, sender):
    subprocess.run(["chattr", "+i", web.database], check=True)
    assert_refused_while_broken(web, sender)

    subprocess.run(["chattr", "-i", web.database], check=True)
    assert_recovers(web, sender)
    assert set(sender.acknowledged) <= archived_devices(web)


def test_missing_directory_answers_503_then_recovers(web, sender):
    # The workers still hold the deleted file open: SQLite would happily go on
    # writing into it, and those writes would be lost with it.
    shutil.rmtree(web.database.parent)
    gone_at = len(sender.acknowledged)
    assert_refused_while_broken(web, sender)

    web.database.parent.mkdir()
    assert_recovers(web, sender)
    assert set(sender.acknowledged[gone_at:]) == archived_devices(web)


def test_a_worker_restarted_while_the_file_is_read_only_keeps_the_service_up(
    web, sender
):
    sender.post_until(200)
    subprocess.run(["chattr", "+i", web.database], check=True)
    try:
        worker = web.worker_pids()[0]
        os.kill(worker, signal.SIGKILL)
        # Gunicorn boots a replacement at once; it must not fail to boot.
        deadline = time.monotonic() + 30
        while worker in web.worker_pids() or len(web.worker_pids()) < 2:
            assert time.monotonic() < deadline, "no replacement worker"
            time.sleep(0.1)
        time.sleep(2)  # the replacement has opened its apps by now
        assert web.process.poll() is None
        assert health(web) == 503
    finally:
        subprocess.run(["chattr", "-i", web.database], check=True)
    assert_recovers(web, sender)

"""Many senders at once against several gunicorn workers sharing one SQLite file.

Writers from different workers queue on SQLite's write lock. No client may
ever see "database is locked": each write waits and succeeds, or answers 503
with Retry-After, and every 200 is in the archive. Viewers read meanwhile.
"""

import contextlib
import http.client
import json
import sqlite3
import threading
import urllib.parse

from conftest import CREDENTIALS, SENDER_TOKEN, VIEWER_BASIC
from server import WebProcess

SENDERS = 64
BODIES_PER_SENDER = 20
READERS = 4
COUNT_SQL = "/archive.json?" + urllib.parse.urlencode(
    {"sql": "select count(*) from status_changes", "_shape": "array"}
)


def send(port: int, number: int, outcomes: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body_number in range(BODIES_PER_SENDER):
        device = f"ZGV2{number:03d}x{body_number:03d}"
        message = {
            "type": "status",
            "deviceId": device,
            "changes": {"updated": {"RoomAnalytics.PeopleCount.Current": number}},
        }
        connection.request(
            "POST", "/webhook", body=json.dumps(message), headers=SENDER_TOKEN
        )
        response = connection.getresponse()
        outcomes.append(
            (
                device,
                response.status,
                response.getheader("Retry-After"),
                response.read(),
            )
        )
    connection.close()


def read(port: int, stop: threading.Event, statuses: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        connection.request("GET", COUNT_SQL, headers=VIEWER_BASIC)
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    connection.close()


def test_64_senders_never_see_database_is_locked(tmp_path):
    environment = {
        **CREDENTIALS,
        "DATABASE_PATH": str(tmp_path / "archive.db"),
        "WEB_CONCURRENCY": "4",
    }
    web = WebProcess(environment, tmp_path / "web.log")
    outcomes, reads, stop = [], [], threading.Event()
    senders = [
        threading.Thread(target=send, args=(web.port, n, outcomes))
        for n in range(SENDERS)
    ]
    readers = [
        threading.Thread(target=read, args=(web.port, stop, reads))
        for _ in range(READERS)
    ]
    try:
        for thread in senders + readers:
            thread.start()
        for thread in senders:
            thread.join(timeout=240)
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
        web.close()

    with contextlib.closing(sqlite3.connect(tmp_path / "archive.db")) as archive:
        stored = {row[0] for row in archive.execute("SELECT device_id FROM messages")}
    acknowledged = {device for device, status, _, _ in outcomes if status == 200}
    refused = [(status, retry) for _, status, retry, _ in outcomes if status != 200]
    print(f"\n{len(acknowledged)} acknowledged, {len(refused)} refused (503)")

    assert len(outcomes) == SENDERS * BODIES_PER_SENDER
    assert not [body for *_, body in outcomes if b"locked" in body]
    assert all(status == 503 and retry for status, retry in refused)
    assert acknowledged <= stored
    assert set(reads) == {200}

"""Full CSV downloads from the real gunicorn process: clients that hang up, and
webhook posts arriving while a download runs.
"""

import base64
import contextlib
import csv
import hashlib
import io
import json
import socket
import sqlite3
import struct
import time
from pathlib import Path

import pytest
from conftest import CREDENTIALS
from server import WebProcess, http_request
from traffic import Traffic

import archive

VIEWER = base64.b64encode(
    f"{CREDENTIALS['VIEWER_USERNAME']}:{CREDENTIALS['VIEWER_PASSWORD']}".encode()
).decode()
AUTHORIZATION = {"Authorization": f"Basic {VIEWER}"}
READINGS = 200_000  # 20 MB of CSV, more than the sockets' buffers hold


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """One worker, so every request below meets the same threads and tasks."""
    folder = tmp_path_factory.mktemp("export")
    database = folder / "archive.db"
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE readings (room TEXT, reading REAL)")
        connection.executemany(
            "INSERT INTO readings VALUES (?, ?)",
            ((f"room {n % 300} " + "x" * 80, n / 7) for n in range(READINGS)),
        )
    environment = {**CREDENTIALS, "DATABASE_PATH": str(database)}
    process = WebProcess({**environment, "WEB_CONCURRENCY": "1"}, folder / "web.log")
    process.database = database
    yield process
    process.close()


def threads(web) -> dict:
    status, body, _ = http_request(f"{web.url}/-/threads.json", headers=AUTHORIZATION)
    assert status == 200
    return json.loads(body)


def reading_threads(web) -> int:
    return sum(thread["name"] == "csv-export" for thread in threads(web)["threads"])


def start_download(web, path: str) -> socket.socket:
    """Ask for a download, take its first bytes and stop reading."""
    client = socket.create_connection(("127.0.0.1", web.port), timeout=20)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {VIEWER}\r\n\r\n"
    client.sendall(request.encode())
    assert client.recv(4096).startswith(b"HTTP/1.1 200")
    return client


def hang_up(client: socket.socket) -> None:
    """Close at once with a reset, as a client that is killed does."""
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def test_a_client_that_hangs_up_stops_the_reading_thread(web):
    tasks_idle = threads(web)["num_tasks"]
    client = start_download(web, "/archive/readings.csv?_stream=on")
    wait_until(lambda: reading_threads(web) == 1)
    assert threads(web)["num_tasks"] > tasks_idle

    hang_up(client)

    wait_until(lambda: reading_threads(web) == 0)
    wait_until(lambda: threads(web)["num_tasks"] == tasks_idle)


def test_a_client_that_hangs_up_stops_datasettes_own_stream_too(web):
    tasks_idle = threads(web)["num_tasks"]
    client = start_download(web, "/archive/readings.csv?_stream=on&_sort=room")
    time.sleep(1)  # Datasette is now waiting for the client to take more
    assert threads(web)["num_tasks"] > tasks_idle

    hang_up(client)

    wait_until(lambda: threads(web)["num_tasks"] == tasks_idle)
    assert reading_threads(web) == 0


def test_a_whole_download_ends_its_reading_thread(web):
    status, body, _ = http_request(
        f"{web.url}/archive/readings.csv?_stream=on&_size=max", headers=AUTHORIZATION
    )

    assert status == 200
    assert body.count(b"\r\n") == READINGS + 1
    wait_until(lambda: reading_threads(web) == 0)


def stored_messages(database: Path, count: int) -> None:
    """Messages written straight into the archive, as if received earlier."""
    rows = []
    for n in range(count):
        body = json.dumps({"type": "healthCheck", "n": n, "pad": "x" * 200})
        digest = hashlib.sha256(body.encode()).hexdigest()
        row = ("2026-11-30T09:00:00.000Z", "healthCheck", None, None, None, None,
               None, 0, body, digest)  # fmt: skip
        rows.append(row)
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.executemany(archive.INSERT_MESSAGE, rows)


def slow_download(web, path: str) -> list[list[str]]:
    """The whole CSV, read in small pieces so that it spans many page reads."""
    client = socket.create_connection(("127.0.0.1", web.port), timeout=30)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Authorization: Basic {VIEWER}\r\n\r\n"
    )
    client.sendall(request.encode())
    received = bytearray()
    while piece := client.recv(65536):
        received += piece
        time.sleep(0.002)
    client.close()
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head
    return list(csv.reader(io.StringIO(unchunked(body).decode())))


def unchunked(body: bytes) -> bytes:
    pieces, position = [], 0
    while True:
        end = body.index(b"\r\n", position)
        size = int(body[position:end], 16)
        if size == 0:
            return b"".join(pieces)
        pieces.append(body[end + 2 : end + 2 + size])
        position = end + 2 + size + 2


@pytest.mark.parametrize("order", ["", "&_sort=id"])
def test_rows_present_at_the_start_arrive_once_while_the_webhook_writes(web, order):
    stored_messages(web.database, 20_000)
    with contextlib.closing(sqlite3.connect(web.database)) as connection:
        before = dict(connection.execute("SELECT id, body_sha256 FROM messages"))
    token = CREDENTIALS["WEBHOOK_TOKEN"]

    with Traffic(f"{web.url}/webhook", token, senders=2) as traffic:
        traffic.wait_for(10)
        acknowledged = len(traffic.acknowledged)
        rows = slow_download(web, f"/archive/messages.csv?_stream=on{order}")
        assert len(traffic.acknowledged) > acknowledged  # posts kept coming

    header, rows = rows[0], rows[1:]
    ids = [int(row[0]) for row in rows]
    assert ids == sorted(ids, reverse=not order) and len(set(ids)) == len(ids)
    assert set(before) <= set(ids)
    digest = header.index("body_sha256")
    assert all(
        before[int(row[0])] == row[digest] for row in rows if int(row[0]) in before
    )

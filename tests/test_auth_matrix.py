"""Who gets in: every malformed, wrong, truncated, over-long and unicode credential,
for the webhook and the viewer, sent byte for byte to the real gunicorn process.

None gets in or stores anything; every refusal is a 4xx, is logged without the
secret, and is counted.
"""

import base64
import contextlib
import re
import sqlite3

import pytest
from conftest import CREDENTIALS, example
from rawhttp import exchange
from server import WebProcess

USER, PASSWORD = CREDENTIALS["WEBHOOK_USERNAME"], CREDENTIALS["WEBHOOK_PASSWORD"]
TOKEN = CREDENTIALS["WEBHOOK_TOKEN"]
VIEWER, VIEWER_PASSWORD = CREDENTIALS["VIEWER_USERNAME"], CREDENTIALS["VIEWER_PASSWORD"]


def basic(username: str, password: str, encoding: str = "utf-8") -> bytes:
    pair = f"{username}:{password}".encode(encoding)
    return b"Basic " + base64.b64encode(pair)


def matrix(username: str, password: str) -> dict:
    """Wrong forms of one username and password (and the webhook's token)."""
    right = basic(username, password)
    return {
        "missing": None,
        "empty": b"",
        "scheme alone": b"Basic",
        "scheme and space": b"Basic ",
        "not base64": b"Basic %%%",
        "base64 with padding in the middle": b"Basic YQ==YQ==",
        "no colon": b"Basic " + base64.b64encode(f"{username}{password}".encode()),
        "username only": basic(username, ""),
        "password only": basic("", password),
        "swapped": basic(password, username),
        "wrong password": basic(username, "not-" + password),
        "truncated password": basic(username, password[:-1]),
        "password one longer": basic(username, password + "x"),
        "username in other case": basic(username.upper(), password),
        "Digest scheme": right.replace(b"Basic", b"Digest"),
        "Bearer scheme": right.replace(b"Basic", b"Bearer"),
        "token as basic": b"Basic " + TOKEN.encode(),
        "truncated token": TOKEN[:-1].encode(),
        "truncated bearer": b"Bearer " + TOKEN[:-1].encode(),
        "token one longer": TOKEN.encode() + b"x",
        "token repeated": TOKEN.encode() * 2,
        "bearer without space": b"Bearer" + TOKEN.encode(),
        "huge token": b"x" * 7000,
        "header over the limit": b"x" * 9000,
        "unicode password": basic(username, password + "\u00e9"),
        "latin-1 password": basic(username, password + "\u00e9", "latin-1"),
        "invisible character in username": basic(username + "\u200b", password),
        "utf-8 bytes in header": TOKEN.encode() + "\u00e9".encode(),
        "NUL in header": right + b"\x00",
        "emoji": "\U0001f511".encode(),
    }


WEBHOOK_MATRIX = matrix(USER, PASSWORD)
VIEWER_MATRIX = matrix(VIEWER, VIEWER_PASSWORD) | {
    "webhook basic": basic(USER, PASSWORD),
    "webhook token": TOKEN.encode(),
}
WEBHOOK_MATRIX |= {"viewer basic": basic(VIEWER, VIEWER_PASSWORD)}


def request(method: str, path: str, authorization: bytes | None, body=b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: x", b"Connection: close"]
    if authorization is not None:
        lines.append(b"Authorization: " + authorization)
    lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    process = WebProcess(environment, folder / "web.log")
    process.database = folder / "archive.db"
    yield process
    process.close()


def stored(web) -> tuple:
    with contextlib.closing(sqlite3.connect(web.database)) as archive:
        return tuple(
            archive.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("messages", "rejected")
        )


def refusals(web, who: str) -> int:
    return len(re.findall(f"unauthorised {who} from", web.log_path.read_text()))


def refused(reply) -> bool:
    # 401 from the app; 400 or 431 when gunicorn refuses the header itself.
    return reply.status in (400, 401, 431)


@pytest.mark.parametrize("name", WEBHOOK_MATRIX)
def test_webhook_refuses_every_wrong_credential(web, name):
    before, logged = stored(web), refusals(web, "webhook")
    reply = exchange(
        web.port,
        request("POST", "/webhook", WEBHOOK_MATRIX[name], example("health-check.json")),
    )

    assert refused(reply), reply.status
    assert stored(web) == before
    if reply.status == 401:
        assert reply.headers["www-authenticate"].startswith(("Basic", "Bearer"))
        assert refusals(web, "webhook") == logged + 1


@pytest.mark.parametrize("name", VIEWER_MATRIX)
@pytest.mark.parametrize("path", ["/archive.json", "/archive/messages.csv", "/"])
def test_viewer_refuses_every_wrong_credential(web, name, path):
    authorization = VIEWER_MATRIX[name]
    logged = refusals(web, "viewer")
    reply = exchange(web.port, request("GET", path, authorization))

    assert refused(reply), reply.status
    assert b"messages" not in reply.body
    if reply.status == 401 and authorization is not None:
        assert refusals(web, "viewer") == logged + 1


def test_right_credentials_get_in_and_the_log_holds_no_secret(web):
    for minute, authorization in enumerate((basic(USER, PASSWORD), TOKEN.encode())):
        body = example("health-check.json").replace(b"09:00", b"09:0%d" % minute)
        reply = exchange(web.port, request("POST", "/webhook", authorization, body))
        assert reply.status == 200
    viewer = basic(VIEWER, VIEWER_PASSWORD)
    assert exchange(web.port, request("GET", "/archive.json", viewer)).status == 200

    log = web.log_path.read_text()
    secrets = [PASSWORD, TOKEN, VIEWER_PASSWORD, PASSWORD[:-1], TOKEN[:-1]]
    encoded = [basic(USER, PASSWORD).decode(), viewer.decode()]
    assert not [secret for secret in secrets + encoded if secret in log]
    assert "failures in this worker" in log

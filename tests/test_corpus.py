"""Malformed and hostile requests against the real gunicorn process, byte for byte.

Each request gets a clear 4xx. When it carried the sender's credentials and a
body, that body is kept in `rejected` with the reason; nothing reaches
`messages`, no worker crashes, and nothing answers 5xx.
"""

import sqlite3
from typing import NamedTuple

import pytest
from conftest import CREDENTIALS, SENDER_BASIC
from rawhttp import chunked, exchange, post
from server import WebProcess

AUTH = {"Authorization": SENDER_BASIC["Authorization"]}
JSON = {**AUTH, "Content-Type": "application/json"}
MAX_BODY = 65536
STATUS = b'{"type": "status", "deviceId": "ZGV2aWNl", '


class Case(NamedTuple):
    parts: tuple  # bytes sent in order
    status: int
    reason: str | None = None  # the `rejected` row's reason; None: no row
    pause: float = 0.0


def body(raw: bytes, reason: str, headers=JSON) -> Case:
    return Case((post("/webhook", raw, headers),), 400, reason)


def timestamp(value: str) -> Case:
    return body(b'{"type": "status", "timestamp": "%s"}' % value.encode(), "timestamp")


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


AUTH_LINE = f"Authorization: {AUTH['Authorization']}"


def raw_post(*lines: str) -> bytes:
    """An authenticated POST's head with these extra header lines, byte for byte."""
    return head("POST /webhook HTTP/1.1", "Host: x", AUTH_LINE, *lines)


def chunked_post(encoded: bytes) -> bytes:
    headers = {**JSON, "Transfer-Encoding": "chunked"}
    return post("/webhook", encoded, headers, content_length=False)


NESTED_300 = b"[" * 300 + b"1" + b"]" * 300

CORPUS = {
    # Broken JSON
    "empty body": body(b"", "not JSON"),
    "plain text": body(b"hello", "not JSON"),
    "truncated object": body(b'{"type": "status"', "not JSON"),
    "trailing garbage": body(b'{"type": "status"} x', "not JSON"),
    "two documents": body(b'{"type": "a"}{"type": "b"}', "not JSON"),
    "single quotes": body(b"{'type': 'status'}", "not JSON"),
    "trailing comma": body(b'{"type": "status",}', "not JSON"),
    "comment": body(b'{"type": "status"} // remark', "not JSON"),
    # Not a message
    "number": body(b"42", "not a JSON object"),
    "string": body(b'"status"', "not a JSON object"),
    "null": body(b"null", "not a JSON object"),
    "empty list": body(b"[]", "no messages"),
    "empty object": body(b"{}", "no type"),
    "list of lists": body(b"[[]]", "not a JSON object"),
    "envelope of strings": body(b'{"messages": ["a"]}', "not a JSON object"),
    # Wrong types in every field
    "type a number": body(b'{"type": 7}', "no type"),
    "type empty": body(b'{"type": ""}', "no type"),
    "type a list": body(b'{"type": ["status"]}', "no type"),
    "orgId a number": body(b'{"type": "status", "orgId": 1}', "orgId"),
    "workspaceId an object": body(
        b'{"type": "status", "workspaceId": {}}', "workspace"
    ),
    "deviceId a list": body(b'{"type": "status", "deviceId": ["d"]}', "deviceId"),
    "appId true": body(b'{"type": "status", "appId": true}', "appId"),
    "isFullSync text": body(b'{"type": "status", "isFullSync": "yes"}', "isFullSync"),
    "isFullSync 1": body(b'{"type": "status", "isFullSync": 1}', "isFullSync"),
    "timestamp a number": body(b'{"type": "status", "timestamp": 1764494047}', "time"),
    "changes a list": body(STATUS + b'"changes": []}', "changes is not"),
    "updated a list": body(STATUS + b'"changes": {"updated": [1]}}', "updated"),
    "removed a string": body(STATUS + b'"changes": {"removed": "k"}}', "removed"),
    "removed numbers": body(STATUS + b'"changes": {"removed": [1]}}', "removed"),
    "events an object": body(b'{"type": "events", "events": {}}', "events is not"),
    "event without key": body(b'{"type": "events", "events": [{}]}', "event 0"),
    "event key a number": body(b'{"type": "events", "events": [{"key": 1}]}', "event"),
    "event time garbage": body(
        b'{"type": "events", "events": [{"key": "k", "timestamp": "x"}]}', "timestamp"
    ),
    # Numbers JSON does not have
    "NaN": body(STATUS + b'"changes": {"updated": {"k": NaN}}}', "not JSON"),
    "Infinity": body(STATUS + b'"changes": {"updated": {"k": Infinity}}}', "not JSON"),
    "minus Infinity": body(b'{"type": "status", "x": -Infinity}', "not JSON"),
    "overflowing number": body(b'{"type": "status", "x": 1e400}', "not JSON"),
    # Encodings
    "invalid UTF-8": body(b'{"type": "status", "orgId": "\xff"}', "not UTF-8"),
    "overlong UTF-8": body(b'{"type": "st\xc0\xafatus"}', "not UTF-8"),
    "UTF-16": body('{"type": "status"}'.encode("utf-16"), "not UTF-8"),
    "lone surrogate": body(b'{"type": "status", "x": "\\ud800"}', "not JSON"),
    "byte order mark": body(b'\xef\xbb\xbf{"type": "status"}', "not JSON"),
    # Duplicate keys and deep nesting
    "repeated type": body(b'{"type": "status", "type": "events"}', "same key twice"),
    "repeated key inside": body(
        STATUS + b'"changes": {"updated": {"k": 1, "k": 2}}}', "same key twice"
    ),
    "nested 100 deep": body(b"[" * 100 + b"]" * 100, "nested deeper"),
    "nested 300 in a value": body(
        STATUS + b'"changes": {"updated": {"k": ' + NESTED_300 + b"}}}", "nested"
    ),
    "nested 5000 deep": body(b"[" * 5000 + b"]" * 5000, "not JSON"),
    # Huge strings
    "huge type": body(b'{"type": "%s"}' % (b"s" * 50_000), "type is not a word"),
    "huge deviceId": body(
        b'{"type": "status", "deviceId": "%s"}' % (b"d" * 5000), "Id"
    ),
    "huge key": body(
        STATUS + b'"changes": {"updated": {"%s": 1}}}' % (b"k" * 1000), "key"
    ),
    "body over the limit": Case(
        (post("/webhook", b'"' + b"x" * MAX_BODY + b'"', JSON),), 413, "too large"
    ),
    "claimed length over the limit": Case(
        (raw_post("Content-Length: 1000000000000"),),
        413,
        "too large",
    ),
    # Absurd timestamps
    "year zero": timestamp("0000-01-01T00:00:00Z"),
    "month 13": timestamp("2026-13-01T00:00:00Z"),
    "February 30": timestamp("2026-02-30T00:00:00Z"),
    "hour 25": timestamp("2026-11-30T25:00:00Z"),
    "offset 99 hours": timestamp("2026-11-30T10:00:00+99:00"),
    "past the last year": timestamp("9999-12-31T23:59:59-23:59"),
    "no zone": timestamp("2026-11-30T10:00:00"),
    "huge timestamp": timestamp("2026-11-30T10:00:00." + "1" * 50_000 + "Z"),
    # Path traversal and control characters in names
    "deviceId traversal": body(
        b'{"type": "status", "deviceId": "../../etc/passwd"}', "deviceId"
    ),
    "workspaceId backslashes": body(
        b'{"type": "status", "workspaceId": "..\\\\..\\\\boot.ini"}', "workspaceId"
    ),
    "type traversal": body(b'{"type": "../status"}', "type is not a word"),
    "key with NUL": body(STATUS + b'"changes": {"updated": {"a\\u0000b": 1}}}', "key"),
    "key with newline": body(STATUS + b'"changes": {"removed": ["a\\nb"]}}', "key"),
    # Wrong methods and paths
    "GET": Case((head("GET /webhook HTTP/1.1", "Host: x", AUTH_LINE),), 405),
    "PUT": Case((post("/webhook", b"{}", AUTH).replace(b"POST", b"PUT", 1),), 405),
    "DELETE": Case((head("DELETE /webhook HTTP/1.1", "Host: x", AUTH_LINE),), 405),
    "PATCH": Case((post("/webhook", b"{}", AUTH).replace(b"POST", b"PATCH", 1),), 405),
    # Datasette's routes answer these, without reading or storing anything.
    "dot-dot path": Case((post("/webhook/../healthz", b"{}", AUTH),), 405),
    "encoded dot-dot path": Case((post("/%2e%2e/webhook", b"{}", AUTH),), 405),
    # Chunked and slow bodies
    "chunked broken JSON": Case(
        (chunked_post(chunked(b'{"type":', b' "sta')),), 400, "not JSON"
    ),
    "chunked over the limit": Case(
        (chunked_post(chunked(*[b"x" * 16384] * 5)),), 413, "too large"
    ),
    "chunk size not hex": Case(
        (chunked_post(b"zz\r\nabc\r\n0\r\n\r\n"),), 400, "chunked encoding is malformed"
    ),
    "slow body": Case(
        (post("/webhook", b'{"type": "status"', JSON)[:-6], b'"stat', b'us"'),
        400,
        "not JSON",
        pause=0.7,
    ),
    "body shorter than its length": Case(
        (raw_post("Content-Length: 100"), b'{"type": '),
        400,
        "body ended after 9 of 100 bytes",
    ),
    # Header injection and request smuggling
    "length and chunked together": Case(
        (raw_post("Content-Length: 4", "Transfer-Encoding: chunked") + b"0\r\n\r\n",),
        400,
    ),
    "two different lengths": Case(
        (raw_post("Content-Length: 2", "Content-Length: 3") + b"{}",), 400
    ),
    "negative length": Case((raw_post("Content-Length: -1"),), 400),
    "space before colon": Case((raw_post("Content-Length : 2") + b"{}",), 400),
    "NUL in a header": Case(
        (raw_post("X-Remark: a\x00b", "Content-Length: 2") + b"{}",), 400
    ),
    "folded header": Case(
        (raw_post("X-Remark: a", " folded", "Content-Length: 2") + b"{}",), 400
    ),
    "bare LF lines": Case(
        (raw_post("Content-Length: 2").replace(b"\r\n", b"\n") + b"{}",), 400
    ),
    "markup in content type": body(
        b"<script>", "not JSON", {**AUTH, "Content-Type": "text/html; <script>"}
    ),
}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    environment = {
        **CREDENTIALS,
        "DATABASE_PATH": str(folder / "archive.db"),
        "MAX_BODY_BYTES": str(MAX_BODY),
    }
    process = WebProcess(environment, folder / "web.log")
    process.workers_at_start = sorted(process.worker_pids())
    process.database = folder / "archive.db"
    yield process
    process.close()


def rejected_rows(web) -> list[tuple]:
    with sqlite3.connect(web.database) as connection:
        return connection.execute("SELECT reason FROM rejected ORDER BY id").fetchall()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("name", CORPUS)
def test_hostile_request_gets_a_clear_4xx(web, name):
    case = CORPUS[name]
    before = rejected_rows(web)

    reply = exchange(web.port, *case.parts, pause=case.pause)

    assert reply.status == case.status, reply.body[:300]
    after = rejected_rows(web)
    if case.reason is None:
        assert after == before
    else:
        assert len(after) == len(before) + 1
        assert case.reason in after[-1][0]


def test_after_the_corpus_no_worker_died_and_no_message_was_stored(web):
    with sqlite3.connect(web.database) as connection:
        messages = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
    log = web.log_path.read_text()

    assert sorted(web.worker_pids()) == web.workers_at_start
    assert messages == 0
    assert "Traceback" not in log and "Exception on" not in log
    assert (
        exchange(web.port, post("/webhook", b'{"type": "status"}', JSON)).status == 200
    )

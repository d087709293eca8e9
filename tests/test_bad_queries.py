"""Viewers' malformed URLs get a clear 4xx, never a server error.

Through Datasette's own client for what Datasette and our plugins answer, and
through the real gunicorn process for what arrives before Datasette (paths
that are not UTF-8) and for a sweep of odd query strings on every page type.
"""

import socket

import pytest
from conftest import CREDENTIALS, SENDER_BASIC, VIEWER_BASIC, example
from server import WebProcess

MESSAGE = "Logged out"
CSV_DOWNLOADS = [
    "/archive/status_changes.csv?_stream=on",  # fast_csv.py
    "/archive/status_changes.csv?_stream=on&_sort=at",  # Datasette's stream
    "/archive/messages.csv",
    "/archive/rooms.csv?_stream=on",
    "/archive.csv?sql=select+1+as+one",
    "/archive/messages/1.csv",
]
# Each answered 500 by Datasette 0.65 until browse_guard.py refused it.
REFUSED = [
    "/archive/status_changes?_sort=id&_sort_desc=id",
    "/archive/status_changes.json?_sort=id&_sort_desc=id",
    "/archive/status_changes.csv?_sort=id&_sort_desc=id",
    "/archive/status_changes.csv?_stream=on&_sort=id&_sort_desc=id",
    "/archive/status_changes.json?_sort=nope",
    "/archive/rooms.csv?_stream=on&_sort_desc=nope",
    "/archive/rooms.json?_next=abc",
    "/archive/rooms.csv?_next=1,2",
    "/archive/rooms.json?_next=99999999999999999999999",
    "/archive/rooms.json?rowid__lt=99999999999999999999",
    "/archive/status_changes.json?id__gt=99999999999999999999",
    "/archive/status_changes.csv?_stream=on&id__gt=99999999999999999999",
    "/archive/status_changes.csv?_stream=on&_sort=at&id__gt=99999999999999999999",
    "/archive/events.json?_timelimit=abc",
    "/archive.json?sql=select+1&_timelimit=abc",
    "/archive/rooms.json?rowid__in=[",
    "/archive/rooms?rowid__in=[1",
    "/archive/rooms.json?_through=x",
    "/archive/rooms.json?_through={}",
    '/archive/rooms.json?_through={"table":"x","column":"y","value":1}',
]


@pytest.fixture
def filled(client, browser):
    for name in ("status-people-count.json", "events-widget.json"):
        client.post("/webhook", data=example(name), headers=SENDER_BASIC)
    return browser


def messages_cookie(browser) -> dict:
    """The cookie Datasette sets when it has a message for the next page."""
    signed = browser.datasette.sign([[MESSAGE, 1]], "messages")
    return {**VIEWER_BASIC, "Cookie": f"ds_messages={signed}"}


@pytest.mark.parametrize("path", CSV_DOWNLOADS)
def test_csv_downloads_with_a_message_waiting(filled, path):
    response = filled.get(path, headers=messages_cookie(filled))

    assert response.status_code == 200, response.text[:300]
    assert "set-cookie" not in response.headers
    assert "<html" not in response.text


def test_the_message_waits_for_the_next_page(filled):
    headers = messages_cookie(filled)
    filled.get("/archive/status_changes.csv?_stream=on", headers=headers)

    page = filled.get("/archive/status_changes", headers=headers)

    assert page.status_code == 200 and MESSAGE in page.text


@pytest.mark.parametrize("path", REFUSED)
def test_unusable_query_strings_are_a_400(filled, path):
    response = filled.get(path, headers=VIEWER_BASIC)

    assert response.status_code == 400, response.text[-300:]
    assert "Traceback" not in response.text


def test_a_server_error_without_a_query_string_stays_one(filled):
    """Only the query string's mistakes become a 400; the rest is still a 500."""
    from browse_guard import handle_exception

    class Request:
        query_string = ""

    assert handle_exception(filled.datasette, Request(), ValueError("bug")) is None


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-queries")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    process = WebProcess({**environment, "WEB_CONCURRENCY": "1"}, folder / "web.log")
    yield process
    process.close()


def status_of(web, target: bytes, headers: bytes = b"") -> int:
    """Send a request line byte for byte and read the answer's status."""
    with socket.create_connection(("127.0.0.1", web.port), timeout=20) as sock:
        sock.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + headers + b"\r\n"
        )  # fmt: skip
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


VIEWER = f"Authorization: {VIEWER_BASIC['Authorization']}\r\n".encode()
UNDECODABLE_PATHS = [
    b"/archive/%ff",
    b"/%ff",
    b"/archive/messages/%ff",
    b"/archive/messages.%ff",
    b"/archive%ff.json",
    b"/-/static/%ff",
    b"/-/dashboards/%ff",
]


@pytest.mark.parametrize("target", UNDECODABLE_PATHS)
@pytest.mark.parametrize("who", ["anonymous", "viewer"])
def test_paths_that_are_not_utf8_are_a_400(web, target, who):
    assert status_of(web, target, VIEWER if who == "viewer" else b"") == 400


QUERIES = [
    "_sort=id&_sort_desc=id", "_sort=nope", "_size=0", "_size=-1", "_size=abc",
    "_size=99999999999999999999", "_size=max", "_next=", "_next=abc", "_next=~",
    "_next=1,2,3", "_next=%ff", "_next=99999999999999999999999", "_facet=nope",
    "_facet=id", "_facet_array=nope", "_facet_date=nope", "_where=)", "_col=nope",
    "_nocol=id", "_nocol=nope", "_labels=on", "_shape=nope", "_shape=array",
    "_shape=object", "_search=%22", "id__in=", "id__in=[", "id__arraycontains=1",
    "id__date=x", "id__notblank=1", "id__gt=abc", "id__nope=1", "nope=1",
    "%ff=1", "_sort=%ff", "_through=x", "_through={}", "_timelimit=abc",
    "_stream=on&_size=abc", "_stream=on&id__in=[", "_stream=on&_next=abc",
    "_stream=on&%ff=1", "_stream=on&_sort=rowid", "_sort=at&_next=abc",
    "id__gt=99999999999999999999", "_stream=on&id__lt=-99999999999999999999",
]  # fmt: skip
PAGES = ["/archive/status_changes", "/archive/messages", "/archive/rooms"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("extension", ["", ".json", ".csv"])
def test_odd_query_strings_never_answer_a_server_error(web, page, extension):
    failures = []
    for query in QUERIES:
        if page.endswith("rooms"):
            query = query.replace("id", "rowid")
        target = f"{page}{extension}?{query}".encode()
        status = status_of(web, target, VIEWER)
        if status >= 500:
            failures.append((status, target))

    assert failures == []


NOT_ASCII_TARGETS = [b"/", b"/archive/status_changes.csv?_stream=on", b"/-/login"]


@pytest.mark.parametrize("target", NOT_ASCII_TARGETS)
@pytest.mark.parametrize("cookie", [b"ds_actor=\xff", b"ds_messages=\xff\xfe"])
def test_cookies_that_are_not_utf8_are_a_400(web, target, cookie):
    assert status_of(web, target, b"Cookie: " + cookie + b"\r\n") == 400


@pytest.mark.parametrize("target", NOT_ASCII_TARGETS[:2])
@pytest.mark.parametrize("credentials", [b"\xff\xfe", b"\xc3\xa9\xc3\xa9"])
def test_basic_credentials_that_are_not_ascii_are_a_401(web, target, credentials):
    header = b"Authorization: Basic " + credentials + b"\r\n"

    assert status_of(web, target, header) == 401

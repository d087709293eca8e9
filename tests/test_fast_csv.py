"""Full CSV downloads through fast_csv.py: Datasette's bytes and headers, faster.

Every download here is made twice, by the service's Datasette and by one
built without the plugin, and the two answers must be identical; the
plugin's log says which downloads it served itself.
"""

import csv
import io
import logging
import re
import sqlite3
import threading
import time

import pytest
from conftest import CREDENTIALS, VIEWER_BASIC, Browser, basic
from datasette.plugins import pm

import fast_csv
import table_export
from browse import create_datasette

TRICKY_TEXT = [
    "plain",
    "",
    'with "quotes"',
    "comma, inside",
    "line\nbreak",
    "carriage\rreturn",
    "both\r\nends",
    " leading space",
    "ünïcødé ✓ 😀 עברית",
    '"',
    ",",
]
FLOATS = [0.1 + 0.2, 4.0, -0.0, 1e-7, 1e22, 22.5, 2.0**60, None]


@pytest.fixture
def archive(app, settings):
    """The archive with awkward values in every table, and a table without a key."""
    with sqlite3.connect(settings.database_path) as connection:
        for n in range(12_500):
            text = TRICKY_TEXT[n % len(TRICKY_TEXT)]
            connection.execute(
                "INSERT INTO status_changes (message_id, at, device_id, key, value,"
                " number, removed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (n // 3, f"2026-11-30T09:{n % 60:02}:00.000Z", None if n % 7 else text,
                 f"Test.Key{n % 5}", text, FLOATS[n % len(FLOATS)], n % 2),
            )  # fmt: skip
        for n, body in enumerate([b"\x00\xffbinary", 'text, "quoted"\n', None, b""]):
            connection.execute(
                "INSERT INTO rejected (received_at, reason, body) VALUES (?, ?, ?)",
                (f"2026-11-30T10:00:0{n}.000Z", TRICKY_TEXT[n], body),
            )
        connection.execute("CREATE TABLE readings (room TEXT, reading REAL, raw BLOB)")
        connection.executemany(
            "INSERT INTO readings VALUES (?, ?, ?)",
            [
                (TRICKY_TEXT[n % 11], FLOATS[n % 8], b"\x01" * (n % 2))
                for n in range(300)
            ],
        )
    return settings


@pytest.fixture
def datasette_alone(archive):
    """Datasette as it is without the plugin, over the same archive."""
    pm.unregister(name="fast_csv")
    try:
        datasette = create_datasette(archive)
    finally:
        pm.register(fast_csv, name="fast_csv")
    return Browser(datasette)


@pytest.fixture
def served_fast(caplog):
    """How many downloads fast_csv.py served itself so far."""
    caplog.set_level(logging.DEBUG, logger="fast_csv")
    return lambda: sum(
        record.getMessage().startswith("streaming ") for record in caplog.records
    )


def same_answer(first, second):
    assert first.status_code == second.status_code
    assert dict(first.headers) == dict(second.headers)
    assert first.content == second.content


COPIED = [
    "/archive/status_changes.csv?_stream=on",
    "/archive/status_changes.csv?_stream=on&_size=max",
    "/archive/status_changes.csv?_stream=1&_size=7&_sort=id",
    "/archive/status_changes.csv?_stream=on&_sort_desc=id&key__contains=Key3",
    "/archive/status_changes.csv?_stream=on&number__gte=20&id__lte=9000&_size=max",
    "/archive/status_changes.csv?_stream=on&key=Test.Key1&removed__not=1",
    "/archive/status_changes.csv?_stream=on&device_id__isnull=1&value__startswith=b",
    "/archive/status_changes.csv?_stream=on&id__in=3,1,12000&_nocount=1",
    "/archive/status_changes.csv?_stream=on&key__bogus=1",
    "/archive/status_changes.csv?_stream=on&key=no+such+key",
    "/archive/status_changes.csv?_stream=on&_dl=on",
    "/archive/status_changes.csv?_stream=on&_header=off&_size=max",
    "/archive/rejected.csv?_stream=on",
    "/archive/readings.csv?_stream=on",
    "/archive/readings.csv?_stream=on&_sort_desc=rowid&_dl=1&_size=13",
    "/archive/messages.csv?_stream=on",
]


@pytest.mark.parametrize("path", COPIED)
def test_fast_path_writes_exactly_what_datasette_writes(
    browser, datasette_alone, served_fast, path
):
    fast = browser.get(path, headers=VIEWER_BASIC)

    assert served_fast() == 1
    assert fast.status_code == 200
    same_answer(fast, datasette_alone.get(path, headers=VIEWER_BASIC))


def test_blobs_become_links_to_the_row_as_in_datasette(browser, archive):
    text = browser.get("/archive/rejected.csv?_stream=on", headers=VIEWER_BASIC).text

    assert "http://localhost/archive/rejected/1.blob?_blob_column=body" in text
    assert "http://localhost/archive/rejected/4.blob?_blob_column=body" in text


def test_a_long_download_has_every_row_once_in_key_order(browser, archive):
    response = browser.get(
        "/archive/status_changes.csv?_stream=on&_size=max", headers=VIEWER_BASIC
    )
    rows = list(csv.reader(io.StringIO(response.text)))

    assert [int(row[0]) for row in rows[1:]] == list(range(12_500, 0, -1))
    assert len(response.content) > 5 * table_export.CHUNK_CHARS  # many chunks
    assert _no_reading_thread_left()


LEFT_TO_DATASETTE = [
    "/archive/status_changes.csv",  # one page, not the stream
    "/archive/status_changes.csv?_stream=on&_sort=at",
    "/archive/status_changes.csv?_stream=on&_labels=on",
    "/archive/status_changes.csv?_stream=on&_col=key",
    "/archive/status_changes.csv?_stream=on&_nocol=value",
    "/archive/status_changes.csv?_stream=on&_next=50",
    "/archive/status_changes.csv?_stream=on&_size=0",
    "/archive/status_changes.csv?_stream=on&_size=10001",
    "/archive/status_changes.csv?_stream=on&no_such_column=1",
    "/archive/status_changes.csv?_stream=on&_where=id<5",
    "/archive/status_changes.csv?_stream=on&_trace=1",
    "/archive/people_count.csv?_stream=on",  # a view
    "/archive/workspaces.csv?_stream=on",  # a text primary key
    "/archive/silent_devices.csv?_stream=on",  # a canned query
    "/archive/no_such_table.csv?_stream=on",
    "/nowhere/status_changes.csv?_stream=on",
]


@pytest.mark.parametrize("path", LEFT_TO_DATASETTE)
def test_other_requests_are_datasettes_own(browser, datasette_alone, served_fast, path):
    fast = browser.get(path, headers=VIEWER_BASIC)

    assert served_fast() == 0
    assert fast.status_code < 500
    same_answer(fast, datasette_alone.get(path, headers=VIEWER_BASIC))


@pytest.mark.parametrize("row", [150, 12450])  # a later page; the first one
def test_text_that_is_not_utf8_is_written_as_datasette_writes_it(
    browser, datasette_alone, archive, served_fast, row
):
    with sqlite3.connect(archive.database_path) as connection:
        connection.execute(
            "UPDATE status_changes SET value = CAST(x'41ff42' AS TEXT) WHERE id = ?",
            [row],
        )
    path = "/archive/status_changes.csv?_stream=on"  # pages of 100 rows

    fast = browser.get(path, headers=VIEWER_BASIC)

    assert served_fast() == 1
    assert f"\r\n{row},".encode() in fast.content
    assert "A\ufffdB" in fast.text
    same_answer(fast, datasette_alone.get(path, headers=VIEWER_BASIC))


def _no_reading_thread_left(seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while any(thread.name == "csv-export" for thread in threading.enumerate()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# Who may download: the viewer login and metadata's `allow`, as in Datasette.

STREAM = "/archive/status_changes.csv?_stream=on&_size=max"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("viewer", "wrong"),
        basic(CREDENTIALS["WEBHOOK_USERNAME"], CREDENTIALS["WEBHOOK_PASSWORD"]),
        {"Authorization": "Basic ***"},
        {"Accept": "text/html"},
        {"Cookie": "ds_actor=forged"},
    ],
)
def test_nobody_but_the_viewer_downloads(
    browser, datasette_alone, served_fast, headers
):
    refused = browser.get(STREAM, headers=headers)

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert "Test.Key" not in refused.text
    assert served_fast() == 0
    same_answer(refused, datasette_alone.get(STREAM, headers=headers))


def test_a_wrong_password_is_counted_once(browser, caplog):
    caplog.set_level(logging.WARNING, logger="auth")

    browser.get(STREAM, headers=basic("viewer", "wrong"))

    assert (
        len([r for r in caplog.records if "unauthorised viewer" in r.getMessage()]) == 1
    )


def test_the_login_cookie_downloads_the_same_bytes(browser, served_fast):
    form = browser.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    login = browser.post(
        "/-/login",
        data={"username": "viewer", "password": CREDENTIALS["VIEWER_PASSWORD"],
              "csrftoken": token},
        cookies={"ds_csrftoken": form.cookies["ds_csrftoken"]},
    )  # fmt: skip
    cookie = {"ds_actor": login.cookies["ds_actor"]}

    by_cookie = browser.get(STREAM, cookies=cookie)

    assert by_cookie.status_code == 200 and served_fast() == 1
    assert by_cookie.content == browser.get(STREAM, headers=VIEWER_BASIC).content


def test_metadata_allow_still_decides(browser, datasette_alone, served_fast):
    for datasette in (browser.datasette, datasette_alone.datasette):
        tables = datasette._metadata_local["databases"]["archive"]["tables"]
        tables["status_changes"]["allow"] = {"id": "someone-else"}

    refused = browser.get(STREAM, headers=VIEWER_BASIC)

    assert refused.status_code == 403
    assert served_fast() == 0
    same_answer(refused, datasette_alone.get(STREAM, headers=VIEWER_BASIC))
    assert (
        browser.get(
            "/archive/rejected.csv?_stream=on", headers=VIEWER_BASIC
        ).status_code
        == 200
    )

"""Datasette behind the viewer login: every route guarded, and no SQL can write.

Routes are taken from Datasette itself, so a route added by an upgrade fails
this test until it is listed here with a sample path.
"""

import os
import urllib.parse

import pytest
from conftest import VIEWER_BASIC, example

# Datasette's route patterns, each with paths that exercise it.
SAMPLES = {
    r"/(\.(?P<format>jsono?))?$": ["/", "/.json", "/.jsono"],
    r"/:memory:(?P<rest>.*)$": [
        "/:memory:",
        "/:memory:.json?sql=select+1",
        "/_memory",
        "/_memory.json?sql=select+1",
    ],
    r"/-/metadata(\.(?P<format>json))?$": ["/-/metadata", "/-/metadata.json"],
    r"/-/versions(\.(?P<format>json))?$": ["/-/versions", "/-/versions.json"],
    r"/-/plugins(\.(?P<format>json))?$": ["/-/plugins", "/-/plugins.json"],
    r"/-/settings(\.(?P<format>json))?$": ["/-/settings", "/-/settings.json"],
    r"/-/config.json": ["/-/config.json"],
    r"/-/config": ["/-/config"],
    r"/-/threads(\.(?P<format>json))?$": ["/-/threads", "/-/threads.json"],
    r"/-/databases(\.(?P<format>json))?$": ["/-/databases", "/-/databases.json"],
    r"/-/actor(\.(?P<format>json))?$": ["/-/actor", "/-/actor.json"],
    r"/-/auth-token$": ["/-/auth-token"],
    r"/-/logout$": ["/-/logout"],
    r"/-/permissions$": ["/-/permissions"],
    r"/-/messages$": ["/-/messages"],
    r"/-/allow-debug$": ["/-/allow-debug"],
    r"^/-/allow-debug$": [],  # viewer_auth.py switches the page above off
    r"/-/patterns$": ["/-/patterns"],
    r"/(?P<database>[^\/\.]+)\.db$": ["/archive.db"],
    r"/(?P<database>[^\/\.]+)(\.(?P<format>\w+))?$": [
        "/archive",
        "/archive.json",
        "/archive.csv?sql=select+*+from+messages",
        "/archive.json?sql=select+*+from+rejected&_shape=array",
    ],
    r"/(?P<database>[^\/\.]+)/(?P<table>[^\/\.]+)(\.(?P<format>\w+))?$": [
        "/archive/messages",
        "/archive/messages.json",
        "/archive/status_changes.csv?_stream=on",
        "/archive/rejected.json?_shape=array",
    ],
    r"^/(?P<database>[^\/\.]+)/(?P<table>[^\/\.]+)\.(?P<format>csv)$": [
        "/archive/messages.csv?_stream=on&_size=max",  # fast_csv.py
        "/archive/rejected.csv?_stream=on&_dl=on",
    ],
    r"/(?P<database>[^\/\.]+)/(?P<table>[^/]+?)/(?P<pks>[^/]+?)(\.(?P<format>\w+))?$": [
        "/archive/messages/1",
        "/archive/messages/1.json",
    ],
    r"^/-/dashboards$": ["/-/dashboards"],
    r"^/-/dashboards/(?P<slug>[^/]+)$": ["/-/dashboards/rooms"],
    r"^/-/dashboards/(?P<slug>[^/]+)/embed$": ["/-/dashboards/rooms/embed"],
    r"^/-/dashboards/(?P<slug>[^/]+)/(?P<chart_slug>[^/]+)$": [
        "/-/dashboards/rooms/people-now"
    ],
    r"^/-/dashboards/(?P<slug>[^/]+)/(?P<chart_slug>[^/]+)/embed$": [
        "/-/dashboards/rooms/people-now/embed"
    ],
}
OPEN = {
    r"^/-/login$",
    "/favicon.ico",
    r"/-/static/(?P<path>.*)$",
    *(
        f"/-/static-plugins/{plugin}/(?P<path>.*)$"
        for plugin in (
            "datasette-leaflet",
            "datasette_leaflet",
            "datasette-dashboards",
            "datasette_dashboards",
        )
    ),
}
GUARDED_PATHS = [path for paths in SAMPLES.values() for path in paths]


def route_patterns(browser) -> set:
    return {pattern.pattern for pattern, _ in browser.datasette._routes()}


def refused_anonymously(response) -> bool:
    """Nothing but a challenge, the login form, or a redirect between guarded pages."""
    if response.status_code in (401, 403, 404):
        return True
    location = response.headers.get("location", "")
    redirect_to_guarded = location in GUARDED_PATHS or location == "/"
    return response.status_code in (301, 302) and (
        location.startswith("/-/login?next=") or redirect_to_guarded
    )


def test_every_datasette_route_is_listed(browser):
    assert route_patterns(browser) == set(SAMPLES) | OPEN


@pytest.mark.parametrize("path", GUARDED_PATHS)
@pytest.mark.parametrize("accept", ["*/*", "text/html"])
def test_anonymous_reader_gets_nothing_anywhere(filled, path, accept):
    response = filled.get(path, headers={"Accept": accept})

    assert refused_anonymously(response), (response.status_code, response.text[:200])
    assert "RoomAnalytics" not in response.text


@pytest.mark.parametrize("path", [p for p in GUARDED_PATHS if p != "/-/logout"])
@pytest.mark.parametrize("who", ["anonymous", "viewer"])
def test_nothing_but_the_login_form_takes_a_post(filled, path, who):
    headers = VIEWER_BASIC if who == "viewer" else {}
    response = filled.post(path, data={"sql": "delete from messages"}, headers=headers)

    assert response.status_code == 405, response.status_code
    assert "RoomAnalytics" not in response.text


@pytest.mark.parametrize("path", GUARDED_PATHS)
def test_viewer_reaches_every_route_without_a_server_error(filled, path):
    assert filled.get(path, headers=VIEWER_BASIC).status_code < 500


def test_static_assets_and_login_form_are_open(browser):
    assert browser.get("/-/static/app.css").status_code == 200
    form = browser.get("/-/login")
    assert form.status_code == 200 and "RoomAnalytics" not in form.text


WRITES = [
    "insert into messages (received_at, type, body, body_sha256) values (1, 2, 3, 4)",
    "update messages set type = 'x'",
    "delete from messages",
    "replace into rejected (received_at, reason) values ('a', 'b')",
    "drop table messages",
    "create table spy (x)",
    "with x as (select 1) insert into rejected (received_at, reason) select 'a', 'b'",
    "with x as (select 1) delete from messages",
    "select 1; delete from messages",
    "attach database '{folder}/spy.db' as spy",
    "select * from messages; attach database '{folder}/spy.db' as spy",
    "vacuum into '{folder}/copy.db'",
    "pragma writable_schema = 1",
    "pragma journal_mode = delete",
    "select load_extension('{folder}/evil.so')",
    "select writefile('{folder}/spy.txt', 'x')",
    "explain delete from messages",
    "begin immediate",
]


@pytest.mark.parametrize("sql", WRITES)
def test_no_viewer_sql_writes_attaches_or_loads(filled, settings, sql):
    folder = settings.database_path.parent
    before = sorted(os.listdir(folder)), _counts(filled)
    query = urllib.parse.urlencode({"sql": sql.format(folder=folder)})

    response = filled.get(f"/archive.json?{query}", headers=VIEWER_BASIC)

    assert response.status_code in (400, 403), response.text[:200]
    assert (sorted(os.listdir(folder)), _counts(filled)) == before


def _counts(browser) -> list:
    sql = "select (select count(*) from messages) m, (select count(*) from rejected) r"
    query = urllib.parse.urlencode({"sql": sql, "_shape": "array"})
    return browser.get(f"/archive.json?{query}", headers=VIEWER_BASIC).json()


@pytest.fixture
def filled(client, browser):
    from conftest import SENDER_BASIC

    for name in ("status-people-count.json", "events-widget.json"):
        client.post("/webhook", data=example(name), headers=SENDER_BASIC)
    client.post("/webhook", data=b"not json", headers=SENDER_BASIC)
    return browser


SLOW_VIEW = """
CREATE VIEW slow_numbers AS
WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000)
SELECT i FROM n ORDER BY i DESC
"""


def test_csv_past_the_time_limit_is_503_not_a_server_error(filled, settings):
    import sqlite3

    with sqlite3.connect(settings.database_path) as connection:
        connection.execute(SLOW_VIEW)
    filled.datasette._settings["sql_time_limit_ms"] = 50

    response = filled.get("/archive/slow_numbers.csv?_stream=on", headers=VIEWER_BASIC)

    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert "50 ms limit" in response.text

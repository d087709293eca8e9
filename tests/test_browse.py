"""Browsing the archive in Datasette: who gets in, and what they can read."""

import re

import pytest
from conftest import SENDER_BASIC, SENDER_TOKEN, VIEWER_BASIC, basic, example

TABLES = ["messages", "status_changes", "events", "rejected"]


@pytest.fixture
def filled(client, browser):
    for name in ("status-people-count.json", "events-widget.json", "batch.json"):
        client.post("/webhook", data=example(name), headers=SENDER_BASIC)
    client.post("/webhook", data=b"not json", headers=SENDER_BASIC)
    return browser


def test_anonymous_page_request_is_sent_to_the_login_form(browser):
    response = browser.get("/archive/messages", headers={"Accept": "text/html"})

    assert response.status_code == 302
    assert response.headers["location"] == "/-/login?next=/archive/messages"


@pytest.mark.parametrize(
    "path", ["/", "/archive.json", "/archive/messages.csv", "/-/metadata.json"]
)
def test_anonymous_data_request_gets_401_with_basic_challenge(browser, path):
    response = browser.get(path)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "headers",
    [
        SENDER_BASIC,
        SENDER_TOKEN,
        basic("viewer", "wrong"),
        {"Authorization": "Basic ***"},
        {"Authorization": "Basic " + "w6k=" * 3},
    ],
)
def test_webhook_and_wrong_credentials_do_not_open_datasette(browser, headers):
    assert browser.get("/archive.json", headers=headers).status_code == 401


def test_viewer_credentials_do_not_open_the_webhook(client):
    response = client.post(
        "/webhook", data=example("health-check.json"), headers=VIEWER_BASIC
    )
    assert response.status_code == 401


def test_root_page_links_to_the_archive(filled):
    response = filled.get("/", headers=VIEWER_BASIC)

    assert response.status_code == 200
    assert 'href="/archive"' in response.text


@pytest.mark.parametrize("table", TABLES)
def test_every_table_downloads_as_csv_and_json(filled, table):
    csv = filled.get(f"/archive/{table}.csv?_stream=on&_size=max", headers=VIEWER_BASIC)
    data = filled.get(f"/archive/{table}.json?_shape=array", headers=VIEWER_BASIC)

    assert csv.status_code == 200 and data.status_code == 200
    assert (
        csv.headers["content-type"].startswith("text/plain")
        or "csv" in (csv.headers["content-type"])
    )
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,")
    assert len(data.json()) >= 1


def test_status_changes_csv_has_the_values(filled):
    csv = filled.get(
        "/archive/status_changes.csv?_stream=on", headers=VIEWER_BASIC
    ).text

    assert "RoomAnalytics.PeopleCount.Current,4,4.0,0" in csv
    assert "2026-11-30T10:05:12.480Z" in csv


def test_facets_and_sql_editor_work(filled):
    facets = filled.get("/archive/status_changes.json?_facet=key", headers=VIEWER_BASIC)
    sql = filled.get(
        "/archive.json?sql=select+count(*)+as+n+from+messages&_shape=array",
        headers=VIEWER_BASIC,
    )

    keys = {row["value"] for row in facets.json()["facet_results"]["key"]["results"]}
    assert "RoomAnalytics.PeopleCount.Current" in keys
    assert sql.json() == [{"n": 4}]


def test_sql_cannot_write(filled):
    response = filled.get(
        "/archive.json?sql=delete+from+messages", headers=VIEWER_BASIC
    )
    assert response.status_code == 400
    count = filled.get(
        "/archive.json?sql=select+count(*)+as+n+from+messages&_shape=array",
        headers=VIEWER_BASIC,
    )
    assert count.json() == [{"n": 4}]


def test_login_form_sets_a_session_that_opens_the_archive(browser):
    form = browser.get("/-/login")
    token = re.search(r'name="csrftoken" value="([^"]+)"', form.text).group(1)
    cookies = {"ds_csrftoken": form.cookies["ds_csrftoken"]}

    wrong = browser.post(
        "/-/login",
        data={"username": "viewer", "password": "nope", "csrftoken": token},
        cookies=cookies,
    )
    right = browser.post(
        "/-/login",
        data={
            "username": "viewer",
            "password": VIEWER_BASIC and _viewer_password(),
            "csrftoken": token,
            "next": "/archive",
        },
        cookies=cookies,
    )

    assert wrong.status_code == 401
    assert right.status_code == 302 and right.headers["location"] == "/archive"
    session = {"ds_actor": right.cookies["ds_actor"]}
    assert browser.get("/archive.json", cookies=session).status_code == 200


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere", "x"])
def test_login_never_redirects_off_site(browser, target):
    form = browser.get(f"/-/login?next={target}")
    assert 'name="next" value="/"' in form.text


def _viewer_password():
    from conftest import CREDENTIALS

    return CREDENTIALS["VIEWER_PASSWORD"]

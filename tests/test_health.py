"""Visible health: /healthz details, the ingest views and JSON request logs."""

import json
import urllib.request
from datetime import UTC, datetime, timedelta

from conftest import CREDENTIALS, SENDER_TOKEN, VIEWER_BASIC, example
from server import WebProcess

import health
from messages import format_timestamp, normalise


def post(client, body, headers=SENDER_TOKEN):
    return client.post("/webhook", data=body, headers=headers)


def view(browser, name, query=""):
    response = browser.get(
        f"/archive/{name}.json?_shape=array&{query}", headers=VIEWER_BASIC
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz_reports_size_free_disk_and_age_of_newest_message(client):
    empty = client.get("/healthz").get_json()
    post(client, example("status-people-count.json"))
    report = client.get("/healthz").get_json()

    assert empty["newest_message_age_seconds"] is None
    assert report["status"] == "ok"
    assert report["database_bytes"] > 0
    assert report["free_disk_bytes"] > 0
    assert 0 <= report["newest_message_age_seconds"] < 3600


def test_age_is_counted_from_the_archive_timestamp():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    assert health.age_seconds("2026-12-04T11:58:30.500Z", now) == 89.5
    assert health.age_seconds(None, now) is None


def test_ingest_stats_counts_stored_types_and_rejection_reasons(client, browser):
    post(client, example("batch.json"))
    post(client, example("health-check.json"))
    post(client, b"not json")
    post(client, b"not json either")

    rows = view(browser, "ingest_stats")
    counts = {(r["outcome"], r["detail"].split(":")[0]): r["count"] for r in rows}
    assert counts[("stored", "status")] == 2
    assert counts[("stored", "healthCheck")] == 1
    assert counts[("rejected", "body is not JSON")] == 2
    hour = format_timestamp(datetime.now(UTC))[:13] + ":00Z"
    assert {r["hour"] for r in rows} == {hour}


def test_newest_message_per_device_lists_silent_devices(app, client, browser):
    post(client, example("status-people-count.json"))
    old = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    quiet = {"type": "status", "deviceId": "quiet-device", "workspaceId": "w"}
    for minutes in (0, 5):
        received = format_timestamp(old + timedelta(minutes=minutes))
        message = {**quiet, "timestamp": received}
        app.extensions["archive"].store([normalise(message, received)])

    devices = {r["device_id"]: r for r in view(browser, "newest_message_per_device")}
    silent = view(browser, "newest_message_per_device", "minutes_silent__gt=30")

    assert len(devices) == 2
    assert devices["quiet-device"]["newest_received_at"] == received
    assert devices["quiet-device"]["minutes_silent"] in (115, 116)
    assert [r["device_id"] for r in silent] == ["quiet-device"]


def test_request_log_is_one_json_line_per_request_without_secrets(tmp_path):
    environment = {**CREDENTIALS, "DATABASE_PATH": str(tmp_path / "archive.db")}
    web = WebProcess(environment, tmp_path / "web.log")
    try:
        call = urllib.request.Request(
            f"{web.url}/webhook?note=hidden", example("health-check.json"), SENDER_TOKEN
        )
        urllib.request.urlopen(call, timeout=20).close()
    finally:
        web.close()

    log = (tmp_path / "web.log").read_text()
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    [posted] = [x for x in lines if x["method"] == "POST"]
    assert posted["path"] == "/webhook" and posted["status"] == 200
    assert posted["log"] == "request" and posted["duration_ms"] >= 0
    assert "hidden" not in log
    for secret in CREDENTIALS.values():
        if secret not in ("controlhub", "viewer"):
            assert secret not in log

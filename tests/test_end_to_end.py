"""The real gunicorn process from the Procfile, spoken to over HTTP."""

import csv
import io
import json
import urllib.parse

import pytest
from conftest import (
    CREDENTIALS,
    SENDER_BASIC,
    SENDER_BEARER,
    SENDER_TOKEN,
    VIEWER_BASIC,
    example,
    example_messages,
)
from server import WebProcess, run_refused
from server import http_request as request

import simulator


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    process = WebProcess(environment, folder / "web.log")
    yield process
    process.close()


def read_json(web, sql):
    query = urllib.parse.urlencode({"sql": sql, "_shape": "array"})
    status, body, _ = request(f"{web.url}/archive.json?{query}", headers=VIEWER_BASIC)
    assert status == 200, body
    return json.loads(body)


def test_examples_posted_over_http_read_back_as_json_and_csv(web):
    forms = [SENDER_BASIC, SENDER_TOKEN, SENDER_BEARER]
    names = ["status-people-count.json", "status-environment.json",
             "events-widget.json", "health-check.json", "batch.json"]  # fmt: skip
    for position, name in enumerate(names):
        status, body, _ = request(
            f"{web.url}/webhook", example(name), forms[position % 3]
        )
        assert status == 200, body

    bodies = [
        json.loads(r["body"]) for r in read_json(web, "select body from messages")
    ]
    for name in names:
        for message in example_messages(name):
            assert message in bodies

    # The status changes follow the messages within moments, and /healthz says so.
    health = web.wait_derived()
    assert health["derivation_lag_seconds"] == 0
    status, body, headers = request(
        f"{web.url}/archive/status_changes.csv?_stream=on", headers=VIEWER_BASIC
    )
    assert status == 200
    table = list(csv.DictReader(io.StringIO(body.decode())))
    temperature = [r for r in table if r["key"] == "RoomAnalytics.AmbientTemperature"]
    assert temperature[0]["number"] == "22.5"
    assert temperature[0]["at"] == "2026-11-30T09:15:00.000Z"


def test_wrong_credentials_over_http_store_nothing(web):
    before = read_json(web, "select count(*) as n from messages")
    status, _, headers = request(
        f"{web.url}/webhook", example("health-check.json"), {"Authorization": "nope"}
    )
    after = read_json(web, "select count(*) as n from messages")

    assert status == 401 and headers["WWW-Authenticate"]
    assert before == after


def test_simulator_traffic_is_all_acknowledged_and_archived(web):
    before = read_json(web, "select count(*) as n from messages")[0]["n"]
    sender = simulator.Sender(f"{web.url}/webhook", CREDENTIALS["WEBHOOK_TOKEN"])
    building = simulator.Building(rooms=3, seed=7)
    simulator.run(sender, building, backfill_hours=2, duration=0, echo=lambda _: None)

    after = read_json(web, "select count(*) as n from messages")[0]["n"]
    assert sender.failures == 0
    assert len(sender.acknowledged) > 50
    assert after - before == len(sender.acknowledged)
    web.wait_derived()
    sql = "select count(distinct message_id) as n from status_changes"
    assert read_json(web, sql)[0]["n"] >= len(sender.acknowledged) // 2


def test_gunicorn_refuses_to_start_without_credentials(tmp_path):
    result = run_refused({"DATABASE_PATH": str(tmp_path / "a.db")})

    assert result.returncode != 0
    assert "configuration error: no webhook credentials" in result.stderr

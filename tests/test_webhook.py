"""The webhook's contract with Control Hub, through the Flask test client."""

import json

import pytest
from conftest import (
    SENDER_BASIC,
    SENDER_BEARER,
    SENDER_TOKEN,
    VIEWER_BASIC,
    basic,
    example,
    example_messages,
)

EXAMPLE_FILES = [
    "status-people-count.json",
    "status-environment.json",
    "events-widget.json",
    "health-check.json",
    "batch.json",
]
SENDER_FORMS = {
    "basic": SENDER_BASIC,
    "token": SENDER_TOKEN,
    "bearer": SENDER_BEARER,
    "lowercase bearer": {
        "Authorization": SENDER_BEARER["Authorization"].lower()[:7]
        + SENDER_TOKEN["Authorization"]
    },
}


def post(client, body, headers=SENDER_BASIC, content_type="application/json"):
    return client.post(
        "/webhook", data=body, headers=headers, content_type=content_type
    )


@pytest.mark.parametrize("form", SENDER_FORMS)
@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_every_example_is_archived_with_every_credential_form(client, rows, name, form):
    response = post(client, example(name), headers=SENDER_FORMS[form])

    assert response.status_code == 200, response.get_data(as_text=True)
    expected = example_messages(name)
    assert response.get_json() == {"stored": len(expected), "duplicates": 0}
    stored = rows("SELECT type, body FROM messages ORDER BY id")
    assert [json.loads(row["body"]) for row in stored] == expected
    assert [row["type"] for row in stored] == [m["type"] for m in expected]


def test_people_count_lands_as_numbers_and_text(client, rows):
    post(client, example("status-people-count.json"))

    [message] = rows("SELECT * FROM messages")
    assert message["sent_at"] == "2026-11-30T09:14:07.512Z"
    assert message["is_full_sync"] == 0
    assert message["app_id"] == "Y2lzY29zcGFyazovL3VzL0FQUExJQ0FUSU9OL2V4YW1wbGU"
    changes = rows(
        "SELECT key, value, number, removed, at, device_id FROM status_changes"
    )
    assert [(c["key"], c["value"], c["number"], c["removed"]) for c in changes] == [
        ("RoomAnalytics.PeopleCount.Current", "4", 4.0, 0),
        ("RoomAnalytics.PeoplePresence", '"Yes"', None, 0),
    ]
    assert {c["at"] for c in changes} == {"2026-11-30T09:14:07.512Z"}
    assert {c["device_id"] for c in changes} == {message["device_id"]}


def test_full_sync_keeps_peripheral_keys_and_removals(client, rows):
    post(client, example("status-environment.json"))

    [message] = rows("SELECT * FROM messages")
    assert message["is_full_sync"] == 1
    assert message["sent_at"] == "2026-11-30T09:15:00.000Z"
    assert message["app_id"] is None
    by_key = {c["key"]: c for c in rows("SELECT * FROM status_changes")}
    assert by_key["RoomAnalytics.AmbientTemperature"]["number"] == 22.5
    air = by_key["Peripherals.ConnectedDevice[1002].RoomAnalytics.AirQuality.Index"]
    assert (air["value"], air["number"]) == ("1.8", 1.8)
    gone = by_key["Peripherals.ConnectedDevice[1001].RoomAnalytics.AmbientTemperature"]
    assert (gone["removed"], gone["value"], gone["number"]) == (1, None, None)
    assert len(by_key) == 6


def test_events_keep_their_own_times_and_object_values(client, rows):
    post(client, example("events-widget.json"))

    events = rows("SELECT key, value, at FROM events ORDER BY id")
    assert [(e["key"], e["at"]) for e in events] == [
        ("UserInterface.Extensions.Widget.Action", "2026-11-30T09:20:30.998Z"),
        ("CallSuccessful", "2026-11-30T09:20:31.001Z"),
    ]
    assert json.loads(events[0]["value"]) == {
        "WidgetId": "room_booking",
        "Type": "clicked",
        "Value": "",
    }
    assert rows("SELECT count(*) AS n FROM status_changes") == [{"n": 0}]


def test_health_check_has_no_device(client, rows):
    post(client, example("health-check.json"))

    [message] = rows("SELECT * FROM messages")
    assert message["type"] == "healthCheck"
    assert (message["device_id"], message["workspace_id"]) == (None, None)
    assert message["sent_at"] == "2026-11-30T09:00:00.000Z"


def test_batch_becomes_one_row_per_message_with_fixed_width_times(client, rows):
    post(client, example("batch.json"))

    sent = [r["sent_at"] for r in rows("SELECT sent_at FROM messages ORDER BY id")]
    assert sent == ["2026-11-30T10:00:00.100Z", "2026-11-30T10:05:12.480Z"]
    assert len(rows("SELECT * FROM status_changes")) == 3


def test_messages_envelope_is_unwrapped(client, rows):
    body = json.dumps({"messages": example_messages("batch.json")})
    response = post(client, body)

    assert response.get_json() == {"stored": 2, "duplicates": 0}


def test_redelivered_message_is_stored_once_and_still_acknowledged(client, rows):
    first = post(client, example("status-people-count.json"))
    again = post(client, example("status-people-count.json"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.get_json() == {"stored": 0, "duplicates": 1}
    assert rows("SELECT count(*) AS n FROM messages") == [{"n": 1}]
    assert rows("SELECT count(*) AS n FROM status_changes") == [{"n": 2}]


def test_unknown_message_type_is_archived(client, rows):
    message = {"type": "roomBooked", "orgId": "org", "timestamp": "2026-12-01T08:00Z"}
    response = post(client, json.dumps(message).replace("08:00Z", "08:00:00+01:00"))

    assert response.status_code == 200
    [stored] = rows("SELECT type, sent_at FROM messages")
    assert stored == {"type": "roomBooked", "sent_at": "2026-12-01T07:00:00.000Z"}


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded"]
)
def test_body_that_parses_is_accepted_whatever_the_content_type(client, content_type):
    response = client.post(
        "/webhook",
        data=example("health-check.json"),
        headers={
            **SENDER_BASIC,
            **({"Content-Type": content_type} if content_type else {}),
        },
    )
    assert response.status_code == 200


WRONG_CREDENTIALS = {
    "none": {},
    "wrong password": basic("controlhub", "not-the-password"),
    "wrong token": {"Authorization": "not-the-token"},
    "wrong bearer": {"Authorization": "Bearer not-the-token"},
    "viewer login": VIEWER_BASIC,
    "token as basic password": basic("controlhub", SENDER_TOKEN["Authorization"]),
    "empty header": {"Authorization": ""},
    "broken basic": {"Authorization": "Basic %%%"},
}


@pytest.mark.parametrize("name", WRONG_CREDENTIALS)
def test_wrong_credentials_get_401_and_store_nothing(client, rows, name):
    response = post(
        client, example("status-people-count.json"), WRONG_CREDENTIALS[name]
    )

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Basic") and "Bearer" in challenge
    assert rows("SELECT count(*) AS n FROM messages") == [{"n": 0}]
    assert rows("SELECT count(*) AS n FROM rejected") == [{"n": 0}]


UNUSABLE = {
    "not json": (b"hello", "body is not JSON"),
    "scalar": (b"42", "message 0 is not a JSON object"),
    "list of strings": (b'["a"]', "message 0 is not a JSON object"),
    "empty list": (b"[]", "body holds no messages"),
    "no type": (b'{"orgId": "o"}', "message has no type"),
    "not utf-8": (b'{"type": "status", "orgId": "\xff"}', "body is not UTF-8"),
    "timestamp not a time": (b'{"type": "status", "timestamp": "soon"}', "timestamp"),
    "device id a number": (b'{"type": "status", "deviceId": 7}', "deviceId"),
    "updated a list": (b'{"type": "status", "changes": {"updated": []}}', "updated"),
    "event without key": (b'{"type": "events", "events": [{"value": 1}]}', "event 0"),
    "nan": (b'{"type": "status", "changes": {"updated": {"k": NaN}}}', "not JSON"),
}


@pytest.mark.parametrize("name", UNUSABLE)
def test_unusable_body_gets_400_and_is_kept_in_rejected(client, rows, name):
    body, reason = UNUSABLE[name]
    response = post(client, body)

    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert "\n" not in response.get_json()["error"]
    [rejected] = rows("SELECT reason, body, content_type FROM rejected")
    assert reason in rejected["reason"]
    kept = rejected["body"]
    assert (kept if isinstance(kept, bytes) else kept.encode()) == body
    assert rows("SELECT count(*) AS n FROM messages") == [{"n": 0}]


def test_batch_with_one_bad_message_stores_none_of_it(client, rows):
    batch = example_messages("batch.json") + [{"type": "status", "deviceId": 1}]
    response = post(client, json.dumps(batch))

    assert response.status_code == 400
    assert rows("SELECT count(*) AS n FROM messages") == [{"n": 0}]


def test_body_over_the_limit_gets_413(environ, tmp_path):
    from app import create_app
    from config import from_environ

    app = create_app(from_environ({**environ, "MAX_BODY_BYTES": "1000"}))
    body = json.dumps({"type": "status", "padding": "x" * 2000})
    response = post(app.test_client(), body)

    assert response.status_code == 413
    assert "too large" in response.get_json()["error"]


def test_healthz_reports_ok_and_the_newest_message(client):
    post(client, example("health-check.json"))
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"
    assert response.get_json()["newest_message_received_at"].endswith("Z")


def test_missing_database_directory_gives_503_and_unhealthy(environ, tmp_path):
    from app import create_app
    from config import from_environ

    missing = tmp_path / "not-mounted" / "archive.db"
    client = create_app(from_environ({**environ, "DATABASE_PATH": str(missing)}))
    client = client.test_client()

    response = post(client, example("health-check.json"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 503

    missing.parent.mkdir()
    assert post(client, example("health-check.json")).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_get_on_webhook_is_405_not_500(client):
    assert client.get("/webhook", headers=SENDER_BASIC).status_code == 405

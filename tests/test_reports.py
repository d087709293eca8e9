"""The canned reports, read as a manager would: through Datasette, as CSV."""

import csv
import io

import pytest
from conftest import PEOPLE, VIEWER_BASIC, status

import browse
import config


def report(browser, name, **params):
    response = browser.get(f"/archive/{name}.csv", params=params, headers=VIEWER_BASIC)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def test_occupancy_report_for_a_date_range_downloads_as_csv(lovelace_morning, browser):
    rows = report(
        browser, "occupancy_report", room="Lovelace", **{"from": "2026-11-30",
        "to": "2026-11-30"},
    )  # fmt: skip

    assert rows == [
        {"day": "2026-11-30", "room": "Lovelace", "occupied_office_hours": "1.67",
         "office_hours_occupied_percent": "16.7", "peak_people": "5",
         "capacity": "8", "peak_vs_capacity_percent": "62.5"}
    ]  # fmt: skip
    backwards = {"from": "2026-12-01", "to": "2026-11-30"}
    assert report(browser, "occupancy_report", room="", **backwards) == []


def test_occupancy_report_without_a_start_covers_its_last_day(
    lovelace_morning, browser
):
    def days(to):
        found = report(browser, "occupancy_report", room="", **{"from": "", "to": to})
        return [row["day"] for row in found]

    assert days("2026-11-30") == ["2026-11-30"]
    assert days("2026-12-01") == ["2026-12-01"]


def test_rooms_over_capacity_says_when_and_for_how_long(post, named, browser):
    post(status("09:00", {PEOPLE: 10}), status("09:30", {PEOPLE: 2}))

    rows = report(browser, "rooms_over_capacity", room="", **{"from": "", "to": ""})

    assert [(r["room"], r["starts_at"], r["over_by"], r["minutes"]) for r in rows] == [
        ("Lovelace", "2026-11-30T09:00:00.000Z", "2", "30.0")
    ]


def test_unused_rooms_lists_named_rooms_nobody_was_counted_in(
    lovelace_morning, browser
):
    rows = report(browser, "unused_rooms", **{"from": "2026-11-30", "to": ""})
    later = report(browser, "unused_rooms", **{"from": "2026-12-01", "to": ""})

    assert [r["room"] for r in rows] == ["Focus 1", "Hopper, big room"]
    assert [r["room"] for r in later] == ["Focus 1", "Hopper, big room", "Lovelace"]
    assert later[2]["last_occupied_at"] == "2026-11-30T10:20:00.000Z"


def test_silent_devices_include_those_never_heard_from(lovelace_morning, browser):
    rows = report(browser, "silent_devices", minutes="")

    by_device = {r["device"]: r for r in rows}
    assert set(by_device) == {"Lovelace Board", "Hopper Room Bar", "Hopper Navigator"}
    assert by_device["Lovelace Board"]["last_heard_at"] == "2026-11-30T11:30:00.000Z"
    assert by_device["Hopper Navigator"]["last_heard_at"] == ""


def test_room_event_log_lists_a_rooms_reports_newest_first(
    lovelace_morning, post, browser
):
    press = {
        "key": "UserInterface.Extensions.Widget.Action",
        "value": {"Type": "clicked"},
    }
    post({**status("09:20"), "type": "events", "events": [press]})

    rows = report(
        browser, "room_event_log", room="Lovelace",
        **{"from": "2026-11-30", "to": "2026-11-30"},
    )  # fmt: skip

    times = [r["at"][11:16] for r in rows]
    assert times == ["11:30", "10:20", "09:40", "09:40", "09:20", "09:10"]
    assert [r["kind"] for r in rows if r["at"][11:16] == "09:20"] == ["event"]
    assert {r["device"] for r in rows} == {"Lovelace Board"}


def test_dashboards_follow_the_archive_file_name(environ, tmp_path):
    settings = config.from_environ(
        {**environ, "DATABASE_PATH": str(tmp_path / "rooms.db")}
    )

    metadata = browse._metadata(settings)

    dashboard = metadata["plugins"]["datasette-dashboards"]["rooms"]
    parts = [*dashboard["charts"].values(), *dashboard["filters"].values()]
    assert {p["db"] for p in parts if "db" in p} == {"rooms"}
    assert "rooms" in metadata["databases"]


@pytest.mark.parametrize("path", ["/-/dashboards", "/-/dashboards/rooms"])
def test_dashboard_pages_need_the_viewer(browser, path):
    assert browser.get(path).status_code == 401
    assert browser.get(path, headers=VIEWER_BASIC).status_code == 200

"""A full CSV download of a table larger than one page and many chunks."""

import csv
import io
from datetime import UTC, datetime, timedelta

from conftest import VIEWER_BASIC

import simulator
from messages import format_timestamp, normalise


def test_streamed_csv_holds_every_status_change_once_in_order(app, browser, rows):
    building = simulator.Building(rooms=40, seed=3)
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    requests = []
    for minute in range(400):
        moment = at + timedelta(minutes=minute)
        stamp = format_timestamp(moment)
        requests.append([normalise(m, stamp) for m in building.messages(moment)])
    app.extensions["archive"].store_each(requests)
    expected = rows("SELECT id, key, at FROM status_changes ORDER BY id DESC")
    assert len(expected) > 20_000  # more than two pages of max_returned_rows

    response = browser.get(
        "/archive/status_changes.csv?_stream=on&_size=max", headers=VIEWER_BASIC
    )

    assert response.status_code == 200
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(int(r["id"]), r["key"], r["at"]) for r in table] == [
        (r["id"], r["key"], r["at"]) for r in expected
    ]

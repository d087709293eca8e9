"""The derived tables behind the views: rebuilt from the archive, and pruned.

The triggers keep them as messages arrive; a rebuild from status_changes and
messages (an archive from before the tables existed) must give the same views.
"""

import random
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import LOVELACE

import archive
import rollups
import simulator
from derive import Deriver
from messages import normalise

# Every view, without what moves with the clock (the latest count holds until now).
SNAPSHOTS = {
    "people_count": "SELECT * FROM people_count ORDER BY at, device_id",
    "people_count_intervals": "SELECT workspace_id, device_id, people, starts_at,"
    " MIN(ends_at, '2026-12-01') FROM people_count_intervals"
    " ORDER BY starts_at, device_id, people",
    "room_occupancy_hourly": "SELECT * FROM room_occupancy_hourly"
    " WHERE hour < '2026-12-01' ORDER BY hour, workspace_id",
    "room_utilisation_daily": "SELECT * FROM room_utilisation_daily"
    " WHERE day < '2026-12-01' ORDER BY day, workspace_id",
    "environment": "SELECT * FROM environment ORDER BY at, device_id",
    "latest_status": "SELECT room, device, key, value, number, removed, at"
    " FROM latest_status ORDER BY device_id, key",
    "rooms": "SELECT * FROM rooms ORDER BY workspace_id",
}


REFERENCE = Path(__file__).parent / "reference_views.sql"


def snapshot(path, reference=False):
    """Each view's rows; with reference, from the whole-history definitions."""
    with sqlite3.connect(path) as connection:
        if reference:
            connection.executescript(REFERENCE.read_text())
        found = {}
        for view, sql in SNAPSHOTS.items():
            if reference:
                sql = re.sub(rf"\bFROM {view}\b", f"FROM reference_{view}", sql)
            found[view] = connection.execute(sql).fetchall()
        return found


@pytest.fixture
def shuffled_archive(tmp_path):
    """A simulated day of four rooms, stored late, out of order and twice."""
    building = simulator.Building(rooms=4, seed=3)
    start = datetime(2026, 11, 30, 6, tzinfo=UTC)
    messages = []
    for tick in range(200):
        messages += building.messages(start + timedelta(minutes=7 * tick))
    random.Random(5).shuffle(messages)
    messages += messages[:50]  # redelivered
    path = tmp_path / "archive.db"
    store = archive.Archive(path)
    for message in messages:
        store.store([normalise(message, "2026-12-01T00:00:00.000Z")])
    Deriver(store).catch_up()
    store.close()
    return path


def force_rebuild(path):
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE rollup_versions SET version = 0")
    archive.connect(path).close()


def test_views_match_their_whole_history_definitions(shuffled_archive):
    assert snapshot(shuffled_archive) == snapshot(shuffled_archive, reference=True)


def test_a_rebuild_gives_the_views_the_triggers_kept(shuffled_archive):
    kept = snapshot(shuffled_archive)

    force_rebuild(shuffled_archive)

    assert snapshot(shuffled_archive) == kept
    assert len(kept["room_occupancy_hourly"]) > 4 * 15


def test_an_archive_without_derived_tables_is_filled_at_start(shuffled_archive):
    kept = snapshot(shuffled_archive)
    with sqlite3.connect(shuffled_archive) as connection:
        for table in rollups.DERIVED_TABLES:
            connection.execute(f"DROP TABLE {table}")
        connection.execute("DELETE FROM rollup_versions")

    archive.connect(shuffled_archive).close()

    assert snapshot(shuffled_archive) == kept


def test_prune_drops_derived_rows_before_the_cutoff(lovelace_morning, settings, rows):
    connection = archive.connect(settings.database_path)
    with connection:
        connection.execute("BEGIN")
        deleted = rollups.prune_before(connection, "2026-11-30T10:00:00.000Z")
    connection.close()

    assert deleted["people_count_changes"] == 3  # 09:10, and 09:40 twice
    assert deleted["occupancy_device_hours"] == 1
    hours = rows(
        "SELECT hour, max_people FROM room_occupancy_hourly"
        " WHERE hour < '2026-11-30T12' ORDER BY hour"
    )
    assert hours == [
        {"hour": "2026-11-30T10:00:00.000Z", "max_people": 5},
        {"hour": "2026-11-30T11:00:00.000Z", "max_people": 5},
    ]
    assert rows("SELECT workspace_id FROM rooms WHERE workspace_id = ?", (LOVELACE,))


def test_deleting_status_changes_leaves_the_views_of_what_remains(shuffled_archive):
    with sqlite3.connect(shuffled_archive) as connection:
        connection.execute(
            "DELETE FROM status_changes WHERE id % 3 = 0 OR at < '2026-11-30T12'"
        )

    assert snapshot(shuffled_archive) == snapshot(shuffled_archive, reference=True)


def test_status_change_counts_follow_inserts_deletes_and_rebuilds(shuffled_archive):
    def counts(source):
        with sqlite3.connect(shuffled_archive) as connection:
            return connection.execute(source).fetchall()

    kept = "SELECT key, removed, changes FROM status_change_counts ORDER BY 1, 2"
    counted = (
        "SELECT key, removed, count(*) FROM status_changes GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert counts(kept) == counts(counted) and len(counts(kept)) > 5

    with sqlite3.connect(shuffled_archive) as connection:
        connection.execute("DELETE FROM status_changes WHERE id % 3 = 0 OR removed")
    assert counts(kept) == counts(counted)

    force_rebuild(shuffled_archive)
    assert counts(kept) == counts(counted)


def test_message_type_counts_follow_inserts_deletes_and_rebuilds(shuffled_archive):
    def counts(source):
        with sqlite3.connect(shuffled_archive) as connection:
            return connection.execute(source).fetchall()

    kept = "SELECT type, messages FROM message_type_counts ORDER BY 1"
    counted = "SELECT type, count(*) FROM messages GROUP BY 1 ORDER BY 1"
    assert counts(kept) == counts(counted) and len(counts(kept)) > 1

    with sqlite3.connect(shuffled_archive) as connection:
        connection.execute("DELETE FROM messages WHERE id % 3 = 0 OR type = 'events'")
    assert counts(kept) == counts(counted)

    force_rebuild(shuffled_archive)
    assert counts(kept) == counts(counted)

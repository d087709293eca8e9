"""Derivation: status_changes and events follow their messages, exactly once."""

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PEOPLE, example_messages, status

import archive
import simulator
from archive import Archive, StorageUnavailable
from derive import Deriver
from messages import normalise, now_timestamp

RECEIVED_AT = "2026-11-30T09:15:00.000Z"


@pytest.fixture
def store(settings):
    store = Archive(settings.database_path)
    store.open()
    yield store
    store.close()


def stored(store, *messages, received_at=RECEIVED_AT):
    for message in messages:
        store.store([normalise(message, received_at)])


def count(path, sql):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchone()[0]


def derived_through(path):
    return count(path, "SELECT derived_through FROM derivation")


def test_a_stored_message_waits_for_derivation_then_has_its_rows(store, settings):
    batch = example_messages("batch.json")
    stored(store, *batch)
    path = settings.database_path
    assert count(path, "SELECT count(*) FROM messages") == len(batch)
    assert count(path, "SELECT count(*) FROM status_changes") == 0

    assert Deriver(store).catch_up() == len(batch)

    assert derived_through(path) == count(path, "SELECT max(id) FROM messages")
    assert count(path, "SELECT count(*) FROM status_changes") > 0
    assert Deriver(store).catch_up() == 0  # nothing is derived twice


def test_derived_rows_match_the_message(store, settings):
    stored(store, status("09:10", {PEOPLE: 3, "Custom.Text": "on"}, removed=["Gone"]))
    Deriver(store).catch_up()

    with sqlite3.connect(settings.database_path) as connection:
        rows = connection.execute(
            "SELECT at, key, value, number, removed FROM status_changes ORDER BY key"
        ).fetchall()
    assert rows == [
        ("2026-11-30T09:10:00.000Z", "Custom.Text", '"on"', None, 0),
        ("2026-11-30T09:10:00.000Z", "Gone", None, None, 1),
        ("2026-11-30T09:10:00.000Z", PEOPLE, "3", 3.0, 0),
    ]


def test_a_failed_batch_derives_nothing_and_is_derived_later(store, settings):
    path = settings.database_path
    stored(store, status("09:10", {PEOPLE: 3}), status("09:20", {"Refused": 1}))
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON status_changes "
            "WHEN NEW.key = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )

    with pytest.raises(StorageUnavailable):
        Deriver(store).catch_up()
    assert count(path, "SELECT count(*) FROM status_changes") == 0
    assert derived_through(path) == 0

    with sqlite3.connect(path) as connection:
        connection.execute("DROP TRIGGER refuse")
    assert Deriver(store).catch_up() == 2
    assert count(path, "SELECT count(*) FROM status_changes") == 2


def test_a_stored_body_that_no_longer_parses_is_passed_over(store, settings, caplog):
    path = settings.database_path
    stored(store, status("09:10", {PEOPLE: 3}))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE messages SET body = '{\"type\": 7}'")
    stored(store, status("09:20", {PEOPLE: 4}))

    assert Deriver(store).catch_up() == 2

    assert count(path, "SELECT count(*) FROM status_changes") == 1
    assert "has no derived rows" in caplog.text


def test_an_archive_from_before_derivation_is_not_derived_again(store, settings):
    path = settings.database_path
    stored(store, *example_messages("batch.json"))
    Deriver(store).catch_up()
    changes = count(path, "SELECT count(*) FROM status_changes")
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE derivation")

    archive.connect(path).close()

    assert derived_through(path) == count(path, "SELECT max(id) FROM messages")
    assert Deriver(store).catch_up() == 0
    assert count(path, "SELECT count(*) FROM status_changes") == changes


def wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.02)


def test_the_background_deriver_follows_what_is_stored(store, settings):
    deriver = Deriver(store).start()
    try:
        for minute in range(10, 20):
            stored(store, status(f"09:{minute}", {PEOPLE: minute}))
            deriver.notify()
        wait_until(lambda: derived_through(settings.database_path) == 10)
    finally:
        deriver.stop()
    assert count(settings.database_path, "SELECT count(*) FROM status_changes") == 10


def burst(store, seconds):
    """Store a building's traffic back to back, far above the burst rate."""
    done = threading.Event()
    building = simulator.Building(rooms=20, seed=11)

    def write():
        at = datetime(2026, 11, 30, 8, tzinfo=UTC)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            at += timedelta(minutes=1)
            for message in building.messages(at):
                store.store([normalise(message, now_timestamp())])
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done


def test_a_burst_is_derived_once_it_passes(store, settings):
    deriver = Deriver(store).start()
    try:
        done = burst(store, seconds=1.5)
        time.sleep(0.75)
        during = derived_through(settings.database_path)
        done.wait(30)
        deriver.notify()
        newest = count(settings.database_path, "SELECT max(id) FROM messages")
        wait_until(lambda: derived_through(settings.database_path) == newest)
    finally:
        deriver.stop()
    assert during == 0


def test_a_long_burst_is_derived_while_it_lasts(store, settings):
    deriver = Deriver(store, max_lag=0.2).start()
    try:
        done = burst(store, seconds=3)
        time.sleep(2)
        during = derived_through(settings.database_path)
        done.wait(30)
    finally:
        deriver.stop()
    assert during > 0

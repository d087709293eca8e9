"""Retention prunes old messages in small batches while ingest keeps going."""

import contextlib
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from conftest import CREDENTIALS, settings_from
from server import ROOT, WebProcess, process_environment
from traffic import Traffic

import retention
from archive import SCHEMA, Archive
from derive import Deriver
from messages import format_timestamp, normalise
from simulator import Building

OLD_DAYS = 100


def archive_old_messages(database, count: int, days_ago: int = OLD_DAYS) -> None:
    """Store `count` simulated messages as if received `days_ago` days ago."""
    archive = Archive(database)
    building = Building(rooms=6, seed=99)
    at = datetime.now(UTC) - timedelta(days=days_ago)
    stored = 0
    while stored < count:
        received = format_timestamp(at)
        batch = [normalise(m, received) for m in building.messages(at)]
        batch = batch[: count - stored]
        stored += archive.store(batch)[0]
        at += timedelta(seconds=30)
    archive.reject((format_timestamp(at), "body is not JSON", None, None, "x"))
    Deriver(archive).catch_up()
    archive.close()


def query(database, sql):
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql).fetchall()


def leftovers(database, cutoff: str) -> dict:
    """Old rows and rows whose message is gone; all zero after a prune."""
    return {
        "old messages": query(
            database, f"SELECT count(*) FROM messages WHERE received_at < '{cutoff}'"
        )[0][0],
        "orphan status changes": query(
            database,
            "SELECT count(*) FROM status_changes "
            "WHERE message_id NOT IN (SELECT id FROM messages)",
        )[0][0],
        "orphan events": query(
            database,
            "SELECT count(*) FROM events "
            "WHERE message_id NOT IN (SELECT id FROM messages)",
        )[0][0],
        "old rejected": query(
            database, f"SELECT count(*) FROM rejected WHERE received_at < '{cutoff}'"
        )[0][0],
    }


def test_prune_with_ingest_running_loses_nothing_new_and_shrinks_the_file(tmp_path):
    database = tmp_path / "archive.db"
    archive_old_messages(database, 3000)
    pages_before = query(database, "PRAGMA page_count")[0][0]
    web = WebProcess({**CREDENTIALS, "DATABASE_PATH": str(database)}, tmp_path / "log")
    try:
        with Traffic(f"{web.url}/webhook", CREDENTIALS["WEBHOOK_TOKEN"], 3) as traffic:
            traffic.wait_for(50)
            pruned = subprocess.run(
                [sys.executable, "cli.py", "prune", "--days", "30", "--batch", "100"],
                cwd=ROOT,
                env=process_environment({"DATABASE_PATH": str(database)}),
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            traffic.wait_for(len(traffic.acknowledged) + 50)
    finally:
        web.close()

    assert "messages=3000 " in pruned.stdout and "rejected=1 " in pruned.stdout
    assert set(leftovers(database, retention.cutoff(30)).values()) == {0}
    assert set(traffic.statuses) == {200}
    stored = {r[0] for r in query(database, "SELECT body_sha256 FROM messages")}
    assert stored == traffic.acknowledged_hashes()
    freed = int(pruned.stdout.split("pages_freed=")[1])
    assert freed > pages_before / 2
    assert query(database, "PRAGMA freelist_count")[0][0] == 0


def test_the_web_process_prunes_on_schedule(tmp_path):
    database = tmp_path / "archive.db"
    archive_old_messages(database, 200)
    archive_old_messages(database, 20, days_ago=1)
    environment = {
        **CREDENTIALS,
        "DATABASE_PATH": str(database),
        "RETENTION_DAYS": "30",
        "RETENTION_CHECK_SECONDS": "1",
    }
    log = tmp_path / "web.log"
    web = WebProcess(environment, log)
    try:
        deadline = time.monotonic() + 60
        while "pruned messages=200 " not in log.read_text():
            assert time.monotonic() < deadline, "old messages were never pruned"
            time.sleep(0.2)
    finally:
        web.close()

    assert set(leftovers(database, retention.cutoff(30)).values()) == {0}
    assert query(database, "SELECT count(*) FROM messages") == [(20,)]


def test_without_retention_days_nothing_is_scheduled():
    assert retention.schedule(settings_from()) is None


def test_an_archive_without_incremental_vacuum_shrinks_after_compact(tmp_path):
    database = tmp_path / "archive.db"
    sqlite3.connect(database).executescript(SCHEMA.read_text()).close()
    archive_old_messages(database, 1000)

    first = retention.prune(database, days=30, pause=0)
    retention.compact(database)
    archive_old_messages(database, 1000)
    pages_full = query(database, "PRAGMA page_count")[0][0]
    second = retention.prune(database, days=30, pause=0)

    assert first.messages == 1000 and first.pages_freed == 0
    assert query(database, "PRAGMA auto_vacuum") == [(retention.INCREMENTAL,)]
    assert second.messages == 1000 and second.pages_freed > 0
    assert query(database, "PRAGMA page_count")[0][0] < pages_full


def test_prune_keeps_what_is_younger_than_the_cutoff(tmp_path):
    database = tmp_path / "archive.db"
    archive_old_messages(database, 100, days_ago=40)
    archive_old_messages(database, 100, days_ago=20)

    pruned = retention.prune(database, days=30, batch=7, pause=0)

    assert pruned.messages == 100
    assert query(database, "SELECT count(*) FROM messages") == [(100,)]
    assert set(leftovers(database, retention.cutoff(30)).values()) == {0}

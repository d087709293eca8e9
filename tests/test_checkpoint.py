"""The background checkpointer copies committed messages into the database file."""

import sqlite3
import time

from conftest import example_messages

from archive import Archive
from checkpoint import Checkpointer
from messages import normalise


def in_database_file(path) -> int:
    """Messages in the main file alone: immutable=1 reads no WAL."""
    uri = f"file:{path}?immutable=1"
    with sqlite3.connect(uri, uri=True) as connection:
        return connection.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_committed_messages_reach_the_database_file_without_a_request(settings):
    archive = Archive(settings.database_path)
    archive.open()
    with sqlite3.connect(settings.database_path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema, on file
    message = example_messages("status-people-count.json")[0]
    archive.store([normalise(message, "2026-11-30T09:15:00.000Z")])
    # The writer's own threshold is far away, so the row waits in the WAL.
    assert in_database_file(settings.database_path) == 0

    checkpointer = Checkpointer(settings.database_path, interval=0.01).start()
    deadline = time.monotonic() + 10
    while in_database_file(settings.database_path) == 0:
        assert time.monotonic() < deadline, "no checkpoint happened"
        time.sleep(0.01)
    checkpointer.stop()
    archive.close()

    assert checkpointer.checkpoints >= 1

"""Group commit on a real archive file: shared transactions, separate answers.

Another connection holds the write lock, so the first request becomes the
writer and waits inside SQLite while the next requests queue; releasing the
lock lets them commit together in the following transaction.
"""

import sqlite3
import threading
import time

import pytest
from conftest import example_messages

from archive import Archive, StorageUnavailable
from group_commit import GroupCommit
from messages import normalise

RECEIVED_AT = "2026-11-30T09:15:00.000Z"


def archived(message: dict, **changes) -> list:
    return [normalise({**message, **changes}, RECEIVED_AT)]


@pytest.fixture
def writer(settings):
    archive = Archive(settings.database_path)
    archive.open()
    yield GroupCommit(archive)
    archive.close()


@pytest.fixture
def people():
    return example_messages("status-people-count.json")[0]


class Held:
    """Another process's write transaction on the archive, released on demand."""

    def __init__(self, path):
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.execute("BEGIN IMMEDIATE")

    def release(self):
        self.connection.execute("COMMIT")
        self.connection.close()


def in_threads(writer, requests):
    """Call writer.store for each request in its own thread; results by position."""
    outcomes = [None] * len(requests)

    def call(position, messages):
        try:
            outcomes[position] = writer.store(messages)
        except StorageUnavailable as error:
            outcomes[position] = error

    threads = [
        threading.Thread(target=call, args=(position, messages))
        for position, messages in enumerate(requests)
    ]
    return threads, outcomes


def queue_behind_first(writer, settings, first, others):
    """Run first as a writer stuck on a held lock, queue the others, then release."""
    held = Held(settings.database_path)
    threads, outcomes = in_threads(writer, [first, *others])
    threads[0].start()
    wait_until(lambda: writer.writing)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: writer.queued == len(others))
    held.release()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def wait_until(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the writer never reached that state"
        time.sleep(0.005)


def test_queued_requests_commit_together_and_each_gets_its_own_counts(
    writer, settings, people, rows
):
    first = archived(people, timestamp="2026-11-30T09:00:00Z")
    second = archived(people, timestamp="2026-11-30T09:01:00Z")
    batch = archived(people, timestamp="2026-11-30T09:02:00Z") + second

    outcomes = queue_behind_first(writer, settings, first, [second, batch])

    # The batch repeats `second`, queued in the same transaction: a duplicate.
    assert outcomes == [(1, 0), (1, 0), (1, 1)]
    stored = rows("SELECT sent_at FROM messages ORDER BY sent_at")
    assert [r["sent_at"][11:16] for r in stored] == ["09:00", "09:01", "09:02"]
    assert len(rows("SELECT id FROM status_changes")) == 3 * 2


def test_a_failing_transaction_fails_every_request_in_it_and_stores_none(
    writer, settings, people, rows
):
    with sqlite3.connect(settings.database_path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages "
            "WHEN NEW.body LIKE '%Refused%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    first = archived(people, timestamp="2026-11-30T09:00:00Z")
    fine = archived(people, timestamp="2026-11-30T09:01:00Z")
    refused = archived(
        people,
        timestamp="2026-11-30T09:02:00Z",
        changes={"updated": {"Refused": 1}, "removed": []},
    )

    outcomes = queue_behind_first(writer, settings, first, [fine, refused])

    assert outcomes[0] == (1, 0)
    assert all(isinstance(o, StorageUnavailable) for o in outcomes[1:])
    assert [r["sent_at"][11:16] for r in rows("SELECT sent_at FROM messages")] == [
        "09:00"
    ]
    assert writer.store(fine) == (1, 0)


def test_a_lone_request_is_written_at_once(writer, people, rows):
    assert writer.store(archived(people)) == (1, 0)
    assert writer.store(archived(people)) == (0, 1)
    assert len(rows("SELECT id FROM messages")) == 1

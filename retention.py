"""Retention: delete messages older than RETENTION_DAYS, a little at a time.

`prune` removes old messages with their status changes and events, and old
rejected requests, in batches of a few hundred messages per transaction, so
the webhook waits milliseconds, not minutes, for the write lock. Age is
`received_at`, when this service got the message. Freed pages are then
handed back to the disk with `PRAGMA incremental_vacuum`, also in steps.
That needs auto_vacuum=INCREMENTAL, which the archive sets when it creates
a new file; an older file keeps its size (SQLite reuses the free pages)
until `compact` rewrites it once.

`schedule` runs `prune` in a daemon thread of every web worker. A lock file
beside the archive lets one worker prune while the others skip that round.
"""

import contextlib
import fcntl
import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from archive import writer_turn
from config import Settings
from messages import format_timestamp

log = logging.getLogger("retention")
BATCH_MESSAGES = 500
VACUUM_STEP_PAGES = 2000
PAUSE_SECONDS = 0.02  # between batches, so waiting webhook writes go first
LOCK_TIMEOUT_MS = 30_000
INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


class Pruned(NamedTuple):
    messages: int = 0
    status_changes: int = 0
    events: int = 0
    rejected: int = 0
    pages_freed: int = 0

    def summary(self) -> str:
        return " ".join(f"{name}={n}" for name, n in self._asdict().items())


def cutoff(days: int, now: datetime | None = None) -> str:
    """The received_at before which rows are older than `days` days."""
    return format_timestamp((now or datetime.now(UTC)) - timedelta(days=days))


def prune(
    database: Path,
    days: int,
    batch: int = BATCH_MESSAGES,
    now: datetime | None = None,
    pause: float = PAUSE_SECONDS,
) -> Pruned:
    """Delete rows received more than `days` days ago; reclaim the space."""
    before = cutoff(days, now)
    with contextlib.closing(_connect(database)) as connection:
        counts = [0, 0, 0]
        while batch_counts := _in_turn(
            database, _prune_messages, connection, before, batch
        ):
            counts = [total + n for total, n in zip(counts, batch_counts, strict=True)]
            time.sleep(pause)
        rejected = 0
        while removed := _in_turn(database, _prune_rejected, connection, before, batch):
            rejected += removed
            time.sleep(pause)
        pages = reclaim(connection, pause)
    return Pruned(*counts, rejected, pages)


def reclaim(connection: sqlite3.Connection, pause: float = PAUSE_SECONDS) -> int:
    """Give free pages back to the file system, a step at a time; return how many."""
    if connection.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
        return 0
    freed = 0
    free = _free_pages(connection)
    while free:
        # Each step is its own short write transaction. executescript runs the
        # pragma to completion; execute() would free a single page per call.
        connection.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})")
        remaining = _free_pages(connection)
        if remaining >= free:
            break  # new rows took pages as fast as they were freed
        freed += free - remaining
        free = remaining
        time.sleep(pause)
    return freed


def _free_pages(connection: sqlite3.Connection) -> int:
    return connection.execute("PRAGMA freelist_count").fetchone()[0]


def compact(database: Path) -> None:
    """Rewrite the whole file once with auto_vacuum=INCREMENTAL (blocks writes)."""
    with contextlib.closing(_connect(database)) as connection:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("VACUUM")


def schedule(settings: Settings) -> threading.Thread | None:
    """Start pruning every RETENTION_CHECK_SECONDS when RETENTION_DAYS is set."""
    if not settings.retention_days:
        return None
    thread = threading.Thread(
        target=_prune_forever, args=(settings,), name="retention", daemon=True
    )
    thread.start()
    return thread


def _prune_forever(settings: Settings) -> None:
    lock_path = settings.database_path.with_name(
        settings.database_path.name + ".prune-lock"
    )
    while True:
        time.sleep(settings.retention_check_seconds)
        try:
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                pruned = prune(settings.database_path, settings.retention_days)
        except BlockingIOError:
            continue  # another worker is pruning this round
        except (sqlite3.Error, OSError) as error:
            log.warning("prune failed: %s", error)
            continue
        if any(pruned):
            log.info("pruned %s", pruned.summary())


def _in_turn(database: Path, prune_batch, *arguments):
    """One batch, queued behind the webhook's writers rather than racing them."""
    with writer_turn(database):
        return prune_batch(*arguments)


def _prune_messages(connection, before: str, batch: int) -> tuple[int, int, int]:
    """One transaction: the oldest `batch` messages and their rows; () when none."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM messages WHERE received_at < ? "
                "ORDER BY received_at LIMIT ?",
                (before, batch),
            )
        ]
        if not ids:
            connection.execute("COMMIT")
            return ()
        marks = ",".join("?" * len(ids))
        changes = connection.execute(
            f"DELETE FROM status_changes WHERE message_id IN ({marks})", ids
        ).rowcount
        events = connection.execute(
            f"DELETE FROM events WHERE message_id IN ({marks})", ids
        ).rowcount
        connection.execute(f"DELETE FROM messages WHERE id IN ({marks})", ids)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return len(ids), changes, events


def _prune_rejected(connection, before: str, batch: int) -> int:
    return connection.execute(
        "DELETE FROM rejected WHERE id IN "
        "(SELECT id FROM rejected WHERE received_at < ? LIMIT ?)",
        (before, batch),
    ).rowcount


def _connect(database: Path) -> sqlite3.Connection:
    if not database.exists():
        raise FileNotFoundError(f"{database} does not exist")
    connection = sqlite3.connect(
        database, isolation_level=None, timeout=LOCK_TIMEOUT_MS / 1000
    )
    connection.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_MS}")
    return connection

"""Build a large archive quickly, for the query, export and size benchmarks.

Messages come from the simulator, spread evenly over a year, and go through
the service's own `messages.normalise` and the INSERT statements of
`archive.py`, straight into the file rather than over HTTP. Speed comes from
one transaction per chunk, no journal and no fsync while filling, and building
the schema's indexes once at the end instead of row by row. The rollup
triggers are dropped while filling and the derived tables are built in bulk
afterwards by `rollups.install`, as on an upgraded service's first start; the
finished file is in WAL mode, exactly as the service leaves it.

    python -m bench.big_archive bench/data/archive-10m.db --status-changes 10000000
"""

import argparse
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

import archive
import rollups
import simulator
from messages import format_timestamp, normalise

ARCHIVE_TABLES = ("messages", "status_changes", "events")
CHUNK_MESSAGES = 20_000
YEAR = timedelta(days=365)
CHANGES_PER_ROOM_TICK = 2.0  # what the simulator averages, to spread a year


def simulated_messages(rooms: int, status_changes: int, seed: int = 1):
    """Yield (message, received_at) spread over the year before now."""
    building = simulator.Building(rooms=rooms, seed=seed)
    ticks = max(1, int(status_changes / (rooms * CHANGES_PER_ROOM_TICK)))
    step = YEAR / ticks
    # Ending now, as a live archive does: devices' latest counts are recent.
    at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - YEAR
    while True:
        received_at = format_timestamp(at + timedelta(milliseconds=180))
        for message in building.messages(at):
            yield message, received_at
        at += step


def drop_triggers(connection) -> None:
    """Drop the rollup triggers on the archive tables; rollups.sql recreates them."""
    for name in _names(connection, "trigger"):
        connection.execute(f'DROP TRIGGER "{name}"')


def _names(connection, kind: str) -> list[str]:
    marks = ",".join("?" * len(ARCHIVE_TABLES))
    found = connection.execute(
        f"SELECT name FROM sqlite_master WHERE type = ? AND tbl_name IN ({marks})",
        (kind, *ARCHIVE_TABLES),
    )
    return [name for (name,) in found]


def insert_chunk(connection, chunk) -> int:
    """Insert normalised messages in one transaction; return status changes added."""
    changes, events = [], []
    cursor = connection.cursor()
    cursor.execute("BEGIN")
    for archived in chunk:
        cursor.execute(archive.INSERT_MESSAGE, archived.message)
        if cursor.rowcount == 0:
            continue
        message_id = cursor.lastrowid
        changes += [(message_id, *row) for row in archived.status_changes]
        events += [(message_id, *row) for row in archived.events]
    cursor.executemany(archive.INSERT_STATUS_CHANGE, changes)
    cursor.executemany(archive.INSERT_EVENT, events)
    cursor.execute("COMMIT")
    return len(changes)


def build(path: Path, status_changes: int, rooms: int = 300, echo=print) -> dict:
    """Fill a new archive at path; return counts, raw JSON bytes and timings."""
    facts = fill(path, status_changes, rooms, echo)
    facts |= build_rollups(path)
    facts["bytes_on_disk"] = bytes_on_disk(path)
    return facts


def fill(path: Path, status_changes: int, rooms: int = 300, echo=print) -> dict:
    """A new archive of simulated messages, without derived rows; return facts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, *companions(path)):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    connection = archive.connect(path, "OFF")
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA cache_size = -262144")
    indexes = rollups.drop_indexes(connection, ARCHIVE_TABLES)
    drop_triggers(connection)

    stored = raw_bytes = messages = 0
    chunk = []
    for message, received_at in simulated_messages(rooms, status_changes):
        raw_bytes += len(orjson.dumps(message))
        messages += 1
        chunk.append(normalise(message, received_at))
        if len(chunk) == CHUNK_MESSAGES:
            stored += insert_chunk(connection, chunk)
            chunk = []
            if stored >= status_changes:
                break
            if messages % (CHUNK_MESSAGES * 25) == 0:
                echo(f"  {stored:,} status changes")
    if chunk:
        stored += insert_chunk(connection, chunk)
    filled = time.perf_counter()

    # Its rows were written here, as the deriver would have: nothing is left to derive.
    connection.execute(archive.MARK_DERIVED, (messages_stored(connection),))
    for sql in indexes:
        connection.execute(sql)
    connection.execute("ANALYZE")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return {
        "messages": messages,
        "status_changes": stored,
        "raw_json_bytes": raw_bytes,
        "fill_seconds": filled - started,
        "index_seconds": time.perf_counter() - filled,
    }


def messages_stored(connection) -> int:
    return connection.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]


def build_rollups(path: Path) -> dict:
    """Build the derived tables in bulk and put the triggers back; time it."""
    started = time.perf_counter()
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("DELETE FROM rollup_versions")
    connection.close()
    # Opening the archive as the service does sees stale rollups and rebuilds.
    connection = archive.connect(path)
    connection.execute("ANALYZE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return {"rollup_seconds": time.perf_counter() - started}


def bytes_on_disk(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, *companions(path)) if p.exists())


def companions(path: Path) -> list[Path]:
    """The WAL and shared-memory files SQLite keeps beside a database."""
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--status-changes", type=int, default=10_000_000)
    parser.add_argument("--rooms", type=int, default=300)
    arguments = parser.parse_args()
    result = build(arguments.path, arguments.status_changes, arguments.rooms)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()

"""The SQLite archive as the webhook writes it.

One `Archive` per worker process holds one connection with prepared INSERTs.
A request's messages are written in one transaction, and `store` returns only
after COMMIT, so an answer of 200 always means the rows are in the database
file. Any SQLite failure surfaces as `StorageUnavailable`, which the webhook
answers with 503 so that Control Hub retries; the next call reconnects.
The webhook stores `messages` rows only; derive.py fills status_changes and
events from them shortly afterwards, through `derive`.

SQLite keeps writing through its open file descriptor even when the file has
been deleted, replaced or made read-only underneath it, so every write also
checks that the path still names the open file and is writable.

Writers in different workers queue on an flock beside the file before they
BEGIN: SQLite's own busy handler would make the loser sleep and poll (1, 2,
5, 10 ms...), which at hundreds of commits a second left workers idle and
stretched the slowest answers to a quarter of a second. Every writer of
the service queues there (`writer_turn`), or one that polls would starve
behind those that queue. The flock only orders writers; SQLite's locking
still guards the file should two ever hold different lock files (a
directory replaced underneath a worker).
"""

import contextlib
import fcntl
import os
import sqlite3
import threading
from pathlib import Path

import rollups
from messages import ArchivedMessage

SCHEMA = Path(__file__).with_name("schema.sql")
BUSY_TIMEOUT_MS = 5000
PROBE_BYTES = 4096  # one page: a full disk cannot take even this much
# checkpoint.py keeps the WAL short; a COMMIT checkpoints only past this backstop.
WAL_AUTOCHECKPOINT_PAGES = 10_000

INSERT_MESSAGE = """
INSERT INTO messages (received_at, type, org_id, workspace_id, device_id, app_id,
                      sent_at, is_full_sync, body, body_sha256)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (body_sha256) DO NOTHING
"""
INSERT_STATUS_CHANGE = """
INSERT INTO status_changes (message_id, at, org_id, workspace_id, device_id,
                            key, value, number, removed)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
INSERT_EVENT = """
INSERT INTO events (message_id, at, org_id, workspace_id, device_id, key, value)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
# The messages not yet derived, oldest first, and how far derivation has come.
PENDING_MESSAGES = """
SELECT id, received_at, body FROM messages
WHERE id > (SELECT derived_through FROM derivation)
ORDER BY id LIMIT ?
"""
DERIVATION_STATE = """
SELECT (SELECT max(id) FROM messages),
       derived_through,
       (SELECT received_at FROM messages WHERE id > derived_through ORDER BY id LIMIT 1)
FROM derivation
"""
MARK_DERIVED = "UPDATE derivation SET derived_through = ?"
INSERT_REJECTED = """
INSERT INTO rejected (received_at, reason, content_type, remote_addr, body)
VALUES (?, ?, ?, ?, ?)
"""


class StorageUnavailable(Exception):
    """The archive could not commit; nothing from the request was stored."""

    def __init__(self, reason: str, busy: bool = False):
        super().__init__(reason)
        self.busy = busy


def writer_lock_path(path: Path) -> str:
    return f"{path}.writer-lock"


@contextlib.contextmanager
def turn(lock_path: str):
    """Hold an exclusive flock on lock_path, queueing in the kernel for it."""
    with open(lock_path, "ab") as queue:
        fcntl.flock(queue, fcntl.LOCK_EX)
        yield


def writer_turn(path: Path):
    """Hold the writers' flock for the archive at path."""
    return turn(writer_lock_path(path))


def connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open the archive read-write in WAL mode and make sure the schema exists.

    The directory must exist already: creating it here could hide a volume
    that failed to mount behind an empty database on an ephemeral disk.
    """
    if not path.parent.is_dir():
        raise sqlite3.OperationalError(f"directory {path.parent} does not exist")
    connection = sqlite3.connect(
        path,
        isolation_level=None,
        check_same_thread=False,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Takes effect only in a new file, before its first table; it lets retention
    # hand freed pages back to the disk (see retention.py).
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute(f"PRAGMA synchronous = {synchronous}")
    connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    # One transaction, so workers starting together never see each other's
    # half-applied schema (a view one of them has just dropped and recreated).
    with writer_turn(path):
        connection.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA.read_text()}\nCOMMIT;")
        rollups.install(connection, BUSY_TIMEOUT_MS)
    return connection


class Archive:
    """The write side of the archive, shared by the threads of one worker."""

    def __init__(self, path: Path, synchronous: str = "NORMAL"):
        self.path = Path(path)
        self.synchronous = synchronous
        self._connection = None
        self._identity = None  # (st_dev, st_ino) of the file the connection opened
        self._lock = threading.Lock()
        self._writer_queue = None  # the lock file writers queue on, see above

    def open(self) -> None:
        """Connect now, creating the schema; raise StorageUnavailable if it fails."""
        with self._lock:
            self._open()

    def store(self, messages: list[ArchivedMessage]) -> tuple[int, int]:
        """Commit the messages; return (stored, duplicates). Atomic per call."""
        with self._lock:
            return self._write(self._insert_messages, messages)

    def store_each(
        self, requests: list[list[ArchivedMessage]]
    ) -> list[tuple[int, int]]:
        """Commit several requests' messages in one transaction; a result for each."""

        def insert_each(cursor, requests):
            return [self._insert_messages(cursor, messages) for messages in requests]

        with self._lock:
            return self._write(insert_each, requests)

    def derive(self, work, limit: int):
        """Run work(cursor, limit) in one write transaction and return its result."""
        with self._lock:
            return self._write(work, limit)

    def derivation_state(self) -> tuple[int, int, str | None]:
        """(newest message id, newest derived id, oldest waiting one's received_at)."""
        with self._lock:
            connection = self._open()
            try:
                newest, derived, waiting_since = connection.execute(
                    DERIVATION_STATE
                ).fetchone()
            except sqlite3.Error as error:
                self._discard()
                raise StorageUnavailable(_describe(error)) from error
        return newest or 0, derived, waiting_since

    def reject(self, row: tuple) -> None:
        """Commit one `rejected` row: received_at, reason, type, address, body."""
        with self._lock:
            self._write(lambda cursor, row: cursor.execute(INSERT_REJECTED, row), row)

    def health(self) -> dict:
        """Check that the archive can take a write now; report the newest message."""
        with self._lock:
            connection = self._open()
            try:
                self._check_file()
                _probe_free_space(self.path.parent)
                with self._turn_to_write():
                    connection.execute("BEGIN IMMEDIATE")
                    connection.execute("ROLLBACK")
                newest = connection.execute(
                    "SELECT received_at FROM messages ORDER BY id DESC LIMIT 1"
                ).fetchone()
            except sqlite3.Error as error:
                self._discard()
                raise StorageUnavailable(_describe(error)) from error
            except StorageUnavailable:
                self._discard()
                raise
        return {"newest_message_received_at": newest[0] if newest else None}

    def close(self) -> None:
        with self._lock:
            self._discard()

    def _write(self, work, argument):
        connection = self._open()
        cursor = connection.cursor()
        try:
            self._check_file()
            with self._turn_to_write():
                cursor.execute("BEGIN IMMEDIATE")
                result = work(cursor, argument)
                cursor.execute("COMMIT")
            # Checked again after COMMIT: a file unlinked meanwhile took the rows
            # with it, and only an error makes Control Hub send them again.
            self._check_file()
            return result
        except sqlite3.Error as error:
            self._rollback(connection)
            raise StorageUnavailable(_describe(error), busy=_is_busy(error)) from error
        except StorageUnavailable:
            self._rollback(connection)
            raise

    @contextlib.contextmanager
    def _turn_to_write(self):
        """Hold the writers' flock, waiting in the kernel's queue for it."""
        if self._writer_queue is None:
            try:
                self._writer_queue = open(writer_lock_path(self.path), "ab")  # noqa: SIM115
            except OSError as error:
                raise StorageUnavailable(f"{self.path}: {error.strerror}") from error
        fcntl.flock(self._writer_queue, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._writer_queue, fcntl.LOCK_UN)

    def _check_file(self):
        """Raise StorageUnavailable unless the path is the open, writable file."""
        if _identity(self.path) != self._identity:
            raise StorageUnavailable(f"{self.path} was replaced or removed")
        # access() also sees read-only mounts and immutable files for root.
        if not os.access(self.path, os.W_OK):
            raise StorageUnavailable(f"{self.path} is not writable")

    @staticmethod
    def _insert_messages(cursor, messages):
        stored = 0
        for message in messages:
            cursor.execute(INSERT_MESSAGE, message.message)
            stored += cursor.rowcount
        return stored, len(messages) - stored

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None and not self._holds_current_file():
            # Replaced or recreated since: this connection holds the old file.
            self._discard()
        if self._connection is None:
            try:
                self._connection = connect(self.path, self.synchronous)
            except sqlite3.Error as error:
                raise StorageUnavailable(_describe(error)) from error
            try:
                # Taken just after opening: the file the connection holds.
                self._identity = _identity(self.path)
                # SQLite silently opens a write-protected file read-only.
                self._check_file()
            except StorageUnavailable:
                self._discard()
                raise
        return self._connection

    def _holds_current_file(self) -> bool:
        try:
            return _identity(self.path) == self._identity
        except StorageUnavailable:
            return False

    def _rollback(self, connection):
        # A failed write can leave the connection unusable (disk full, file
        # replaced); a fresh one costs little and recovers once the fault clears.
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._discard()

    def _discard(self):
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None
        if self._writer_queue is not None:
            # Reopened with the connection: the directory may have been replaced.
            self._writer_queue.close()
            self._writer_queue = None


def _identity(path: Path) -> tuple[int, int]:
    """The device and inode the path names now."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise StorageUnavailable(f"{path}: {error.strerror}") from error
    return status.st_dev, status.st_ino


def _probe_free_space(directory: Path) -> None:
    """Write and remove one page beside the archive; raise if the disk refuses."""
    probe = directory / ".healthz-probe"
    try:
        with open(probe, "wb") as file:
            file.write(bytes(PROBE_BYTES))
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise StorageUnavailable(f"{directory}: {error.strerror}") from error
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()


def _is_busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorname", "").startswith(
        ("SQLITE_BUSY", "SQLITE_LOCKED")
    )


def _describe(error: sqlite3.Error) -> str:
    return f"{getattr(error, 'sqlite_errorname', 'SQLITE_ERROR')}: {error}"

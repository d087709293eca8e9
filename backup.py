"""Online backups of the archive and the way back from one.

`backup` copies the live database with SQLite's backup API in a single step:
one read transaction, so the copy is the archive as of one instant while the
webhook keeps committing (WAL lets readers and the writer work side by side).
The copy is checked, optionally gzipped, renamed into place only when complete
and older copies beyond `keep` are deleted. `restore` checks a copy, saves the
current archive beside the backups, and writes the copy into the live file
through SQLite, so a running service sees the restored rows at once.
"""

import contextlib
import gzip
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import archive

SUFFIXES = (".db", ".db.gz")
LOCK_TIMEOUT_SECONDS = 30


class BackupError(Exception):
    """A backup or restore could not be made; the message says why."""


def default_folder(database: Path) -> Path:
    """Where backups go unless told otherwise: a folder beside the archive."""
    return database.parent / "backups"


def backup(
    database: Path,
    folder: Path,
    compress: bool = False,
    keep: int | None = None,
    now: datetime | None = None,
) -> Path:
    """Write a consistent copy of the archive into folder; return its path."""
    if not database.exists():
        raise BackupError(f"{database} does not exist")
    folder.mkdir(parents=True, exist_ok=True)
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%f")[:-3]
    final = folder / f"{database.stem}-{moment}Z{SUFFIXES[compress]}"
    partial = folder / f"{database.stem}-{moment}Z.db.partial"

    try:
        _copy_database(database, partial)
        if compress:
            partial = _gzip(partial)
        _fsync(partial)
        partial.replace(final)
    except (sqlite3.Error, OSError) as error:
        _remove(partial)
        raise BackupError(f"backup of {database} failed: {error}") from error
    if keep:
        rotate(folder, database.stem, keep)
    return final


def rotate(folder: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of one archive; return the deleted."""
    copies = sorted(backups_in(folder, stem), key=lambda p: p.name, reverse=True)
    for old in copies[keep:]:
        old.unlink()
    return copies[keep:]


def backups_in(folder: Path, stem: str) -> list[Path]:
    """The finished backups of one archive in folder, in no particular order."""
    return [
        p
        for p in folder.glob(f"{stem}-*Z.db*")
        if p.name.endswith(SUFFIXES) and p.is_file()
    ]


def restore(source: Path, database: Path, folder: Path) -> Path | None:
    """Replace the archive's contents with a backup's; return the safety copy.

    The current archive is first backed up into folder, so a restore can
    itself be undone. Messages that arrive while the restore runs wait for it.
    """
    with _readable_copy(source, database.parent) as plain:
        _check_archive(plain)
        safety = backup(database, folder) if database.exists() else None
        try:
            with (
                contextlib.closing(_open(plain)) as copy,
                contextlib.closing(_open(database)) as live,
            ):
                copy.backup(live)
            archive.connect(database).close()  # WAL mode and any newer schema
        except sqlite3.Error as error:
            raise BackupError(f"restore into {database} failed: {error}") from error
    return safety


def _copy_database(database: Path, target: Path) -> None:
    with (
        contextlib.closing(_open(database)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)  # pages=-1: all pages in one step, one snapshot
        # One self-contained file: no -wal beside it to lose when copied.
        copy.execute("PRAGMA journal_mode = DELETE")
        _require_intact(copy, target)


def _check_archive(path: Path) -> None:
    try:
        with contextlib.closing(_open(path)) as copy:
            _require_intact(copy, path)
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database: {error}") from error
    if "messages" not in tables:
        raise BackupError(f"{path} is not an archive: it has no messages table")


def _require_intact(connection: sqlite3.Connection, path: Path) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise BackupError(f"{path} failed SQLite's check: {result}")


@contextlib.contextmanager
def _readable_copy(source: Path, scratch: Path):
    """The backup as a plain database file, unpacking a .gz into scratch first."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    if not source.name.endswith(".gz"):
        yield source
        return
    handle, name = tempfile.mkstemp(suffix=".db", dir=scratch)
    unpacked = Path(name)
    try:
        try:
            with os.fdopen(handle, "wb") as out, gzip.open(source, "rb") as packed:
                shutil.copyfileobj(packed, out, length=1024 * 1024)
        except (OSError, EOFError) as error:
            raise BackupError(f"{source} could not be unpacked: {error}") from error
        yield unpacked
    finally:
        _remove(unpacked)


def _open(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS)
    connection.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_SECONDS * 1000}")
    return connection


def _gzip(path: Path) -> Path:
    packed = path.with_name(path.name.replace(".db.partial", ".db.gz.partial"))
    try:
        with open(path, "rb") as plain, gzip.open(packed, "wb") as out:
            shutil.copyfileobj(plain, out, length=1024 * 1024)
    except OSError:
        _remove(packed)
        raise
    path.unlink()
    return packed


def _fsync(path: Path) -> None:
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()

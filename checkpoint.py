"""WAL checkpoints in the background, so webhook requests do not wait for them.

In WAL mode SQLite copies committed pages from the -wal file back into the
database (a checkpoint, with an fsync) inside whichever COMMIT crosses the
auto-checkpoint threshold; that request then waits for the disk. Each worker
runs a `Checkpointer` thread with its own connection that checkpoints
PASSIVE every fraction of a second instead: it never blocks writers or
readers, and a COMMIT has nothing left to copy. The writers keep a high
auto-checkpoint threshold (archive.py) as a backstop should this thread
fall behind or stop.
"""

import logging
import sqlite3
import threading
from pathlib import Path

INTERVAL_SECONDS = 0.25
log = logging.getLogger("archive")


class Checkpointer:
    """A daemon thread that checkpoints the archive's WAL every INTERVAL_SECONDS."""

    def __init__(self, path: Path, interval: float = INTERVAL_SECONDS):
        self.path = Path(path)
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="wal-checkpoint", daemon=True
        )

    def start(self) -> "Checkpointer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection = None
        while not self._stop.wait(self.interval):
            try:
                connection = connection or sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error as error:
                # The writers' own auto-checkpoint covers for us; try afresh later.
                log.warning("background checkpoint failed: %s", error)
                if connection is not None:
                    connection.close()
                connection = None
        if connection is not None:
            connection.close()

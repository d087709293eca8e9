"""status_changes and events, derived from archived messages off the request path.

The webhook commits each message's `messages` row and answers. Turning it
into status_changes and events rows, and through rollups.sql's triggers into
the analytics tables, costs several times more than storing it, so a
`Deriver` thread in every worker does that shortly afterwards, in batches.
`derivation.derived_through` is the newest message derived; it moves in the
same transaction as the rows derived, so a crash at any moment leaves every
message derived exactly once, now or after the restart.

The deriver gives way to bursts: while messages arrive faster than
`BURST_PER_SECOND` it waits, so a burst is taken at the webhook's full speed
and derived as soon as it passes; steadier traffic is derived as it comes.
Should the oldest waiting message grow older than `max_lag` seconds, it
derives anyway, one short batch at a time between the webhook's commits.
Only one worker's deriver runs at a time; the others wait on an flock.

A transaction holds every writer back, so batches are kept to about
`BATCH_SECONDS`: one whose messages cost more (a people count that reshapes
a long stretch of hours) halves the next batch, a quick one doubles it. The
deriver has a connection of its own, and pauses between batches, so the
webhook's requests and /healthz wait for at most one batch.
"""

import logging
import threading
import time
from typing import NamedTuple

import orjson

from archive import (
    INSERT_EVENT,
    INSERT_STATUS_CHANGE,
    MARK_DERIVED,
    PENDING_MESSAGES,
    Archive,
    StorageUnavailable,
    turn,
)
from health import age_seconds
from messages import UnusableBody, normalise

BATCH_MESSAGES = 100  # the most in one transaction, about 40 ms of trigger work
BATCH_SECONDS = 0.05
PAUSE_SECONDS = 0.005  # between batches, so that queued writers go first
# Deriving as they come costs a tenth of a core at this rate; above it, wait.
BURST_PER_SECOND = 200
WINDOW_SECONDS = 0.1  # the arrival rate is measured over at least this long
MAX_LAG_SECONDS = 60.0
IDLE_SECONDS = 1.0  # checked this often even if no commit woke the deriver
RETRY_SECONDS = 1.0
log = logging.getLogger("derive")


def derive_batch(cursor, limit: int) -> int:
    """Derive up to `limit` waiting messages in the caller's transaction."""
    waiting = cursor.execute(PENDING_MESSAGES, (limit,)).fetchall()
    changes, events = [], []
    for message_id, received_at, body in waiting:
        try:
            rows = normalise(orjson.loads(body), received_at)
        except (UnusableBody, orjson.JSONDecodeError) as error:
            # Stored by a version that accepted it; the message itself stays.
            log.warning("message %d has no derived rows: %s", message_id, error)
            continue
        changes += [(message_id, *row) for row in rows.status_changes]
        events += [(message_id, *row) for row in rows.events]
    cursor.executemany(INSERT_STATUS_CHANGE, changes)
    cursor.executemany(INSERT_EVENT, events)
    if waiting:
        cursor.execute(MARK_DERIVED, (waiting[-1][0],))
    return len(waiting)


def lag_seconds(waiting_since: str | None) -> float:
    """How long the oldest waiting message has waited; 0 when none waits."""
    return max(0.0, age_seconds(waiting_since) or 0.0)


class Look(NamedTuple):
    """The archive's derivation state at one moment."""

    at: float  # time.monotonic()
    newest: int
    derived: int
    waiting_since: str | None


class Deriver:
    """Derives one archive's waiting messages in a daemon thread."""

    def __init__(
        self,
        archive: Archive,
        max_lag: float = MAX_LAG_SECONDS,
        batch: int = BATCH_MESSAGES,
    ):
        self.archive = archive
        self.max_lag = max_lag
        self.most = self.batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="derive", daemon=True)

    def start(self) -> "Deriver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def notify(self) -> None:
        """A message was committed: derive it once ingest pauses."""
        self._wake.set()

    def catch_up(self) -> int:
        """Derive everything waiting now, without giving way; return the count."""
        derived = 0
        while count := self._derive_one_batch():
            derived += count
        return derived

    def _derive_one_batch(self) -> int:
        started = time.monotonic()
        derived = self.archive.derive(derive_batch, self.batch)
        took = time.monotonic() - started
        if took > BATCH_SECONDS:
            self.batch = max(1, self.batch // 2)
        elif took < BATCH_SECONDS / 4:
            self.batch = min(self.most, self.batch * 2)
        return derived

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(IDLE_SECONDS)
            self._wake.clear()
            try:
                with self._turn():
                    self._derive_between_bursts()
            except (StorageUnavailable, OSError) as error:
                log.warning("derivation paused: %s", error)
                self._stop.wait(RETRY_SECONDS)
            except Exception:  # the thread must outlive any one failure
                log.exception("derivation failed; retrying")
                self._stop.wait(RETRY_SECONDS)

    def _derive_between_bursts(self) -> None:
        before = self._look()
        self._stop.wait(WINDOW_SECONDS)
        while not self._stop.is_set():
            now = self._look()
            if now.derived >= now.newest:
                return
            arriving = (now.newest - before.newest) / max(now.at - before.at, 1e-3)
            before = now
            if (
                arriving > BURST_PER_SECOND
                and lag_seconds(now.waiting_since) < self.max_lag
            ):
                self._stop.wait(WINDOW_SECONDS)
                continue
            self._derive_one_batch()
            self._stop.wait(PAUSE_SECONDS)

    def _look(self) -> Look:
        return Look(time.monotonic(), *self.archive.derivation_state())

    def _turn(self):
        """One deriver at a time across workers; the others wait in flock."""
        return turn(f"{self.archive.path}.deriver-lock")

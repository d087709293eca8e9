"""Simulated Control Hub traffic posted from background threads during a test.

`Traffic` is a context manager: entering starts the senders, leaving stops
them. Each sender posts one message per request with its own clock offset,
so no two bodies are alike and every acknowledged message must be stored
exactly once. `acknowledged` is what the service answered 200 to.
"""

import collections
import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta

import orjson

import simulator


def body_sha256(message: dict) -> str:
    """The archive's body_sha256 of a message, as messages.normalise computes it."""
    return hashlib.sha256(orjson.dumps(message)).hexdigest()


class Traffic:
    def __init__(self, url: str, authorization: str, senders: int = 2):
        self.url = url
        self.authorization = authorization
        self.acknowledged = []
        self.statuses = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post, args=(n,), daemon=True)
            for n in range(senders)
        ]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def wait_for(self, count: int, seconds: float = 60) -> None:
        """Block until at least count messages are acknowledged."""
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.acknowledged)} acknowledged")
            time.sleep(0.05)

    def acknowledged_hashes(self) -> set[str]:
        with self._lock:
            return {body_sha256(m) for m in self.acknowledged}

    def _post(self, number: int) -> None:
        sender = simulator.Sender(self.url, self.authorization, timeout=30)
        building = simulator.Building(rooms=3, seed=number + 1)
        at = datetime.now(UTC) - timedelta(days=1, milliseconds=number)
        while not self._stop.is_set():
            for message in building.messages(at):
                status = sender.post([message])
                with self._lock:
                    self.statuses[status] += 1
                    if status == 200:
                        self.acknowledged.append(message)
                if status != 200:
                    time.sleep(0.01)  # refused while shutting down; do not spin
                if self._stop.is_set():
                    break
            at += timedelta(seconds=60)

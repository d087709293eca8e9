"""Group commit: the requests that arrive together share one transaction.

A worker's threads each call `GroupCommit.store(messages)`. The first caller
to find the archive idle becomes the writer: it takes every request queued
so far, stores them all in one transaction and wakes their threads once the
COMMIT returned. Each caller still gets its own (stored, duplicates), and
only after the rows are committed, so a 200 keeps meaning committed. If the
transaction fails, every request in it fails with the same
`StorageUnavailable`; none of them is stored.
"""

import threading

from archive import Archive, StorageUnavailable
from messages import ArchivedMessage


class _Request:
    __slots__ = ("messages", "result", "error", "done")

    def __init__(self, messages: list[ArchivedMessage]):
        self.messages = messages
        self.result = None
        self.error = None
        self.done = False


class GroupCommit:
    """Batches one worker's concurrent `store` calls into shared transactions."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self._queue: list[_Request] = []
        self._writing = False
        self._changed = threading.Condition()

    @property
    def writing(self) -> bool:
        """True while a transaction is being written."""
        return self._writing

    @property
    def queued(self) -> int:
        """Requests waiting for the next transaction."""
        return len(self._queue)

    def store(self, messages: list[ArchivedMessage]) -> tuple[int, int]:
        """Commit the messages, maybe with others'; return (stored, duplicates)."""
        request = _Request(messages)
        with self._changed:
            self._queue.append(request)
            while self._writing and not request.done:
                self._changed.wait()
            if not request.done:
                batch, self._queue = self._queue, []
                self._writing = True
        if not request.done:
            self._write(batch)
        if isinstance(request.error, StorageUnavailable):
            # One exception object per thread, so tracebacks do not mix.
            raise StorageUnavailable(str(request.error), busy=request.error.busy)
        if request.error is not None:
            raise request.error
        return request.result

    def _write(self, batch: list[_Request]) -> None:
        try:
            results = self.archive.store_each([r.messages for r in batch])
        except Exception as error:  # every waiting thread must learn of it
            for request in batch:
                request.error = error
        else:
            for request, result in zip(batch, results, strict=True):
                request.result = result
        with self._changed:
            for request in batch:
                request.done = True
            self._writing = False
            self._changed.notify_all()

"""Reading a whole table as CSV text in a thread, page by page as Datasette does.

A `TableExport` describes one download: a table keyed by its rowid, the
WHERE clauses of Datasette's filters, the key's direction and Datasette's
page size. `Download` reads it with a read-only connection of its own in a
daemon thread and hands the event loop the CSV text in chunks of about
CHUNK_CHARS, never more than CHUNKS_AHEAD ahead of what the client has taken,
so memory stays flat however long the table.

Each page is its own short read transaction: the rows after the last key
sent, one more than the page size, exactly like the pages behind Datasette's
own streamed CSV, so a download never holds back WAL checkpoints and a
failing row ends it at the same place. Rows committed while it runs are
included when their key comes after the rows already sent (new rows, in
ascending order); no row that existed at the start is repeated or skipped.
`close()` ends the download: the thread interrupts its query, closes its
connection and stops.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from datasette.utils.sqlite import sqlite3

from csv_text import encode_rows

CHUNK_CHARS = 128 * 1024  # one ASGI message; larger chunks fall out of the CPU's cache
FIRST_CHUNK_ROWS = 1000
CHUNKS_AHEAD = 2
# A filter's integer beyond 64 bits fails when bound, before SQLite sees it.
READ_ERRORS = (sqlite3.Error, OverflowError)
log = logging.getLogger("fast_csv")


class FirstPageFailed(Exception):
    """The first page could not be read; Datasette's own view answers instead."""


@dataclass(frozen=True)
class TableExport:
    uri: str  # the read-only file: URI, as Datasette opens the database
    table: str  # escaped for SQL
    columns: list[str]  # the header row, in SELECT order
    select: str  # the escaped column list
    key: str  # escaped rowid column: "rowid" or the INTEGER PRIMARY KEY
    key_position: int
    descending: bool
    page_rows: int
    blob_url: Callable[[object, str], str]  # (key value, column) -> its URL
    where: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    header: bool = True

    def page_sql(self, first: bool) -> str:
        """One page: the next page_rows + 1 rows by key, as Datasette reads it."""
        clauses = list(self.where)
        if not first:
            clauses.append(f"{self.key} {'<' if self.descending else '>'} :after")
        where = f" where {' and '.join(clauses)}" if clauses else ""
        # NOT INDEXED keeps SQLite on the rowid order: an index on a filtered
        # column would sort all its matching rows again for every page.
        return (
            f"select {self.select} from {self.table} not indexed{where} "
            f"order by {self.key}{' desc' if self.descending else ''} limit :limit"
        )

    def pages(self, connection) -> Iterator[list]:
        """Every page's rows in order; raise one of READ_ERRORS when one fails."""
        after = None
        while True:
            params = {**self.params, "after": after, "limit": self.page_rows + 1}
            rows = _read_page(connection, self.page_sql(after is None), params)
            yield rows[: self.page_rows]
            if len(rows) <= self.page_rows:
                return
            after = rows[self.page_rows - 1][self.key_position]

    def chunks(self, connection) -> Iterator[str]:
        """The CSV text in chunks; a failing page's error text ends it."""
        pages = self.pages(connection)
        try:
            pending = next(pages)
        except READ_ERRORS as error:
            raise FirstPageFailed(str(error)) from error
        head = encode_rows([self.columns]) if self.header else ""
        rows_per_chunk = FIRST_CHUNK_ROWS
        failure = None
        try:
            for page in pages:
                pending += page
                while len(pending) >= rows_per_chunk:
                    text = head + self._encode(pending[:rows_per_chunk])
                    del pending[:rows_per_chunk]
                    head = ""
                    yield text
                    rows_per_chunk = _next_chunk_rows(rows_per_chunk, len(text))
        except READ_ERRORS as error:
            failure = str(error)
        if pending or head:
            yield head + self._encode(pending)
        if failure:
            yield failure

    def _encode(self, rows: list) -> str:
        def blob_text(row, position):
            return self.blob_url(row[self.key_position], self.columns[position])

        return encode_rows(rows, blob_text)


def _read_page(connection, sql: str, params: dict) -> list:
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError as error:
        if not str(error).startswith("Could not decode to UTF-8"):
            raise
    # Datasette reads text that is not UTF-8 with U+FFFD for the bad bytes.
    # Decoding every value that way costs a Python call each, so only a page
    # that needs it is read again so.
    connection.text_factory = _replacing_bad_bytes
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.text_factory = str


def _replacing_bad_bytes(data: bytes) -> str:
    return str(data, "utf-8", "replace")


def _next_chunk_rows(rows: int, chars: int) -> int:
    return max(1, min(rows * 4, rows * CHUNK_CHARS // max(1, chars)))


class Download:
    """One export running in its thread, read from the event loop with `next()`.

    `connection` is the thread's own, open while it reads and closed before
    the thread ends; `thread` is that thread.
    """

    FAILED = object()

    def __init__(self, export: TableExport):
        self.export = export
        self.connection = None
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Queue()
        self._room = threading.Semaphore(CHUNKS_AHEAD)
        self._closed = threading.Event()
        self._reading = False
        self._started = False  # a chunk has been handed to the event loop
        self._lock = threading.Lock()  # over opening, interrupting, closing
        self.thread = threading.Thread(target=self._run, name="csv-export", daemon=True)
        self.thread.start()

    async def next(self):
        """The next chunk of text, None at the end, or FAILED if the first page was."""
        chunk = await self._ready.get()
        self._room.release()
        return chunk

    def close(self) -> None:
        """Stop reading; the thread closes its connection and ends."""
        self._closed.set()
        self._room.release()
        with self._lock:
            if self._reading:
                self.connection.interrupt()  # a long page stops at once

    def _run(self) -> None:
        try:
            with self._lock:
                self.connection = sqlite3.connect(
                    self.export.uri, uri=True, check_same_thread=False
                )
                self._reading = True
        except sqlite3.Error:
            log.exception("could not open the archive for a CSV export")
            self._hand(self.FAILED)
            return
        try:
            self._read(self.connection)
        except Exception:  # the event loop must not wait for a chunk forever
            log.exception("CSV export failed")
            self._hand(None if self._started else self.FAILED)
        finally:
            with self._lock:
                self._reading = False
                self.connection.close()

    def _read(self, connection) -> None:
        with contextlib.closing(self.export.chunks(connection)) as chunks:
            try:
                for chunk in chunks:
                    if not self._hand(chunk):
                        return
            except FirstPageFailed as error:
                log.info("CSV export left to Datasette: %s", error)
                self._hand(self.FAILED)
                return
        self._hand(None)

    def _hand(self, item) -> bool:
        """Queue an item for the event loop; False once the download is closed."""
        self._room.acquire()
        if self._closed.is_set():
            return False
        try:
            self._loop.call_soon_threadsafe(self._ready.put_nowait, item)
        except RuntimeError:  # the event loop has shut down
            return False
        self._started = True
        return True

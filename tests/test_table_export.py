"""The reading thread of a CSV download: how far it reads ahead, and how it ends."""

import asyncio
import contextlib
import dataclasses
import sqlite3

import pytest

from table_export import CHUNKS_AHEAD, Download, TableExport

ROWS = 50_000


@pytest.fixture
def export(tmp_path):
    database = tmp_path / "readings.db"
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("CREATE TABLE readings (room TEXT, reading REAL)")
        connection.executemany(
            "INSERT INTO readings VALUES (?, ?)",
            ((f"room {n % 40}, floor {n % 3}", n / 3) for n in range(ROWS)),
        )
    return TableExport(
        uri=f"file:{database}?mode=ro",
        table="readings",
        columns=["rowid", "room", "reading"],
        select="rowid, room, reading",
        key="rowid",
        key_position=0,
        descending=False,
        page_rows=1000,
        blob_url=lambda key, column: f"/{key}/{column}",
    )


def closed(connection) -> bool:
    try:
        connection.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_whole_download_ends_with_its_connection_closed(export):
    async def download_all():
        download = Download(export)
        chunks = []
        while (chunk := await download.next()) is not None:
            chunks.append(chunk)
        return download, "".join(chunks)

    download, text = asyncio.run(download_all())
    download.thread.join(timeout=10)

    assert text.count("\r\n") == ROWS + 1
    assert text.startswith('rowid,room,reading\r\n1,"room 0, floor 0",0.0\r\n')
    assert not download.thread.is_alive() and closed(download.connection)


def test_reading_stops_a_few_chunks_ahead_of_a_client_that_waits(export):
    async def wait_after_one_chunk():
        download = Download(export)
        await download.next()
        await asyncio.sleep(1)
        queued = download._ready.qsize()
        download.close()
        return download, queued

    download, queued = asyncio.run(wait_after_one_chunk())
    download.thread.join(timeout=10)

    assert queued <= CHUNKS_AHEAD
    assert not download.thread.is_alive() and closed(download.connection)


def test_closing_mid_download_stops_the_thread_and_closes_its_connection(export):
    async def take_two_chunks():
        download = Download(export)
        await download.next()
        await download.next()
        download.close()
        return download

    download = asyncio.run(take_two_chunks())
    download.thread.join(timeout=10)

    assert not download.thread.is_alive() and closed(download.connection)


def test_a_first_page_that_fails_is_reported_not_streamed(export):
    broken = TableExport(**{**export.__dict__, "table": "no_such_table"})

    async def first():
        download = Download(broken)
        return download, await download.next()

    download, chunk = asyncio.run(first())
    download.thread.join(timeout=10)

    assert chunk is Download.FAILED
    assert not download.thread.is_alive() and closed(download.connection)


def failing_after(export, rows: int):
    """The export with a BLOB column whose link fails past the given row."""

    def blob_url(key, column):
        if key > rows:
            raise RuntimeError("no link")
        return f"/{key}/{column}"

    return dataclasses.replace(
        export,
        columns=[*export.columns, "raw"],
        select=export.select + ", x'00' as raw",
        blob_url=blob_url,
    )


def read_all(export) -> list:
    async def chunks():
        download = Download(export)
        items = [await asyncio.wait_for(download.next(), 60)]
        while items[-1] not in (None, Download.FAILED):
            items.append(await asyncio.wait_for(download.next(), 60))
        return items

    return asyncio.run(chunks())


def test_an_unexpected_error_on_the_first_page_leaves_it_to_datasette(export):
    assert read_all(failing_after(export, 0)) == [Download.FAILED]


def test_an_unexpected_error_later_ends_the_download(export):
    items = read_all(failing_after(export, ROWS // 2))

    assert items[-1] is None and len(items) > 1
    assert "".join(items[:-1]).count("\r\n") < ROWS // 2 + 1

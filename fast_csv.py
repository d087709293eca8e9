"""Datasette plugin: a table's whole CSV (`?_stream=on`) at the speed SQLite reads it.

Datasette 0.65 streams a table's CSV by running its table view once per page
and writing every row through csv.writer, about 26 µs of Python a row, and
its page query after the first scans the table from the top, so each page
costs more than the last. This plugin answers the same URL,
/<database>/<table>.csv, itself whenever it can write the very bytes
Datasette would: a table keyed by its rowid (an INTEGER PRIMARY KEY, or no
primary key), in key order either way, with any of Datasette's column
filters, `_size`, `_dl` and `_header`. Reading happens in table_export.py,
the CSV text in csv_text.py.

Everything else goes to Datasette's own table view unchanged: other sorts,
views, canned queries, `_labels`, `_col`, `_search`, `_where`, `_trace`,
`_next`, HEAD, and any request whose actor may not see the table, so the
viewer login, `allow` blocks in metadata and Datasette's refusals are exactly
as before. Unlike Datasette's pages, these have no SQL time limit: every
page continues where the last stopped, so a download reads the table once.
"""

import logging
import weakref

from datasette import hookimpl
from datasette.filters import Filters
from datasette.plugins import pm
from datasette.utils import (
    add_cors_headers,
    await_me_maybe,
    escape_sqlite,
    tilde_decode,
    tilde_encode,
)
from datasette.utils.asgi import AsgiStream
from datasette.views.table import TableView, ureg

from table_export import Download, TableExport

ROUTE = r"^/(?P<database>[^\/\.]+)/(?P<table>[^\/\.]+)\.(?P<format>csv)$"
# Query string options this plugin reproduces; any other `_` option (one
# without a `__`, which would make it a column filter) is Datasette's.
OPTIONS = frozenset(
    {"_stream", "_size", "_sort", "_sort_desc", "_dl", "_header", "_nocount",
     "_nofacet"}
)  # fmt: skip
log = logging.getLogger("fast_csv")


@hookimpl
def register_routes():
    return [(ROUTE, table_csv)]


async def table_csv(request, datasette, send):
    """The download itself when this plugin can write it, else Datasette's view."""
    export = await table_export(datasette, request)
    if export is not None:
        download = Download(export)
        try:
            first = await download.next()
        except BaseException:  # the client left while the first page was read
            download.close()
            raise
        if first is not Download.FAILED:
            log.debug("streaming %s from a connection of its own", request.path)
            return _response(datasette, request, download, first)
        download.close()
    return await TableView.as_view(datasette)(request, send)


async def table_export(datasette, request) -> TableExport | None:
    """What to read for this request, or None when Datasette should answer it."""
    if request.method != "GET" or not _plain_stream(datasette, request):
        return None
    database_route = tilde_decode(request.url_vars["database"])
    table = tilde_decode(request.url_vars["table"])
    try:
        db = datasette.get_database(route=database_route)
    except KeyError:
        return None
    if db.is_memory or not db.path:
        return None
    if await datasette.get_canned_query(db.name, table, request.actor):
        return None
    if not await db.table_exists(table):
        return None
    if not await _visible(datasette, request, db.name, table):
        return None

    key = await _rowid_key(db, table)
    columns = await db.table_columns(table)
    if key is None or (key == "rowid" and "rowid" in columns):
        return None
    metadata = datasette.table_metadata(db.name, table)
    filters = await _filters(datasette, request, db, table, columns, metadata)
    descending = await _key_descending(datasette, request, db, table, key, metadata)
    page_rows = _page_rows(datasette, request, metadata)
    if filters is None or descending is None or page_rows is None:
        return None

    headings = ["rowid", *columns] if key == "rowid" else columns
    where, params = filters
    return TableExport(
        uri=_read_only_uri(datasette, db),
        table=escape_sqlite(table),
        columns=headings,
        select=", ".join(escape_sqlite(column) for column in headings),
        key=escape_sqlite(key),
        key_position=headings.index(key),
        descending=descending,
        page_rows=page_rows,
        blob_url=_blob_url(datasette, request, database_route, table),
        where=where,
        params=params,
        header=request.args.get("_header") != "off",
    )


def _plain_stream(datasette, request) -> bool:
    """A streamed download asking for nothing but options this plugin handles."""
    options = {key for key in request.args if key.startswith("_") and "__" not in key}
    return (
        options <= OPTIONS
        and bool(request.args.get("_stream"))
        and datasette.setting("allow_csv_stream")
        and not datasette.setting("max_csv_mb")  # no size cap to write mid-stream
    )


async def _visible(datasette, request, database: str, table: str) -> bool:
    """Datasette's own check for its table view; refusals are left to the view."""
    visible, _ = await datasette.check_visibility(
        request.actor,
        permissions=[
            ("view-table", (database, table)),
            ("view-database", database),
            "view-instance",
        ],
    )
    return visible


async def _rowid_key(db, table) -> str | None:
    """The column that is the table's rowid, or None when it has no usable one."""
    schema = await db.execute(
        "select sql from sqlite_master where type = 'table' and name = ?", [table]
    )
    sql = " ".join((schema.first()[0] or "").lower().split())
    if sql.startswith("create virtual table") or "without rowid" in sql:
        return None
    details = await db.table_column_details(table)
    primary_keys = [column for column in details if column.is_pk]
    if not primary_keys:
        return "rowid"
    if len(primary_keys) == 1 and primary_keys[0].type.upper() == "INTEGER":
        return primary_keys[0].name
    return None


async def _filters(datasette, request, db, table, columns, metadata):
    """Datasette's WHERE clauses and parameters for the column filters, or None."""
    pairs = [
        (key, value)
        for key in request.args
        if not (key.startswith("_") and "__" not in key)
        for value in request.args.getlist(key)
    ]
    filters = Filters(sorted(pairs), metadata.get("units", {}), ureg)
    if any(column not in columns for column, _, _ in filters.selections()):
        return None  # Datasette answers with its SQL error
    try:
        where, params = filters.build_where_clauses(table)
    except Exception:  # a unit that does not convert: Datasette reports it
        return None
    for hook in pm.hook.filters_from_request(
        request=request, table=table, database=db.name, datasette=datasette
    ):
        extra = await await_me_maybe(hook)
        if extra and extra.where_clauses:
            return None
    return where, params


async def _key_descending(datasette, request, db, table, key, metadata):
    """True or False for an order by the key, None for any other order."""
    sort = request.args.get("_sort")
    sort_desc = request.args.get("_sort_desc")
    if not sort and not sort_desc:
        sort, sort_desc = metadata.get("sort"), metadata.get("sort_desc")
    if sort and sort_desc:
        return None
    column = sort or sort_desc
    if column is None:
        return False
    sortable = await TableView(datasette).sortable_columns_for_table(
        db.name, table, key == "rowid"
    )
    if column != key or column not in sortable:
        return None
    return bool(sort_desc)


def _page_rows(datasette, request, metadata) -> int | None:
    """Datasette's page size for this request, or None when it would refuse it."""
    size = request.args.get("_size") or metadata.get("size")
    if not size:
        return datasette.page_size
    if size == "max":
        return datasette.max_returned_rows
    text = str(size)
    if not (text.isascii() and text.isdigit()):
        return None
    rows = int(text)
    return rows if 0 < rows <= datasette.max_returned_rows else None


def _read_only_uri(datasette, db) -> str:
    """The URI Datasette itself opens the database with."""
    if not db.is_mutable:
        return f"file:{db.path}?immutable=1"
    return f"file:{db.path}?mode=ro" + ("&nolock=1" if datasette.nolock else "")


def _blob_url(datasette, request, database_route, table):
    """Where Datasette's CSV links a BLOB: the row's .blob download."""

    def url(key_value, column):
        path = datasette.urls.row_blob(
            database_route, table, tilde_encode(str(key_value)), column
        )
        return datasette.absolute_url(request, path)

    return url


def _response(datasette, request, download, first: str) -> AsgiStream:
    """Datasette's CSV headers around the download's chunks."""
    headers = {}
    if datasette.cors:
        add_cors_headers(headers)
    content_type = "text/plain; charset=utf-8"
    if request.args.get("_dl", None):
        content_type = "text/csv; charset=utf-8"
        name = request.url_vars["table"]
        headers["content-disposition"] = f'attachment; filename="{name}.csv"'

    async def stream(writer):
        try:
            chunk = first
            while chunk is not None:
                await writer.write(chunk)
                chunk = await download.next()
        finally:
            download.close()

    response = AsgiStream(stream, headers=headers, content_type=content_type)
    # Should the router drop the response unsent, the thread stops with it.
    weakref.finalize(response, download.close)
    return response

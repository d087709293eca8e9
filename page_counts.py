"""Datasette plugin: big tables and views stay quick on their unfiltered pages.

Datasette counts every row of a table or view page, `select count(*)` over
the whole relation, before it shows the first rows. On an archive of millions
of status changes that count costs far more than the page: a full scan of an
index, or of the view's whole query. A relation whose metadata.yml entry says

    plugins:
      page_counts: {unfiltered: skip}

gets Datasette's own `_nocount=1` on its unfiltered HTML and JSON pages, so
they show no total; its filtered pages, whose counts indexes keep small, are
always counted, except those filtered only by exact values of columns with
a counted facet (below), whose selected value shows the total. Next-page
links work either way.

Facets declared as `{counted: column}` in metadata.yml read a small table of
counts kept by triggers (`facet_counts: {table: ..., count: ...}` beside
`unfiltered`) on unfiltered pages and on pages filtered only by exact values
of that table's columns, instead of grouping every row; other pages facet
the matching rows as Datasette's column facets do.
"""

from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.facets import ColumnFacet
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args

PLUGIN = "page_counts"
COUNTED_FORMATS = frozenset({"", "json"})
# Query arguments that narrow the rows, besides column filters (`key=...`).
FILTERING_ARGUMENTS = frozenset({"_where", "_search"})


def counted_query(datasette, path: str, query_string: bytes) -> bytes:
    """The query string Datasette should see for this page.

    On a marked relation, an unfiltered page gets `_nocount=1` and a filtered
    one loses it: the links of an unfiltered page carry the argument on, and
    a filtered page reached by them must still show its total.
    """
    parts = path.strip("/").split("/")
    if len(parts) != 2:
        return query_string
    database, page = parts
    table, _, extension = page.partition(".")
    if extension not in COUNTED_FORMATS:
        return query_string
    if _config(datasette, database, table).get("unfiltered") != "skip":
        return query_string
    kept = [
        part
        for part in query_string.split(b"&")
        if part and part.split(b"=", 1)[0] != b"_nocount"
    ]
    query = parse_qsl(b"&".join(kept).decode("latin-1"), keep_blank_values=True)
    counted = _counted_columns(datasette, database, table)
    exact = {*counted, *(f"{column}__exact" for column in counted)}
    if not _filtered([(name, value) for name, value in query if name not in exact]):
        kept.append(b"_nocount=1")
    return b"&".join(kept)


def _counted_columns(datasette, database: str, table: str) -> set[str]:
    """Columns with a counted facet: the facet shows a page's total by them."""
    facets = (datasette.table_metadata(database, table) or {}).get("facets", [])
    return {f["counted"] for f in facets if isinstance(f, dict) and "counted" in f}


def _config(datasette, database: str, table: str | None) -> dict:
    if table is None:
        return {}
    found = datasette.plugin_config(
        PLUGIN, database=database, table=table, fallback=False
    )
    return found or {}


def _filtered(query: list[tuple[str, str]]) -> bool:
    return any(
        not name.startswith("_")
        or "__" in name
        or name in FILTERING_ARGUMENTS
        or name.startswith("_search_")
        for name, _ in query
    )


def _signed_in(scope) -> bool:
    """Whether the request carries a login; without one it is only sent to
    the login form, which should bring the viewer back to the URL as typed."""
    names = {name for name, _ in scope.get("headers", [])}
    cookies = b"".join(v for n, v in scope.get("headers", []) if n == b"cookie")
    return b"authorization" in names or b"ds_actor=" in cookies


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def uncounted(scope, receive, send):
            if scope["type"] == "http" and _signed_in(scope):
                query_string = counted_query(
                    datasette, scope["path"], scope.get("query_string", b"")
                )
                scope = {**scope, "query_string": query_string}
            await app(scope, receive, send)

        return uncounted

    return wrap


class CountedFacet(ColumnFacet):
    """A column facet read from a table of counts while the page's filters allow.

    That is on an unfiltered page, or one filtered only by exact values of the
    counts table's own columns (`?key=...`, a facet's link); any other filter
    facets the matching rows as a column facet does.
    """

    type = "counted"

    async def facet_results(self):
        counts = _config(self.ds, self.database, self.table).get("facet_counts")
        filters = await self._count_filters(counts) if counts else None
        if filters is None:
            results, timed_out = await super().facet_results()
        else:
            results, timed_out = [], []
            for source_and_config in self.get_configs():
                config = source_and_config["config"]
                column = config.get("column") or config["simple"]
                results.append(await self._counted(column, counts, filters))
        # Shown as plain column facets: how they were counted is no news to viewers.
        return [result | {"type": "column"} for result in results], timed_out

    async def _count_filters(self, counts: dict) -> list[tuple[str, str]] | None:
        """The page's filters as (column, value) of the counts table, or None."""
        table = escape_sqlite(counts["table"])
        columns = set(
            (
                await self.ds.execute(self.database, f"SELECT * FROM {table} LIMIT 0")
            ).columns
        )
        filters = []
        for name, value in self.get_querystring_pairs():
            column, _, operator = name.partition("__")
            if name.startswith("_") and not operator and not _filtered([(name, "")]):
                continue  # _size, _next, _facet and the like
            if operator not in ("", "exact") or column not in columns:
                return None
            filters.append((column, value))
        return filters

    async def _counted(self, column: str, counts: dict, filters: list) -> dict:
        size = self.get_facet_size()
        name = escape_sqlite(column)
        where = "".join(f" AND {escape_sqlite(c)} = ?" for c, _ in filters)
        rows = await self.ds.execute(
            self.database,
            f"SELECT {name} AS value, SUM({escape_sqlite(counts['count'])}) AS count"
            f" FROM {escape_sqlite(counts['table'])} WHERE {name} IS NOT NULL{where}"
            f" GROUP BY {name} ORDER BY count DESC, value LIMIT {size + 1}",
            [value for _, value in filters],
        )
        return {
            "name": column,
            "hideable": False,
            "toggle_url": self.request.path,
            "results": [self._value(column, row) for row in rows.rows[:size]],
            "truncated": len(rows) > size,
        }

    def _value(self, column: str, row) -> dict:
        """A facet value with its link: selecting it, or clearing it when selected."""
        argument = f"{column}__exact" if column.startswith("_") else column
        selected = (argument, str(row["value"])) in self.get_querystring_pairs()
        change = path_with_removed_args if selected else path_with_added_args
        path = change(self.request, {argument: str(row["value"])})
        return {
            "value": row["value"],
            "label": row["value"],
            "count": row["count"],
            "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path)),
            "selected": selected,
        }


@hookimpl
def register_facet_classes():
    return [CountedFacet]

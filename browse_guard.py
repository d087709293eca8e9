"""Datasette plugin: the archive's web side is read-only and never answers 500.

Datasette answers a POST to a table that is not a canned query with a server
error, and newer releases add write APIs; refusing every method but GET and
HEAD outside the login and logout pages keeps both out of reach. A CSV
download whose first page runs past the SQL time limit also surfaces as a
server error in Datasette 0.65; it is answered 503 with Retry-After instead,
since a second try usually finds the pages cached.

Datasette 0.65 also answers some query strings it cannot use with a server
error: a `_next` or `_timelimit` that is not a number, a filter's integer
beyond 64 bits, an `__in` or `_through` that is not JSON, an offset beyond
SQLite's integers, and the sorts it refuses (`_sort` with `_sort_desc`, an
unsortable column). Those are the viewer's mistakes, so they are answered
400 with Datasette's message.
And a CSV download carrying Datasette's `ds_messages` cookie fails, because
a streamed response cannot set the cookie again; CSV requests are served
without that cookie, so the browser keeps its messages for the next page.
A Cookie header that is not UTF-8 is answered 400 before Datasette reads it.
"""

import logging

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.handle_exception import handle_exception as datasette_error_page
from datasette.utils.asgi import Response
from datasette.utils.sqlite import sqlite3
from datasette.views.base import DatasetteError

RETRY_AFTER_SECONDS = "5"

READ_METHODS = frozenset({"GET", "HEAD"})
POSTING_PATHS = frozenset({"/-/login", "/-/logout"})
MESSAGES_COOKIE = b"ds_messages"
# What Datasette 0.65 raises while it reads a query string it cannot use.
QUERY_STRING_ERRORS = (ValueError, KeyError, OverflowError, sqlite3.IntegrityError)
log = logging.getLogger("browse_guard")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def read_only(scope, receive, send):
            if _is_write(scope):
                response = Response.text(
                    "The archive is read-only.\n",
                    status=405,
                    headers={"allow": "GET, HEAD"},
                )
                await response.asgi_send(send)
                return
            if not _cookies_are_utf8(scope):
                # Datasette's CSRF layer decodes them as UTF-8 before any view
                response = Response.text(
                    "The Cookie header is not UTF-8.\n", status=400
                )
                await response.asgi_send(send)
                return
            if _is_csv(scope):
                scope = _without_messages_cookie(scope)
            await app(scope, receive, send)

        return read_only

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    if isinstance(exception, QueryInterrupted):
        limit = datasette.setting("sql_time_limit_ms")
        return Response.text(
            f"The query ran past the {limit} ms limit. Try again, or narrow it with "
            "filters.\n",
            status=503,
            headers={"retry-after": RETRY_AFTER_SECONDS},
        )
    refusal = _query_string_refusal(request, exception)
    if refusal is None:
        return None
    log.info("query string refused: %s", type(exception).__name__)
    return datasette_error_page(datasette, request, refusal)


def _query_string_refusal(request, exception) -> DatasetteError | None:
    """The 400 for an error the query string caused, or None for any other."""
    if isinstance(exception, DatasetteError):
        if exception.status != 500:
            return None  # Datasette chose the status itself
        return DatasetteError(exception.message, title="Bad request", status=400)
    if isinstance(exception, QUERY_STRING_ERRORS) and request.query_string:
        return DatasetteError(
            f"The query string could not be used: {exception}",
            title="Bad request",
            status=400,
        )
    return None


def _is_write(scope) -> bool:
    if scope["type"] != "http":
        return False
    return scope["method"] not in READ_METHODS and scope["path"] not in POSTING_PATHS


def _cookies_are_utf8(scope) -> bool:
    if scope["type"] != "http":
        return True
    try:
        for name, value in scope["headers"]:
            if name.lower() == b"cookie":
                value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_csv(scope) -> bool:
    return scope["type"] == "http" and scope["path"].endswith(".csv")


def _without_messages_cookie(scope):
    """The scope with ds_messages left out of its Cookie headers."""
    headers = []
    for name, value in scope["headers"]:
        if name.lower() == b"cookie":
            value = b";".join(
                part
                for part in value.split(b";")
                if part.partition(b"=")[0].strip() != MESSAGES_COOKIE
            )
        headers.append((name, value))
    return {**scope, "headers": headers}

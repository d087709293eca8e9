"""Datasette plugin: the archive's web side is read-only and never answers 500.

Datasette answers a POST to a table that is not a canned query with a server
error, and newer releases add write APIs; refusing every method but GET and
HEAD outside the login and logout pages keeps both out of reach. A CSV
download whose first page runs past the SQL time limit also surfaces as a
server error in Datasette 0.65; it is answered 503 with Retry-After instead,
since a second try usually finds the pages cached.
"""

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils.asgi import Response

RETRY_AFTER_SECONDS = "5"

READ_METHODS = frozenset({"GET", "HEAD"})
POSTING_PATHS = frozenset({"/-/login", "/-/logout"})


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
            await app(scope, receive, send)

        return read_only

    return wrap


@hookimpl
def handle_exception(datasette, request, exception):
    if not isinstance(exception, QueryInterrupted):
        return None
    limit = datasette.setting("sql_time_limit_ms")
    return Response.text(
        f"The query ran past the {limit} ms limit. Try again, or narrow it with "
        "filters.\n",
        status=503,
        headers={"retry-after": RETRY_AFTER_SECONDS},
    )


def _is_write(scope) -> bool:
    if scope["type"] != "http":
        return False
    return scope["method"] not in READ_METHODS and scope["path"] not in POSTING_PATHS

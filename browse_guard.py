"""Datasette plugin: the archive is read-only on the web, so only logging in posts.

Datasette answers a POST to a table that is not a canned query with a server
error, and newer releases add write APIs; refusing every method but GET and
HEAD outside the login and logout pages keeps both out of reach.
"""

from datasette import hookimpl
from datasette.utils.asgi import Response

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


def _is_write(scope) -> bool:
    if scope["type"] != "http":
        return False
    return scope["method"] not in READ_METHODS and scope["path"] not in POSTING_PATHS

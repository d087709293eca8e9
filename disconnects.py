"""Datasette under gunicorn, with each request stopped when its client goes away.

Gunicorn is a WSGI server, so Datasette's ASGI app runs through a2wsgi. When a
client hangs up during a streamed response, gunicorn's next write fails and it
closes the response iterable; a2wsgi then stops reading from Datasette but
never tells it, so the request's task waits forever for its next `send` to be
taken, holding whatever it holds (a CSV download's reading thread and
connection). `as_wsgi(asgi_app)` closes that gap: each request's task leaves a
way to cancel it in the WSGI environ, and closing the response calls it.
After a complete response the task has already ended and cancelling does
nothing.
"""

import asyncio

from a2wsgi import ASGIMiddleware

CANCEL = "room_archive.cancel_request"


def as_wsgi(asgi_app):
    """A WSGI app serving asgi_app, cancelling a request whose response is closed."""
    middleware = ASGIMiddleware(_cancellable(asgi_app))

    def application(environ, start_response):
        return ClosingResponse(middleware(environ, start_response), environ)

    return application


def _cancellable(asgi_app):
    async def application(scope, receive, send):
        environ = scope.get("wsgi_environ")
        if environ is not None:
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()
            environ[CANCEL] = lambda: loop.call_soon_threadsafe(task.cancel)
        await asgi_app(scope, receive, send)

    return application


class ClosingResponse:
    """The response iterable; close() also cancels the request's task."""

    def __init__(self, chunks, environ):
        self._chunks = chunks
        self._environ = environ

    def __iter__(self):
        return iter(self._chunks)

    def close(self):
        try:
            self._chunks.close()
        finally:
            cancel = self._environ.pop(CANCEL, None)
            if cancel is not None:
                cancel()

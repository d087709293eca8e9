"""The one WSGI application gunicorn serves: the webhook and Datasette on one port.

A PaaS gives a service a single port, so the webhook's paths go to Flask and
every other path goes to Datasette, whose ASGI app runs through a2wsgi in the
same worker (disconnects.py). Gunicorn loads it as `wsgi:create_application()`.
"""

import logging
import os

import config
import disconnects
import retention
from app import create_app
from archive import StorageUnavailable
from browse import create_datasette
from checkpoint import Checkpointer
from edge import behind_proxies, with_security_headers

WEBHOOK_PATHS = frozenset({"/webhook", "/healthz"})


def compose(webhook, browser):
    """Route webhook paths to one WSGI app and everything else to the other."""

    def application(environ, start_response):
        if environ.get("PATH_INFO", "") in WEBHOOK_PATHS:
            return webhook(environ, start_response)
        return browser(environ, start_response)

    return application


def utf8_paths_only(app):
    """Answer 400 to a path that is not UTF-8, which a2wsgi cannot decode."""

    def application(environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        try:
            path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            start_response(
                "400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")]
            )
            return [b"The path is not UTF-8.\n"]
        return app(environ, start_response)

    return application


def create_application(settings: config.Settings | None = None):
    """Build the combined app; the archive's schema exists before Datasette opens it."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings = settings or config.from_environ()
    webhook = create_app(settings)
    try:
        webhook.extensions["archive"].open()
    except StorageUnavailable as error:
        # The master refused to start on unusable storage (gunicorn.conf.py). A
        # worker (re)booting while it is briefly unwritable answers 503 until it
        # recovers: failing to boot would make gunicorn stop the whole service.
        logging.getLogger("webhook").warning("archive not writable yet: %s", error)
    webhook.extensions["deriver"].start()
    Checkpointer(settings.database_path).start()
    retention.schedule(settings)
    datasette = create_datasette(settings)
    browser = utf8_paths_only(disconnects.as_wsgi(datasette.app()))
    application = compose(webhook.wsgi_app, browser)
    return behind_proxies(with_security_headers(application), settings.trusted_proxies)

"""Gunicorn settings for the Procfile's web process, tuned by the environment.

PORT and WEB_CONCURRENCY are what PaaS platforms set. Threads let one worker
serve a long CSV download and webhook posts at the same time.

Shutdown: platforms send SIGTERM and, about 30 seconds later, SIGKILL. On
SIGTERM gunicorn stops accepting connections and lets requests in flight
finish for `graceful_timeout`, kept below those 30 seconds so that the
worker exits on its own. A webhook answer of 200 is only sent after COMMIT,
so a request cut short is one Control Hub was never told was stored.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from request_log import JsonRequestLogger  # noqa: E402 - needs the path above

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60  # a worker stuck this long is restarted
graceful_timeout = 25  # in-flight requests finish before the platform's SIGKILL
keepalive = 5
# The control socket defaults to one path per user, shared by every gunicorn
# on the machine; this service does not use it.
control_socket_disable = True
# Gunicorn trusts X-Forwarded-Proto from the same proxies as the app (edge.py).
forwarded_allow_ips = os.environ.get("TRUSTED_PROXIES", "")
accesslog = "-"
logger_class = JsonRequestLogger


def on_starting(server):
    """Refuse to start, in one line, when the configuration cannot work."""
    import config
    import startup

    try:
        settings = config.from_environ()
        warnings = startup.check_storage(settings)
    except config.ConfigError as error:
        print(f"room-archive: configuration error: {error}", file=sys.stderr)
        sys.exit(2)
    for warning in warnings:
        print(
            f"room-archive: WARNING: the archive may be lost at the next deploy or "
            f"restart: {warning}; mount a persistent volume and point "
            "DATABASE_PATH at it",
            file=sys.stderr,
            flush=True,
        )

"""Gunicorn settings for the Procfile's web process, tuned by the environment.

PORT and WEB_CONCURRENCY are what PaaS platforms set. Threads let one worker
serve a long CSV download and webhook posts at the same time.
"""

import os
import sys

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60  # a worker stuck this long is restarted
graceful_timeout = 30  # on deploy, in-flight requests get this long to finish
keepalive = 5
# The control socket defaults to one path per user, shared by every gunicorn
# on the machine; this service does not use it.
control_socket_disable = True
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def on_starting(server):
    """Refuse to start, in one line, when the configuration cannot work."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import config

    try:
        config.from_environ()
    except config.ConfigError as error:
        print(f"room-archive: configuration error: {error}", file=sys.stderr)
        sys.exit(2)

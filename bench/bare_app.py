"""The ceiling: a Flask app that answers every request with 200 "ok" and does no work.

Served by gunicorn with the service's own gunicorn.conf.py, it shows what the
stack itself costs, which the webhook's throughput is compared against.
"""

from flask import Flask

app = Flask(__name__)


@app.route("/webhook", methods=["GET", "POST"])
@app.route("/healthz")
def ok():
    return "ok"

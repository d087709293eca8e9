"""The webhook: a Flask application factory for POST /webhook and GET /healthz.

`create_app(settings)` builds the app around one `Archive`. The webhook
answers 200 only after the messages are committed, 400 (and a `rejected` row)
for a body it cannot use, 401 for bad credentials, 413 for an oversized body
and 503 with Retry-After while the database cannot commit. The messages'
status_changes and events rows follow within moments (derive.py).
"""

import contextlib
import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

import config
import health
from archive import Archive, StorageUnavailable
from auth import record_failure, sender_auth
from derive import Deriver, lag_seconds
from group_commit import GroupCommit
from messages import UnusableBody, normalise, now_timestamp, parse_body
from signing import signature_valid

log = logging.getLogger("webhook")
RETRY_AFTER_BUSY = "1"
RETRY_AFTER_FAULT = "10"


def create_app(settings: config.Settings | None = None) -> Flask:
    """Build the webhook app; settings default to the checked environment."""
    settings = settings or config.from_environ()
    app = Flask(__name__)
    # One byte over the limit is read, so that a chunked body past it shows.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.extensions["archive"] = archive = Archive(
        settings.database_path, settings.synchronous
    )
    writer = GroupCommit(archive)
    # A connection of its own: the webhook's requests never queue behind it.
    derivation = Archive(settings.database_path, settings.synchronous)
    app.extensions["deriver"] = deriver = Deriver(derivation)
    auth = sender_auth(settings)

    @app.post("/webhook")
    @auth.login_required
    def receive():
        received_at = now_timestamp()
        try:
            raw = _read_body(settings.max_body_bytes)
        except RequestEntityTooLarge:
            return _reject(archive, received_at, "body too large", None, 413)
        except IncompleteBody as error:
            return _reject(archive, received_at, str(error), error.received, 400)
        if settings.webhook_hmac_secret and not signature_valid(
            settings, raw, request.headers.get(settings.webhook_hmac_header)
        ):
            record_failure("webhook", "wrong or missing signature", request.remote_addr)
            return jsonify(error="wrong or missing request signature"), 401
        try:
            archived = [normalise(m, received_at) for m in parse_body(raw)]
        except UnusableBody as error:
            return _reject(archive, received_at, str(error), raw, 400)
        try:
            stored, duplicates = writer.store(archived)
        except StorageUnavailable as error:
            return _unavailable(error)
        deriver.notify()
        # The access log has a line per request; this one only when debugging.
        log.debug("accepted stored=%d duplicates=%d", stored, duplicates)
        return jsonify(stored=stored, duplicates=duplicates)

    @app.get("/healthz")
    def healthz():
        try:
            details = archive.health()
            details.update(health.storage(settings.database_path))
            newest_id, derived, waiting_since = archive.derivation_state()
        except (StorageUnavailable, OSError) as error:
            return jsonify(status="unhealthy", reason=str(error)), 503
        newest = details["newest_message_received_at"]
        details["newest_message_age_seconds"] = health.age_seconds(newest)
        details["messages_awaiting_derivation"] = newest_id - derived
        details["derivation_lag_seconds"] = lag_seconds(waiting_since)
        return jsonify(status="ok", **details)

    @app.errorhandler(HTTPException)
    def http_error(error):
        return jsonify(error=error.description), error.code

    return app


class IncompleteBody(Exception):
    """The body ended before its Content-Length, or its chunks were malformed."""

    def __init__(self, reason: str, received: bytes | None = None):
        super().__init__(reason)
        self.received = received


def _read_body(limit: int) -> bytes:
    """The complete body; raise RequestEntityTooLarge or IncompleteBody otherwise."""
    try:
        raw = request.get_data(cache=False)
    except HTTPException:
        raise
    except Exception as error:
        # Gunicorn's chunk parser raises its own exceptions, with no common base.
        raise IncompleteBody("body's chunked encoding is malformed") from error
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    expected = request.content_length
    if expected is not None and len(raw) < expected:
        raise IncompleteBody(f"body ended after {len(raw)} of {expected} bytes", raw)
    return raw


def _reject(archive, received_at, reason, raw, status):
    """Keep what could not be used, then tell the sender why in one line."""
    body = raw
    # Text when it decodes, so Datasette shows it; otherwise a BLOB, byte for byte.
    with contextlib.suppress(AttributeError, UnicodeDecodeError):
        body = raw.decode("utf-8")
    row = (received_at, reason, request.content_type, request.remote_addr, body)
    try:
        archive.reject(row)
    except StorageUnavailable as error:
        return _unavailable(error)
    log.info("rejected status=%d reason=%s", status, reason)
    return jsonify(error=reason), status


def _unavailable(error: StorageUnavailable):
    log.warning("unavailable reason=%s", error)
    retry_after = RETRY_AFTER_BUSY if error.busy else RETRY_AFTER_FAULT
    response = jsonify(error="archive unavailable, retry later")
    response.headers["Retry-After"] = retry_after
    return response, 503

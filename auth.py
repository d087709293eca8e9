"""Who may post to the webhook: the sender's credentials, checked with flask-httpauth.

Control Hub sends either HTTP Basic or an authorization token that it copies
verbatim into the Authorization header, so a token is accepted when the whole
header equals it or equals "Bearer <token>" (the scheme in any case). Every
comparison is constant-time. Failed attempts, for the webhook and the viewer
alike, go through `record_failure`, which logs them without the secret and
counts them.
"""

import hashlib
import hmac
import logging
import threading
from collections import Counter

from flask import jsonify, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from werkzeug.datastructures import Authorization

from config import Settings

SENDER = "sender"
log = logging.getLogger("auth")
failures = Counter()  # failed attempts in this worker process, by who was refused
_failures_lock = threading.Lock()


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two secrets; False when either is missing.

    Digests of equal length are compared, so not even the secret's length shows
    in the time taken.
    """
    if given is None or expected is None:
        return False
    given_digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(given_digest, expected_digest)


def record_failure(who: str, reason: str, address) -> int:
    """Log and count one refused attempt; never log what was presented."""
    with _failures_lock:
        failures[who] += 1
        count = failures[who]
    log.warning(
        "unauthorised %s from %s: %s (failures in this worker: %d)",
        who,
        address,
        reason,
        count,
    )
    return count


class VerbatimTokenAuth(HTTPTokenAuth):
    """Token auth that reads the whole Authorization header as the token."""

    def is_compatible_auth(self, headers):
        return "Authorization" in headers

    def get_auth(self):
        value = request.headers.get("Authorization")
        if value is None:
            return None
        auth = Authorization(self.scheme)
        auth.token = value
        return auth


def sender_auth(settings: Settings) -> MultiAuth:
    """The login_required decorator source for the webhook."""
    basic = HTTPBasicAuth(realm="webhook")
    token = VerbatimTokenAuth(scheme="Bearer", realm="webhook")

    @basic.verify_password
    def verify_basic(username, password):
        if not settings.webhook_username:
            return None
        # Both halves are always compared, so timing says nothing about which failed.
        user_ok = same_secret(username, settings.webhook_username)
        password_ok = same_secret(password, settings.webhook_password)
        return SENDER if user_ok & password_ok else None

    @token.verify_token
    def verify_token(value):
        expected = settings.webhook_token
        if not expected:
            return None
        scheme, _, rest = value.partition(" ")
        bare = same_secret(value, expected)
        bearer = same_secret(rest, expected) & (scheme.lower() == "bearer")
        return SENDER if bare | bearer else None

    challenges = []
    if settings.webhook_username:
        challenges.append(basic.authenticate_header())
    if settings.webhook_token:
        challenges.append(token.authenticate_header())

    def unauthorised(status):
        presented = "Authorization" in request.headers
        reason = "wrong credentials" if presented else "no credentials"
        record_failure("webhook", reason, request.remote_addr)
        response = jsonify(error="wrong or missing webhook credentials")
        response.headers["WWW-Authenticate"] = ", ".join(challenges)
        return response, status

    basic.error_handler(unauthorised)
    token.error_handler(unauthorised)

    if settings.webhook_username:
        # Basic comes first so that "Basic ..." headers are parsed as credentials;
        # any other header falls through to the verbatim token.
        return MultiAuth(basic, token)
    return MultiAuth(token)

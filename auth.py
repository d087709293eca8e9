"""Who may post to the webhook: the sender's credentials, checked with flask-httpauth.

Control Hub sends either HTTP Basic or an authorization token that it copies
verbatim into the Authorization header, so a token is accepted when the whole
header equals it or equals "Bearer <token>" (the scheme in any case). Every
comparison is constant-time.
"""

import hmac
import logging

from flask import jsonify, request
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth, MultiAuth
from werkzeug.datastructures import Authorization

from config import Settings

SENDER = "sender"
log = logging.getLogger("webhook")


def same_secret(given: str | None, expected: str | None) -> bool:
    """Constant-time equality of two secrets; False when either is missing."""
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


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
        log.warning("unauthorised from %s", request.remote_addr)
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

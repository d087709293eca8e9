"""Optional request signing: with WEBHOOK_HMAC_SECRET set, a request needs both its
credentials and a valid HMAC of its raw body."""

import hashlib
import hmac
import secrets

import pytest
from conftest import SENDER_BASIC, SENDER_TOKEN, example

import auth
import config
from app import create_app

SECRET = secrets.token_urlsafe(24)
BODY = example("status-people-count.json")


def signature(body: bytes, digest=hashlib.sha1, prefix="") -> str:
    return prefix + hmac.new(SECRET.encode(), body, digest).hexdigest()


def signed_client(environ, **settings):
    app = create_app(
        config.from_environ({**environ, "WEBHOOK_HMAC_SECRET": SECRET, **settings})
    )
    app.extensions["archive"].open()
    return app.test_client()


def stored(rows) -> int:
    return rows("SELECT count(*) AS n FROM messages")[0]["n"]


def test_default_is_sha1_hex_in_x_spark_signature(environ, rows):
    client = signed_client(environ)
    headers = {**SENDER_BASIC, "X-Spark-Signature": signature(BODY)}

    assert client.post("/webhook", data=BODY, headers=headers).status_code == 200
    assert stored(rows) == 1


def test_header_digest_and_prefix_are_configurable(environ, rows):
    client = signed_client(
        environ,
        WEBHOOK_HMAC_HEADER="X-Hub-Signature-256",
        WEBHOOK_HMAC_DIGEST="sha256",
        WEBHOOK_HMAC_PREFIX="sha256=",
    )
    value = signature(BODY, hashlib.sha256, "sha256=").upper()
    headers = {**SENDER_TOKEN, "X-Hub-Signature-256": value}

    assert client.post("/webhook", data=BODY, headers=headers).status_code == 200
    assert stored(rows) == 1


WRONG_SIGNATURES = {
    "missing": None,
    "empty": "",
    "of another body": signature(BODY + b" "),
    "truncated": signature(BODY)[:-1],
    "one longer": signature(BODY) + "0",
    "sha256 instead of sha1": signature(BODY, hashlib.sha256),
    "with a prefix not configured": signature(BODY, prefix="sha1="),
    "keyed with the token": hmac.new(
        SENDER_TOKEN["Authorization"].encode(), BODY, hashlib.sha1
    ).hexdigest(),
    "unicode": signature(BODY)[:-1] + "\u00e9",
}


@pytest.mark.parametrize("name", WRONG_SIGNATURES)
def test_wrong_signature_gets_401_and_stores_nothing(environ, rows, name):
    client = signed_client(environ)
    headers = dict(SENDER_BASIC)
    if WRONG_SIGNATURES[name] is not None:
        headers["X-Spark-Signature"] = WRONG_SIGNATURES[name]
    refused_before = auth.failures["webhook"]

    response = client.post("/webhook", data=BODY, headers=headers)

    assert response.status_code == 401
    assert "signature" in response.get_json()["error"]
    assert stored(rows) == 0
    assert rows("SELECT count(*) AS n FROM rejected")[0]["n"] == 0
    assert auth.failures["webhook"] == refused_before + 1


def test_valid_signature_does_not_replace_credentials(environ, rows):
    client = signed_client(environ)
    headers = {"X-Spark-Signature": signature(BODY)}

    assert client.post("/webhook", data=BODY, headers=headers).status_code == 401
    assert stored(rows) == 0


def test_unknown_digest_is_refused_at_start_up(environ):
    with pytest.raises(config.ConfigError, match="WEBHOOK_HMAC_DIGEST"):
        config.from_environ({**environ, "WEBHOOK_HMAC_DIGEST": "md5"})

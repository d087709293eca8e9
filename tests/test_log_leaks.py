"""No secret reaches the logs: a full run of the real gunicorn process at INFO,
with every credential used right and wrong, signed requests, an `action`
message carrying a JWT, rejected bodies and a viewer session; then its whole
output is searched for every secret, token and body."""

import base64
import hashlib
import hmac
import http.client
import json
import re
import secrets
import urllib.parse

import pytest
from conftest import CREDENTIALS, basic
from server import WebProcess, http_request

HMAC_SECRET = secrets.token_urlsafe(20)
SESSION_SECRET = secrets.token_urlsafe(32)
BODY_MARKER = "body-" + secrets.token_hex(8)


def jwt_like() -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "RS256", "typ": "JWT"})
    claims = part({"sub": secrets.token_hex(8), "iss": "https://idbroker.example"})
    return f"{header}.{claims}.{secrets.token_urlsafe(32)}"


JWT = jwt_like()


@pytest.fixture(scope="module")
def run_log(tmp_path_factory):
    """Drive a whole session against the server and return everything it logged."""
    folder = tmp_path_factory.mktemp("leaks")
    environment = {
        **CREDENTIALS,
        "DATABASE_PATH": str(folder / "archive.db"),
        "WEBHOOK_HMAC_SECRET": HMAC_SECRET,
        "SESSION_SECRET": SESSION_SECRET,
        "LOG_LEVEL": "INFO",
    }
    web = WebProcess(environment, folder / "web.log")
    try:
        post_messages(web)
        post_wrong_credentials(web)
        use_the_viewer(web)
    finally:
        web.close()
    return web.log_path.read_text()


def signed(body: bytes) -> dict:
    return {
        "X-Spark-Signature": hmac.new(HMAC_SECRET.encode(), body, "sha1").hexdigest()
    }


def post(web, body: bytes, headers: dict) -> int:
    return http_request(f"{web.url}/webhook", body, headers)[0]


def post_messages(web):
    action = {"type": "action", "orgId": "b3Jn", "jwt": JWT, "remark": BODY_MARKER}
    body = json.dumps(action).encode()
    token = {"Authorization": CREDENTIALS["WEBHOOK_TOKEN"]}
    sender = basic(CREDENTIALS["WEBHOOK_USERNAME"], CREDENTIALS["WEBHOOK_PASSWORD"])
    assert post(web, body, {**token, **signed(body)}) == 200
    assert post(web, body, {**sender, **signed(body)}) == 200
    broken = f"not json {BODY_MARKER} {JWT}".encode()
    assert post(web, broken, {**sender, **signed(broken)}) == 400
    repeated = f'{{"type": "status", "{BODY_MARKER}": 1, "{BODY_MARKER}": 2}}'.encode()
    assert post(web, repeated, {**sender, **signed(repeated)}) == 400
    assert post(web, body, {**sender, "X-Spark-Signature": "0" * 40}) == 401


def post_wrong_credentials(web):
    near_misses = [
        {"Authorization": CREDENTIALS["WEBHOOK_TOKEN"] + "x"},
        {"Authorization": "Bearer " + CREDENTIALS["WEBHOOK_TOKEN"][:-1]},
        basic(CREDENTIALS["WEBHOOK_USERNAME"], CREDENTIALS["WEBHOOK_PASSWORD"][:-1]),
        basic(CREDENTIALS["VIEWER_USERNAME"], CREDENTIALS["VIEWER_PASSWORD"]),
    ]
    for headers in near_misses:
        assert post(web, b"{}", headers) == 401
    wrong_viewer = basic(CREDENTIALS["VIEWER_USERNAME"], JWT)
    assert http_request(f"{web.url}/archive.json", headers=wrong_viewer)[0] == 401


def use_the_viewer(web):
    _, form, headers = http_request(f"{web.url}/-/login")
    token = re.search(rb'name="csrftoken" value="([^"]+)"', form).group(1).decode()
    csrf = re.search(r"ds_csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    for password in (
        CREDENTIALS["VIEWER_PASSWORD"] + "x",
        CREDENTIALS["VIEWER_PASSWORD"],
    ):
        fields = {
            "username": CREDENTIALS["VIEWER_USERNAME"],
            "password": password,
            "csrftoken": token,
        }
        connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=20)
        connection.request(
            "POST",
            "/-/login",
            body=urllib.parse.urlencode(fields),
            headers={
                "Cookie": f"ds_csrftoken={csrf}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        response = connection.getresponse()
        response.read()
        connection.close()
    assert response.status == 302
    session = re.search(r"ds_actor=([^;]+)", response.headers["Set-Cookie"]).group(1)
    query = urllib.parse.urlencode({"sql": "select body from messages"})
    status, body, _ = http_request(
        f"{web.url}/archive.json?{query}", headers={"Cookie": f"ds_actor={session}"}
    )
    assert status == 200 and JWT.encode() in body


def secrets_used() -> dict:
    values = {
        "JWT": JWT,
        "JWT signature": JWT.rsplit(".", 1)[1],
        "body": BODY_MARKER,
        "HMAC secret": HMAC_SECRET,
        "session secret": SESSION_SECRET,
    }
    for name, value in CREDENTIALS.items():
        if name.endswith(("PASSWORD", "TOKEN")):
            values[name] = value
            values[f"{name} truncated"] = value[:-1]
    for who in ("WEBHOOK", "VIEWER"):
        pair = f"{CREDENTIALS[who + '_USERNAME']}:{CREDENTIALS[who + '_PASSWORD']}"
        values[f"{who} basic"] = base64.b64encode(pair.encode()).decode()
    values["password digest"] = hashlib.sha256(
        CREDENTIALS["VIEWER_PASSWORD"].encode()
    ).hexdigest()
    return values


def test_the_run_did_log_its_requests_and_refusals(run_log):
    assert '"path": "/webhook"' in run_log
    assert "unauthorised webhook" in run_log and "unauthorised viewer" in run_log
    assert "rejected status=400" in run_log


@pytest.mark.parametrize("name", secrets_used())
def test_no_secret_token_or_body_in_the_log(run_log, name):
    assert secrets_used()[name] not in run_log


def test_nothing_shaped_like_a_jwt_in_the_log(run_log):
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", run_log)

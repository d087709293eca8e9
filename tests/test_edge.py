"""Behind the PaaS's TLS proxy: forwarded address and scheme are believed only from
TRUSTED_PROXIES, and every response carries the security headers."""

import contextlib
import http.client
import re
import sqlite3

import pytest
from conftest import CREDENTIALS, SENDER_BASIC, VIEWER_BASIC
from server import WebProcess, http_request, wait_for_text

import config

FORWARDED = {
    "X-Forwarded-For": "198.51.100.7, 203.0.113.9",
    "X-Forwarded-Proto": "https",
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": {"nosniff"},
    "X-Frame-Options": {"DENY"},
    "Content-Security-Policy": {"frame-ancestors 'none'"},
    # Datasette's own, stricter policy on some pages is kept.
    "Referrer-Policy": {"same-origin", "no-referrer"},
}


def start(tmp_path_factory, trusted: str | None):
    folder = tmp_path_factory.mktemp("edge")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    if trusted:
        environment["TRUSTED_PROXIES"] = trusted
    process = WebProcess(environment, folder / "web.log")
    process.database = folder / "archive.db"
    return process


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    process = start(tmp_path_factory, None)
    yield process
    process.close()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    process = start(tmp_path_factory, "10.0.0.0/8,127.0.0.1")
    yield process
    process.close()


def rejected_address(web) -> str:
    http_request(f"{web.url}/webhook", b"nope", {**SENDER_BASIC, **FORWARDED})
    with contextlib.closing(sqlite3.connect(web.database)) as archive:
        query = "SELECT remote_addr FROM rejected ORDER BY id DESC LIMIT 1"
        return archive.execute(query).fetchone()[0]


def login_cookie(web) -> str:
    _, form, headers = http_request(f"{web.url}/-/login", headers=FORWARDED)
    token = re.search(rb'name="csrftoken" value="([^"]+)"', form).group(1).decode()
    csrf = re.search(r"ds_csrftoken=([^;]+)", headers["Set-Cookie"]).group(1)
    body = (
        f"username={CREDENTIALS['VIEWER_USERNAME']}&password="
        f"{CREDENTIALS['VIEWER_PASSWORD']}&csrftoken={token}"
    ).encode()
    headers = {**FORWARDED, "Cookie": f"ds_csrftoken={csrf}"}
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    # http.client, because urllib would follow the redirect and drop the cookie.
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=20)
    connection.request("POST", "/-/login", body=body, headers=headers)
    response = connection.getresponse()
    connection.close()
    assert response.status == 302
    return response.headers["Set-Cookie"]


def test_forwarded_headers_from_an_untrusted_client_are_ignored(direct):
    assert rejected_address(direct) == "127.0.0.1"
    assert "203.0.113.9" not in direct.log_path.read_text()
    assert "Secure" not in login_cookie(direct)
    _, _, headers = http_request(f"{direct.url}/healthz", headers=FORWARDED)
    assert "Strict-Transport-Security" not in headers


def test_trusted_proxy_gives_the_client_address_and_https(proxied):
    assert rejected_address(proxied) == "203.0.113.9"
    wait_for_text(proxied.log_path, '"remote_addr": "203.0.113.9"')
    assert "Secure" in login_cookie(proxied)
    _, _, headers = http_request(f"{proxied.url}/healthz", headers=FORWARDED)
    assert headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/healthz", {}),
        ("/webhook", {}),
        ("/-/login", {}),
        ("/archive.json", {}),
        ("/archive.json", VIEWER_BASIC),
        ("/archive/messages", {**VIEWER_BASIC, "Accept": "text/html"}),
        ("/-/static/app.css", {}),
    ],
)
def test_every_response_carries_the_security_headers(direct, path, headers):
    _, _, answer = http_request(f"{direct.url}{path}", headers=headers)

    for name, value in SECURITY_HEADERS.items():
        assert answer[name] in value, name


@pytest.mark.parametrize("value", ["everyone", "10.0.0.0/33", "10.0.0.1;10.0.0.2"])
def test_trusted_proxies_must_be_addresses_or_networks(value):
    environ = {**CREDENTIALS, "DATABASE_PATH": "/tmp/x.db", "TRUSTED_PROXIES": value}
    with pytest.raises(config.ConfigError, match="TRUSTED_PROXIES"):
        config.from_environ(environ)

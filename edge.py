"""The service's edge: the PaaS's TLS proxy in front, and the browser behind.

`behind_proxies` believes X-Forwarded-For and X-Forwarded-Proto only on
connections from the networks in TRUSTED_PROXIES, and strips them from every
other connection, so no client can claim another address or scheme.
`with_security_headers` hardens every response, the webhook's and Datasette's.
"""

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

FORWARDED_HEADERS = (
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
)
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
# Sent only over HTTPS, where browsers honour it; a year, as commonly advised.
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def behind_proxies(app, networks: tuple):
    """Take the client's address and scheme from trusted proxies' headers only."""
    # One hop: the address the trusted proxy appended, not what the client wrote.
    forwarded = ProxyFix(app, x_for=1, x_proto=1)

    def application(environ, start_response):
        if _is_trusted(environ.get("REMOTE_ADDR"), networks):
            return forwarded(environ, start_response)
        for name in FORWARDED_HEADERS:
            environ.pop(name, None)
        return app(environ, start_response)

    return application


def with_security_headers(app):
    """Add the security headers to every response that does not set its own."""

    def application(environ, start_response):
        https = environ.get("wsgi.url_scheme") == "https"
        extra = SECURITY_HEADERS + ((HSTS,) if https else ())

        def start_with_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers = list(headers)
            headers += [(n, v) for n, v in extra if n.lower() not in present]
            return start_response(status, headers, exc_info)

        return app(environ, start_with_headers)

    return application


def _is_trusted(address: str | None, networks: tuple) -> bool:
    if not address or not networks:
        return False
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(client in network for network in networks)

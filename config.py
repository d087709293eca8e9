"""Settings, read from the environment in one place and checked at start-up.

Every other module receives a `Settings`; none reads os.environ itself. A bad
configuration raises `ConfigError` whose text is the one line an admin sees.
"""

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE = "data/archive.db"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
ENVIRONMENTS = ("production", "development")
DEFAULT_RETENTION_CHECK_SECONDS = 3600
MIN_SECRET_LENGTH = 12
MIN_DISTINCT_CHARACTERS = 6
# Secrets that, stripped of digits and punctuation, are one of these words are
# someone's placeholder or first guess, not a credential.
DEFAULT_WORDS = frozenset(
    {"password", "passwd", "changeme", "secret", "admin", "administrator",
     "viewer", "controlhub", "webhook", "token", "letmein", "qwerty", "example",
     "default", "welcome"}
)  # fmt: skip
HMAC_DIGESTS = ("sha1", "sha256")
# Control Hub's own webhooks sign the body with HMAC-SHA1 in this header.
DEFAULT_HMAC_HEADER = "X-Spark-Signature"


class ConfigError(ValueError):
    """The environment does not describe a service that can run."""


@dataclass(frozen=True)
class Settings:
    database_path: Path
    webhook_username: str | None = None
    webhook_password: str | None = None
    webhook_token: str | None = None
    viewer_username: str | None = None
    viewer_password: str | None = None
    session_secret: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    synchronous: str = "NORMAL"
    environment: str = "production"
    retention_days: int | None = None
    retention_check_seconds: int = DEFAULT_RETENTION_CHECK_SECONDS
    webhook_hmac_secret: str | None = None
    webhook_hmac_header: str = DEFAULT_HMAC_HEADER
    webhook_hmac_digest: str = "sha1"
    webhook_hmac_prefix: str = ""
    trusted_proxies: tuple = ()

    @property
    def production(self) -> bool:
        """Production unless ARCHIVE_ENV says development, so a deploy is never lax."""
        return self.environment == "production"

    @property
    def database_name(self) -> str:
        """The name Datasette gives the archive in its URLs."""
        return self.database_path.stem


def from_environ(environ=None) -> Settings:
    """Build and check the settings; raise ConfigError with a one-line reason."""
    environ = os.environ if environ is None else environ

    def text(name):
        return environ.get(name) or None

    settings = Settings(
        database_path=Path(text("DATABASE_PATH") or DEFAULT_DATABASE),
        webhook_username=text("WEBHOOK_USERNAME"),
        webhook_password=text("WEBHOOK_PASSWORD"),
        webhook_token=text("WEBHOOK_TOKEN"),
        viewer_username=text("VIEWER_USERNAME"),
        viewer_password=text("VIEWER_PASSWORD"),
        session_secret=text("SESSION_SECRET"),
        max_body_bytes=_positive_int(environ, "MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        synchronous=(text("SQLITE_SYNCHRONOUS") or "NORMAL").upper(),
        environment=(text("ARCHIVE_ENV") or "production").lower(),
        retention_days=_positive_int(environ, "RETENTION_DAYS", None),
        retention_check_seconds=_positive_int(
            environ, "RETENTION_CHECK_SECONDS", DEFAULT_RETENTION_CHECK_SECONDS
        ),
        webhook_hmac_secret=text("WEBHOOK_HMAC_SECRET"),
        webhook_hmac_header=text("WEBHOOK_HMAC_HEADER") or DEFAULT_HMAC_HEADER,
        webhook_hmac_digest=(text("WEBHOOK_HMAC_DIGEST") or "sha1").lower(),
        webhook_hmac_prefix=text("WEBHOOK_HMAC_PREFIX") or "",
        trusted_proxies=_networks(environ, "TRUSTED_PROXIES"),
    )
    check(settings)
    return settings


def check(settings: Settings) -> None:
    """Raise ConfigError unless the settings can serve both senders and viewers."""
    basic = (settings.webhook_username, settings.webhook_password)
    if any(basic) and not all(basic):
        raise ConfigError("set both WEBHOOK_USERNAME and WEBHOOK_PASSWORD, or neither")
    if not all(basic) and not settings.webhook_token:
        raise ConfigError(
            "no webhook credentials: set WEBHOOK_TOKEN, or WEBHOOK_USERNAME "
            "and WEBHOOK_PASSWORD"
        )
    viewer = (settings.viewer_username, settings.viewer_password)
    if not all(viewer):
        raise ConfigError(
            "set VIEWER_USERNAME and VIEWER_PASSWORD to browse the archive"
        )
    if viewer == basic:
        raise ConfigError("viewer and webhook credentials must differ")
    if settings.webhook_hmac_digest not in HMAC_DIGESTS:
        raise ConfigError(
            f"WEBHOOK_HMAC_DIGEST must be one of {', '.join(HMAC_DIGESTS)}"
        )
    if settings.synchronous not in SYNCHRONOUS_MODES:
        raise ConfigError(
            f"SQLITE_SYNCHRONOUS must be one of {', '.join(SYNCHRONOUS_MODES)}"
        )
    if settings.environment not in ENVIRONMENTS:
        raise ConfigError(f"ARCHIVE_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if settings.production:
        _check_secrets(settings)


def _check_secrets(settings: Settings) -> None:
    """In production, refuse secrets that are short, guessable or contain a name."""
    secrets = {
        "WEBHOOK_PASSWORD": (settings.webhook_password, settings.webhook_username),
        "WEBHOOK_TOKEN": (settings.webhook_token, None),
        "VIEWER_PASSWORD": (settings.viewer_password, settings.viewer_username),
        "SESSION_SECRET": (settings.session_secret, None),
    }
    for name, (value, username) in secrets.items():
        if value is None:
            continue
        weakness = secret_weakness(value, username)
        if weakness:
            raise ConfigError(
                f"{name} is too weak for production: {weakness} "
                "(ARCHIVE_ENV=development allows it on a workstation)"
            )


def secret_weakness(value: str, username: str | None = None) -> str | None:
    """Why a password or token is too weak to put on the internet, or None."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"use at least {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"use at least {MIN_DISTINCT_CHARACTERS} different characters"
    letters = "".join(c for c in value.lower() if c.isalpha())
    if letters in DEFAULT_WORDS:
        return "it is a well-known default"
    if username and username.lower() in value.lower():
        return "it contains the username"
    return None


def _positive_int(environ, name: str, default: int | None) -> int | None:
    value = environ.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigError(f"{name} must be a positive whole number, not {value!r}")
    return number


def _networks(environ, name: str) -> tuple:
    """Comma-separated addresses or CIDR networks, such as 10.0.0.0/8,127.0.0.1."""
    value = environ.get(name) or ""
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        )
    except ValueError:
        raise ConfigError(
            f"{name} must list IP addresses or networks, not {value!r}"
        ) from None

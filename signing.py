"""Optional request signing: an HMAC of the raw body, on top of the credentials.

When WEBHOOK_HMAC_SECRET is set, every webhook request must carry
`<prefix><hex HMAC of the body>` in the configured header. The defaults
(header X-Spark-Signature, SHA-1, no prefix) are how Webex signs its own
webhooks; `sha256` and a prefix such as `sha256=` suit other senders.
"""

import hashlib
import hmac

from config import Settings


def sign(settings: Settings, body: bytes) -> str:
    """The header value a sender puts on this body."""
    digest = hmac.new(
        settings.webhook_hmac_secret.encode("utf-8"),
        body,
        getattr(hashlib, settings.webhook_hmac_digest),
    ).hexdigest()
    return settings.webhook_hmac_prefix + digest


def signature_valid(settings: Settings, body: bytes, presented: str | None) -> bool:
    """Constant-time check of a presented signature; hex digits in either case."""
    if presented is None:
        return False
    expected = sign(settings, body).lower().encode("utf-8")
    given = presented.strip().lower().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, expected)

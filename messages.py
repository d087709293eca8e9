"""Turn Control Hub webhook bodies into archive rows.

Pure functions, no database and no Flask: `parse_body` splits a request body
into messages, `normalise` turns one message into the rows of `messages`,
`status_changes` and `events`. Anything unusable raises `UnusableBody` with a
one-line reason that the sender sees and the `rejected` table keeps.
"""

import hashlib
import json
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

import orjson

ID_FIELDS = ("orgId", "workspaceId", "deviceId", "appId")
TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})"
)
NUMERIC_TEXT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
# Control Hub's IDs are base64 (standard or URL-safe); a dot, a backslash or a
# control character in one means the message did not come from Control Hub.
CONTROL_HUB_ID = re.compile(r"[A-Za-z0-9+/=_-]{1,1024}")
# Types are camelCase words: status, events, healthCheck, action, ...
MESSAGE_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# xAPI keys are dotted paths with indices; new ones appear, so only the length
# and control characters are refused.
MAX_KEY_LENGTH = 512
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# Control Hub's messages nest four or five levels; anything far deeper is hostile
# and would also exceed what the JSON encoder writes back.
MAX_DEPTH = 64


class UnusableBody(ValueError):
    """The request body cannot be archived; the message is a one-line reason."""


class ArchivedMessage(NamedTuple):
    """The rows one message becomes, in the column order of the INSERTs."""

    message: tuple
    status_changes: list[tuple]
    events: list[tuple]


def parse_body(raw: bytes) -> list[dict]:
    """Return the messages of a body: one object, a list, or {"messages": [...]}."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnusableBody(f"body is not UTF-8 (byte {error.start})") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UnusableBody(f"body is not JSON: {error}") from None
    _check_depth(document)
    _check_unique_keys(raw)

    envelope = isinstance(document, dict) and "type" not in document
    if envelope and isinstance(document.get("messages"), list):
        document = document["messages"]
    messages = document if isinstance(document, list) else [document]

    if not messages:
        raise UnusableBody("body holds no messages")
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            raise UnusableBody(f"message {position} is not a JSON object")
    return messages


def _check_depth(document) -> None:
    """Refuse documents nested deeper than MAX_DEPTH, without recursion."""
    level = [document]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for value in level
            if isinstance(value, dict | list)
            for child in (value.values() if isinstance(value, dict) else value)
        ]
        if not level:
            return
    raise UnusableBody(f"body is nested deeper than {MAX_DEPTH} levels")


def _check_unique_keys(raw: bytes) -> None:
    """Refuse an object with a repeated key: which value counts would be a guess."""

    def unique(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                # The key itself stays out: reasons are logged, bodies never.
                raise UnusableBody("an object has the same key twice")
            seen.add(key)

    # orjson has already accepted the body, so only the keys are in question.
    try:
        json.loads(raw.decode("utf-8"), object_pairs_hook=unique)
    except json.JSONDecodeError as error:
        raise UnusableBody(f"body is not JSON: {error}") from None


def normalise(message: dict, received_at: str) -> ArchivedMessage:
    """Validate one message and return its rows; raise UnusableBody if invalid."""
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise UnusableBody("message has no type")
    if not MESSAGE_TYPE.fullmatch(kind):
        raise UnusableBody("type is not a word of at most 64 letters and digits")
    org_id, workspace_id, device_id, app_id = (
        _optional_text(message, field) for field in ID_FIELDS
    )
    sent_at = _optional_timestamp(message, "timestamp")
    at = sent_at or received_at

    body = orjson.dumps(message).decode()
    row = (
        received_at,
        kind,
        org_id,
        workspace_id,
        device_id,
        app_id,
        sent_at,
        _optional_flag(message, "isFullSync"),
        body,
        hashlib.sha256(body.encode()).hexdigest(),
    )
    where = (at, org_id, workspace_id, device_id)
    changes = _status_changes(message, where) if kind == "status" else []
    events = _events(message, where) if kind == "events" else []
    return ArchivedMessage(row, changes, events)


def _status_changes(message: dict, where: tuple) -> list[tuple]:
    changes = message.get("changes")
    if changes is None:
        return []
    if not isinstance(changes, dict):
        raise UnusableBody("changes is not an object")
    updated = _default(changes.get("updated"), {})
    removed = _default(changes.get("removed"), [])
    if not isinstance(updated, dict):
        raise UnusableBody("changes.updated is not an object")
    if not isinstance(removed, list) or not all(isinstance(k, str) for k in removed):
        raise UnusableBody("changes.removed is not a list of keys")

    for key in [*updated, *removed]:
        _check_key(key, "changes")
    rows = [
        (*where, key, orjson.dumps(value).decode(), number_of(value), 0)
        for key, value in updated.items()
    ]
    rows += [(*where, key, None, None, 1) for key in removed]
    return rows


def _events(message: dict, where: tuple) -> list[tuple]:
    events = message.get("events")
    if events is None:
        return []
    if not isinstance(events, list):
        raise UnusableBody("events is not a list")

    rows = []
    for position, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("key"), str):
            raise UnusableBody(f"event {position} has no key")
        _check_key(event["key"], f"event {position}")
        at = _optional_timestamp(event, "timestamp") or where[0]
        value = orjson.dumps(event.get("value")).decode()
        rows.append((at, *where[1:], event["key"], value))
    return rows


def number_of(value) -> float | None:
    """The value as a number, when it is one or is written as one; else None."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    written = isinstance(value, str) and NUMERIC_TEXT.fullmatch(value)
    if not (numeric or written):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def utc_timestamp(text: str) -> str:
    """Normalise an ISO-8601 time to the archive's fixed-width UTC form."""
    match = TIMESTAMP.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 time: {text[:40]!r}")
    *fields, fraction, offset = match.groups()
    microsecond = int((fraction or "0").ljust(6, "0")[:6])
    zone = UTC
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[-2:])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    moment = datetime(*map(int, fields), microsecond, tzinfo=zone)
    return format_timestamp(moment.astimezone(UTC))


def format_timestamp(moment: datetime) -> str:
    """The fixed-width UTC text of an aware datetime."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def now_timestamp() -> str:
    """The current time in the archive's format."""
    return format_timestamp(datetime.now(UTC))


def _default(value, empty):
    return empty if value is None else value


def _check_key(key: str, where: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or CONTROL_CHARACTER.search(key):
        raise UnusableBody(
            f"{where} has a key that is empty, longer than {MAX_KEY_LENGTH} "
            "characters or holds control characters"
        )


def _optional_text(message: dict, field: str) -> str | None:
    value = message.get(field)
    if value is not None and not isinstance(value, str):
        raise UnusableBody(f"{field} is not a string")
    if value is not None and not CONTROL_HUB_ID.fullmatch(value):
        raise UnusableBody(f"{field} is not a Control Hub ID (base64, 1024 at most)")
    return value


def _optional_flag(message: dict, field: str) -> int | None:
    value = message.get(field)
    if value is not None and not isinstance(value, bool):
        raise UnusableBody(f"{field} is not true or false")
    return None if value is None else int(value)


def _optional_timestamp(message: dict, field: str) -> str | None:
    value = message.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusableBody(f"{field} is not a string")
    try:
        return utc_timestamp(value)
    except (ValueError, OverflowError):
        raise UnusableBody(f"{field} is not an ISO-8601 time") from None

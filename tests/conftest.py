"""Fixtures: a fresh archive file, the real Flask and Datasette apps, and clients.

Credentials are random per test session, so none is written in the repository.
"""

import asyncio
import base64
import json
import secrets
import sqlite3
from pathlib import Path

import pytest

import config
import names
from app import create_app
from browse import create_datasette

EXAMPLES = Path(__file__).parent / "fixtures" / "webex-messages"
CREDENTIALS = {
    "WEBHOOK_USERNAME": "controlhub",
    "WEBHOOK_PASSWORD": secrets.token_urlsafe(12),
    "WEBHOOK_TOKEN": secrets.token_urlsafe(18),
    "VIEWER_USERNAME": "viewer",
    "VIEWER_PASSWORD": secrets.token_urlsafe(12),
}


def basic(username: str, password: str) -> dict:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


SENDER_BASIC = basic(CREDENTIALS["WEBHOOK_USERNAME"], CREDENTIALS["WEBHOOK_PASSWORD"])
SENDER_TOKEN = {"Authorization": CREDENTIALS["WEBHOOK_TOKEN"]}
SENDER_BEARER = {"Authorization": f"Bearer {CREDENTIALS['WEBHOOK_TOKEN']}"}
VIEWER_BASIC = basic(CREDENTIALS["VIEWER_USERNAME"], CREDENTIALS["VIEWER_PASSWORD"])


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def example_messages(name: str) -> list[dict]:
    document = json.loads(example(name))
    return document if isinstance(document, list) else [document]


def settings_from(**changes) -> config.Settings:
    """Settings from the test credentials changed by keyword; None removes one."""
    environ = {**CREDENTIALS, "DATABASE_PATH": "/tmp/x.db", **changes}
    return config.from_environ({k: v for k, v in environ.items() if v is not None})


@pytest.fixture
def environ(tmp_path):
    return {**CREDENTIALS, "DATABASE_PATH": str(tmp_path / "archive.db")}


@pytest.fixture
def settings(environ):
    return config.from_environ(environ)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.extensions["archive"].open()
    yield app
    app.extensions["archive"].close()
    app.extensions["deriver"].archive.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def derived(app):
    """Derive every message stored so far, as the background deriver would."""
    return app.extensions["deriver"].catch_up


@pytest.fixture
def rows(settings, derived):
    """Read the archive file directly, every message derived first."""

    def query(sql, params=()):
        derived()
        with sqlite3.connect(settings.database_path) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(sql, params)]

    return query


class Browser:
    """Datasette's own client, called synchronously from tests."""

    def __init__(self, datasette, derived=lambda: None):
        self.datasette = datasette
        self.derived = derived

    def get(self, path, headers=None, **kwargs):
        return self._call("get", path, headers=headers or {}, **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self._call("post", path, headers=headers or {}, **kwargs)

    def _call(self, method, path, **kwargs):
        self.derived()

        async def call():
            await self.datasette.invoke_startup()
            return await getattr(self.datasette.client, method)(path, **kwargs)

        return asyncio.run(call())


@pytest.fixture
def browser(app, settings, derived):
    return Browser(create_datasette(settings), derived)


# Named rooms and people counts for the analytics views and reports.
EXPORTS = Path(__file__).parent / "fixtures" / "control-hub"
PEOPLE = "RoomAnalytics.PeopleCount.Current"
LOVELACE = "Y2lzY29zcGFyazovL3VybjpURUFNOnVzLXdlc3QtMl9yL1BMQUNFL3JvMDBtMQ"
BOARD = "Y2lzY29zcGFyazovL3VybjpURUFNOnVzLXdlc3QtMl9yL0RFVklDRS9hMWIyYzNkNA"


def status(at, updated=None, removed=(), workspace=LOVELACE, device=BOARD, **extra):
    return {
        "type": "status",
        "workspaceId": workspace,
        "deviceId": device,
        "timestamp": f"2026-11-30T{at}:00.000Z",
        "changes": {"updated": updated or {}, "removed": list(removed)},
        **extra,
    }


@pytest.fixture
def post(client, derived):
    """Post messages in one request; they are derived before it returns."""

    def send(*messages):
        response = client.post(
            "/webhook", data=json.dumps(list(messages)), headers=SENDER_TOKEN
        )
        assert response.status_code == 200, response.json
        derived()

    return send


@pytest.fixture
def named(settings):
    for export in ("workspaces.csv", "devices.csv"):
        names.import_file(settings.database_path, EXPORTS / export)


@pytest.fixture
def lovelace_morning(post, named):
    """3 people 09:10-09:40, none until 10:20, 5 until 11:30, then none.

    Delivered out of order; 09:40 arrives twice identically (stored once) and
    once more as a full sync (a second row with the same time and value).
    """
    post(status("10:20", {PEOPLE: 5}))
    post(status("09:10", {PEOPLE: 3}))
    post(status("09:40", {PEOPLE: 0}))
    post(status("09:40", {PEOPLE: 0}))
    post(status("09:40", {PEOPLE: 0}, isFullSync=True))
    post(status("11:30", {PEOPLE: 0}))

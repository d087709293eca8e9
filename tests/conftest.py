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


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rows(settings):
    """Read the archive file directly: rows("SELECT ...") -> list of dicts."""

    def query(sql, params=()):
        with sqlite3.connect(settings.database_path) as connection:
            connection.row_factory = sqlite3.Row
            return [dict(row) for row in connection.execute(sql, params)]

    return query


class Browser:
    """Datasette's own client, called synchronously from tests."""

    def __init__(self, datasette):
        self.datasette = datasette

    def get(self, path, headers=None, **kwargs):
        return self._call("get", path, headers=headers or {}, **kwargs)

    def post(self, path, headers=None, **kwargs):
        return self._call("post", path, headers=headers or {}, **kwargs)

    def _call(self, method, path, **kwargs):
        async def call():
            await self.datasette.invoke_startup()
            return await getattr(self.datasette.client, method)(path, **kwargs)

        return asyncio.run(call())


@pytest.fixture
def browser(app, settings):
    return Browser(create_datasette(settings))

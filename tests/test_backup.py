"""Backups while the webhook keeps committing, and restoring them, by the CLI."""

import contextlib
import gzip
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CREDENTIALS, example
from server import ROOT, WebProcess, process_environment
from traffic import Traffic

import backup
from app import create_app


def cli(*arguments, database, check=True):
    environment = process_environment({"DATABASE_PATH": str(database)})
    return subprocess.run(
        [sys.executable, "cli.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def hashes(path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
        return {
            row[0] for row in connection.execute("SELECT body_sha256 FROM messages")
        }


@pytest.fixture
def web(tmp_path):
    environment = {**CREDENTIALS, "DATABASE_PATH": str(tmp_path / "archive.db")}
    process = WebProcess(environment, tmp_path / "web.log")
    yield process
    process.close()


def test_backup_under_ingest_then_restore_into_the_running_service(web, tmp_path):
    database = tmp_path / "archive.db"
    with Traffic(f"{web.url}/webhook", CREDENTIALS["WEBHOOK_TOKEN"], 3) as traffic:
        traffic.wait_for(300)
        acknowledged_before = traffic.acknowledged_hashes()
        made = cli("backup", "--gzip", database=database)
        traffic.wait_for(len(acknowledged_before) + 100)
    [copy] = (tmp_path / "backups").glob("archive-*Z.db.gz")
    unpacked = tmp_path / "unpacked.db"
    unpacked.write_bytes(gzip.decompress(copy.read_bytes()))
    in_backup = hashes(unpacked)
    live_before_restore = hashes(database)

    assert str(copy) in made.stdout
    assert set(traffic.statuses) == {200}
    assert in_backup >= acknowledged_before
    assert live_before_restore == traffic.acknowledged_hashes() > in_backup

    restored = cli("restore", "--yes", str(copy), database=database)
    [safety] = set((tmp_path / "backups").glob("archive-*Z.db")) - {copy}
    status = Traffic(f"{web.url}/webhook", CREDENTIALS["WEBHOOK_TOKEN"], 1)
    with status:
        status.wait_for(1)

    assert "restored" in restored.stdout
    assert hashes(safety) == live_before_restore
    assert hashes(database) == in_backup | status.acknowledged_hashes()


def test_rotation_keeps_the_newest_copies(tmp_path, settings):
    create_app(settings).extensions["archive"].open()
    start = datetime(2026, 12, 1, tzinfo=UTC)
    written = [
        backup.backup(
            settings.database_path,
            tmp_path / "b",
            keep=2,
            now=start + timedelta(days=n),
        )
        for n in range(4)
    ]

    remaining = sorted(p.name for p in (tmp_path / "b").iterdir())
    assert remaining == sorted(p.name for p in written[2:])
    assert remaining[0].startswith("archive-20261203T000000.000Z")


def test_restore_refuses_what_is_not_an_archive_and_keeps_the_live_one(
    client, settings, tmp_path
):
    client.post(
        "/webhook",
        data=example("batch.json"),
        headers={"Authorization": CREDENTIALS["WEBHOOK_TOKEN"]},
    )
    live = hashes(settings.database_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    packed = backup.backup(settings.database_path, tmp_path, compress=True)
    truncated = tmp_path / "truncated.db.gz"
    truncated.write_bytes(packed.read_bytes()[:-100])
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()

    refused = [
        cli("restore", "--yes", str(f), database=settings.database_path, check=False)
        for f in (junk, other, tmp_path / "missing.db.gz", truncated)
    ]

    assert [r.returncode for r in refused] == [1, 1, 1, 1]
    assert "is not a SQLite database" in refused[0].stderr
    assert "is not an archive: it has no messages table" in refused[1].stderr
    assert "does not exist" in refused[2].stderr
    assert "truncated.db.gz could not be unpacked" in refused[3].stderr
    assert not list(settings.database_path.parent.glob("tmp*.db"))  # cleaned up
    assert hashes(settings.database_path) == live


def test_backup_of_a_missing_archive_says_so(tmp_path):
    result = cli("backup", database=tmp_path / "nothing.db", check=False)

    assert result.returncode == 1
    assert "nothing.db does not exist" in result.stderr

"""Start-up refuses unwritable storage and weak secrets, and warns about wiped disks."""

import multiprocessing
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import CREDENTIALS, settings_from
from server import ROOT, WebProcess, run_refused

import archive
import config
import startup


def test_missing_database_directory_is_refused(tmp_path):
    settings = settings_from(DATABASE_PATH=str(tmp_path / "volume" / "archive.db"))

    with pytest.raises(config.ConfigError, match="volume does not exist"):
        startup.check_storage(settings, environ={})


@pytest.fixture(params=["directory", "file"])
def unwritable(request):
    """(DATABASE_PATH, the path that refuses writes) for a web process.

    Permissions do not stop root, so as root the path is made immutable
    (chattr +i), which refuses every write the way a read-only mount does.
    """
    database = request.getfixturevalue("tmp_path") / "archive.db"
    if request.param == "file":
        database.write_bytes(b"")
    locked = database if request.param == "file" else database.parent
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(locked)], check=True)
    else:
        locked.chmod(0o444 if locked == database else 0o555)
    yield database, locked
    if as_root:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    else:
        locked.chmod(0o644 if locked == database else 0o755)


def test_gunicorn_refuses_unwritable_storage(unwritable):
    database, locked = unwritable
    result = run_refused({**CREDENTIALS, "DATABASE_PATH": str(database)})

    assert result.returncode != 0
    kind = "database directory" if locked == database.parent else "database"
    assert f"configuration error: {kind} {locked} is not writable" in result.stderr


def test_gunicorn_refuses_a_weak_password_before_serving(tmp_path):
    weak = {"VIEWER_PASSWORD": "secret", "DATABASE_PATH": str(tmp_path / "a.db")}
    result = run_refused({**CREDENTIALS, **weak})

    assert result.returncode != 0
    [line] = [x for x in result.stderr.splitlines() if "configuration error" in x]
    assert "VIEWER_PASSWORD is too weak for production" in line


def test_gunicorn_warns_loudly_about_an_archive_in_tmp(tmp_path):
    environment = {**CREDENTIALS, "DATABASE_PATH": str(tmp_path / "archive.db")}
    web = WebProcess(environment, tmp_path / "web.log")
    web.close()

    log = (tmp_path / "web.log").read_text()
    assert "WARNING: the archive may be lost at the next deploy or restart" in log
    assert "is in a temporary directory" in log


OVERLAY_ROOT = (
    "22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u\n"
    "30 22 0:25 / /proc rw - proc proc rw\n"
)
VOLUME = "41 22 253:1 /rooms /data rw,noatime - ext4 /dev/vdb rw\n"
SPACED = r"42 22 253:2 / /mnt/my\040disk rw - xfs /dev/vdc rw" + "\n"


@pytest.mark.parametrize(
    "database, mountinfo, environ, expected",
    [
        ("/app/data/archive.db", OVERLAY_ROOT, {}, ["filesystem of type overlay at /"]),
        ("/data/archive.db", OVERLAY_ROOT + VOLUME, {}, []),
        ("/mnt/my disk/archive.db", OVERLAY_ROOT + SPACED, {}, []),
        ("/var/tmp/archive.db", None, {}, ["in a temporary directory"]),
    ],
)  # fmt: skip
def test_ephemeral_disk_heuristic(database, mountinfo, environ, expected):
    reasons = startup.ephemeral_reasons(Path(database), environ, mountinfo)

    assert len(reasons) == len(expected)
    for reason, fragment in zip(reasons, expected, strict=True):
        assert fragment in reason


def test_on_a_platform_an_archive_beside_the_code_is_ephemeral():
    beside_code = ROOT / "archive.db"
    on_render = startup.ephemeral_reasons(beside_code, {"RENDER": "true"}, None)
    elsewhere = startup.ephemeral_reasons(beside_code, {}, None)

    platform = "shares the application's filesystem, which RENDER platforms rebuild"
    assert any(platform in reason for reason in on_render)
    assert not any("application's filesystem" in reason for reason in elsewhere)


def test_development_runner_is_not_warned_about_its_local_archive(tmp_path):
    settings = settings_from(
        ARCHIVE_ENV="development", DATABASE_PATH=str(tmp_path / "archive.db")
    )

    assert startup.check_storage(settings, environ={"DYNO": "web.1"}) == []


def _open_archive(path, barrier, outcomes):
    barrier.wait()
    try:
        archive.connect(path).close()
        outcomes.put("ok")
    except sqlite3.Error as error:
        outcomes.put(str(error))


def test_workers_starting_together_all_open_the_archive(tmp_path):
    database = tmp_path / "archive.db"
    archive.connect(database).close()  # a restart: the schema is already there
    context = multiprocessing.get_context("fork")
    outcomes = context.Queue()
    for _ in range(8):
        barrier = context.Barrier(4)
        workers = [
            context.Process(target=_open_archive, args=(database, barrier, outcomes))
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)

    assert [outcomes.get(timeout=10) for _ in range(32)] == ["ok"] * 32

"""Naming rooms and devices from Control Hub's CSV exports."""

import shutil
import subprocess
import sys

import pytest
from conftest import EXPORTS, LOVELACE, SENDER_BASIC, example
from server import ROOT

import names

HOPPER = "Y2lzY29zcGFyazovL3VybjpURUFNOnVzLXdlc3QtMl9yL1BMQUNFL3JvMDBtMg"


def test_workspace_export_with_bom_and_extra_columns_is_imported(settings, rows):
    report = names.import_file(settings.database_path, EXPORTS / "workspaces.csv")

    assert (report.table, report.added, report.updated) == ("workspaces", 3, 0)
    assert report.skipped == [
        "line 5: capacity 'about ten' is not a whole number",
        "line 6: no ID",
    ]
    stored = rows("SELECT * FROM workspaces ORDER BY name")
    assert [(r["name"], r["capacity"], r["floor"]) for r in stored] == [
        ("Focus 1", None, "4"),
        ("Hopper, big room", 14, "3"),
        ("Lovelace", 8, "3"),
    ]
    assert stored[2]["id"] == LOVELACE and stored[2]["type"] == "Meeting room"
    assert stored[2]["location"] == "Oslo, Storgata 1"


def test_device_export_is_recognised_by_its_columns(settings, rows):
    report = names.import_file(settings.database_path, EXPORTS / "devices.csv")

    assert (report.table, report.added, report.skipped) == ("devices", 3, [])
    board = rows("SELECT * FROM devices WHERE serial = 'FOC2612N0AB'")[0]
    assert board["name"] == "Lovelace Board"
    assert board["product"] == "Cisco Board Pro 55"
    assert board["workspace_id"] == LOVELACE
    assert board["mac"] == "A4:B4:39:00:12:34"


def test_a_later_export_updates_by_id_and_keeps_columns_it_lacks(settings, rows):
    names.import_file(settings.database_path, EXPORTS / "workspaces.csv")
    later = names.import_file(settings.database_path, EXPORTS / "workspaces-later.csv")

    assert (later.added, later.updated, later.unchanged) == (1, 1, 1)
    hopper = rows("SELECT * FROM workspaces WHERE id = ?", (HOPPER,))[0]
    assert (hopper["name"], hopper["capacity"]) == ("Hopper", 16)
    assert hopper["location"] == "Oslo, Storgata 1"  # not in the later export
    assert rows("SELECT count(*) AS n FROM workspaces")[0]["n"] == 4


def test_importing_names_never_touches_archived_messages(client, settings, rows):
    for name in ("status-people-count.json", "status-environment.json"):
        client.post("/webhook", data=example(name), headers=SENDER_BASIC)
    before = rows("SELECT * FROM messages")

    names.import_file(settings.database_path, EXPORTS / "workspaces.csv")
    names.import_file(settings.database_path, EXPORTS / "devices.csv")

    assert rows("SELECT * FROM messages") == before
    people = rows("SELECT room, device, people FROM people_count")
    assert people == [{"room": "Lovelace", "device": "Lovelace Board", "people": 4}]


def test_a_file_that_is_no_export_is_refused(settings, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("Room,Seats\nA,4\n")

    with pytest.raises(names.UnknownExport, match="neither"):
        names.import_file(settings.database_path, other)


def test_cli_reports_added_updated_and_skipped(environ, tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(EXPORTS, exports)
    command = [sys.executable, "cli.py", "import-names"]
    env = {"DATABASE_PATH": environ["DATABASE_PATH"], "PATH": "/usr/bin:/bin"}

    first = subprocess.run(
        [*command, str(exports / "workspaces.csv"), str(exports / "devices.csv")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    again = subprocess.run(
        [*command, str(exports / "workspaces.csv")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert first.returncode == 0, first.stderr
    assert "workspaces: 3 added, 0 updated, 0 unchanged, 2 skipped" in first.stdout
    assert "devices: 3 added, 0 updated, 0 unchanged, 0 skipped" in first.stdout
    assert "skipped line 6: no ID" in first.stderr
    assert "workspaces: 0 added, 0 updated, 3 unchanged, 2 skipped" in again.stdout


def test_simulated_exports_name_every_simulated_room(settings, rows, tmp_path):
    import simulator

    building = simulator.Building(rooms=5, seed=3)
    for path in simulator.write_name_exports(building, tmp_path / "names"):
        names.import_file(settings.database_path, path)

    stored = rows("SELECT id, name, capacity FROM workspaces ORDER BY name")
    expected = sorted((r.workspace_id, r.name, r.capacity) for r in building.rooms)
    assert [tuple(r.values()) for r in stored] == sorted(expected, key=lambda r: r[1])
    assert rows("SELECT count(*) AS n FROM devices")[0]["n"] == 5

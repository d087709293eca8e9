"""Workspace and device names from Control Hub's CSV exports.

Control Hub exports workspaces (Workspaces → Export) and devices (Devices →
Export) as CSV. `import_file` recognises which export a file is by its header,
matches columns by their normalised names (so order, extra columns, a UTF-8
BOM and small wording differences do not matter) and upserts the rows into
`workspaces` or `devices` with sqlite-utils. It touches no other table.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from archive import connect, writer_turn
from messages import now_timestamp

# Our column: the export headers it may come from, normalised (see _normalise).
WORKSPACE_COLUMNS = {
    "id": ("workspace id", "id"),
    "name": ("name", "workspace name", "workspace", "display name"),
    "capacity": ("capacity", "workspace capacity"),
    "type": ("type", "workspace type"),
    "location": ("location", "location name", "workspace location"),
    "floor": ("floor", "floor name"),
    "building": ("building", "building name"),
    "sip_address": ("sip address", "sip uri"),
    "calendar": ("calendar", "calendar type", "calendar email"),
}
DEVICE_COLUMNS = {
    "id": ("device id", "id"),
    "workspace_id": ("workspace id", "place id"),
    "name": ("display name", "device name", "name"),
    "product": ("product", "model", "device type"),
    "serial": ("serial number", "serial"),
    "mac": ("mac address", "mac"),
    "ip": ("ip address", "ip"),
    "software": ("software", "software version"),
}
KINDS = {"devices": DEVICE_COLUMNS, "workspaces": WORKSPACE_COLUMNS}


class UnknownExport(ValueError):
    """The file is neither a workspace nor a device export."""


@dataclass
class ImportReport:
    table: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.table}: {self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.skipped)} skipped"
        )


def import_file(database_path: Path, csv_path: Path) -> ImportReport:
    """Upsert one export into the archive; return what happened to its rows."""
    text = Path(csv_path).read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text), _dialect(text))
    header = next(reader, None)
    if not header:
        raise UnknownExport(f"{csv_path} is empty")
    table, positions = _recognise(header, csv_path)

    report = ImportReport(table)
    records = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        record, problem = _record(cells, positions)
        if problem:
            report.skipped.append(f"line {line}: {problem}")
        else:
            records.append(record)

    connection = connect(Path(database_path))
    try:
        with writer_turn(Path(database_path)):
            _upsert(sqlite_utils.Database(connection), report, records)
    finally:
        connection.close()
    return report


def _dialect(text: str):
    try:
        return csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _normalise(header: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", header.lower()).split())


def _recognise(header: list[str], csv_path) -> tuple[str, dict[str, int]]:
    """Which table the export fills, and the position of each of its columns."""
    found = {_normalise(name): position for position, name in enumerate(header)}
    table = (
        "devices"
        if "device id" in found
        else "workspaces"
        if "workspace id" in found
        else None
    )
    if table is None:
        raise UnknownExport(
            f"{csv_path} has neither a 'Device ID' nor a 'Workspace ID' column"
        )
    positions = {}
    for column, aliases in KINDS[table].items():
        position = next((found[a] for a in aliases if a in found), None)
        if position is not None:
            positions[column] = position
    return table, positions


def _record(cells: list[str], positions: dict[str, int]) -> tuple[dict, str | None]:
    record = {}
    for column, position in positions.items():
        value = cells[position].strip() if position < len(cells) else ""
        record[column] = value or None
    if not record.get("id"):
        return record, "no ID"
    capacity = record.get("capacity")
    if capacity is not None:
        if not capacity.isdigit():
            return record, f"capacity {capacity!r} is not a whole number"
        record["capacity"] = int(capacity)
    return record, None


def _upsert(db: sqlite_utils.Database, report: ImportReport, records: list[dict]):
    """One transaction; columns absent from the export keep their stored values."""
    table = db[report.table]
    stored = {row["id"]: row for row in table.rows}
    changed = []
    for record in records:
        before = stored.get(record["id"])
        if before is None:
            report.added += 1
        elif all(before.get(k) == v for k, v in record.items()):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        stored[record["id"]] = {**(before or {}), **record}
        changed.append({**record, "imported_at": now_timestamp()})
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        table.upsert_all(changed, pk="id")
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    if db.conn.in_transaction:
        db.conn.execute("COMMIT")

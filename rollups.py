"""The derived tables behind the room analytics views: install, rebuild, prune.

rollups.sql defines tables that SQLite triggers keep up to date inside the
webhook's own transactions, and the public views over them. `install` applies
it at every start and rebuilds the tables in one pass when they were built by
an older definition or not at all (an archive from before they existed).
`prune_before` drops their rows older than a cutoff, for retention.
"""

import sqlite3
from pathlib import Path

ROLLUPS = Path(__file__).with_name("rollups.sql")
# Raise when rollups.sql changes what a derived table holds: the next start
# then rebuilds every derived table from status_changes and messages.
VERSION = 2
# A rebuild holds the write lock; other workers starting meanwhile wait for it.
INSTALL_BUSY_TIMEOUT_MS = 15 * 60 * 1000
PEOPLE = "RoomAnalytics.PeopleCount.Current"
DERIVED_TABLES = (
    "people_count_changes", "occupancy_device_hours", "occupancy_room_hours",
    "calendar_hours", "latest_values", "environment_readings", "workspaces_seen",
    "devices_heard", "occupancy_room_days", "status_change_counts", "calendar_days",
    "message_type_counts",
)  # fmt: skip


def install(connection: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Apply rollups.sql, then rebuild the derived tables if they are stale."""
    connection.execute(f"PRAGMA busy_timeout = {INSTALL_BUSY_TIMEOUT_MS}")
    try:
        # One transaction, as for schema.sql: workers starting together never
        # see a view or trigger another one has just dropped.
        connection.executescript(f"BEGIN IMMEDIATE;\n{ROLLUPS.read_text()}\nCOMMIT;")
        connection.execute("BEGIN IMMEDIATE")
        try:
            _fill_hour_offsets(connection)
            if _built_version(connection) != VERSION:
                rebuild(connection)
            _extend_calendar(connection)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")


def _built_version(connection) -> int | None:
    row = connection.execute(
        "SELECT version FROM rollup_versions WHERE name = 'derived'"
    ).fetchone()
    return row[0] if row else None


def rebuild(connection: sqlite3.Connection) -> None:
    """Refill every derived table from the archive; call inside a write transaction."""
    connection.execute("INSERT INTO rollup_versions VALUES ('rebuilding', 0)")
    for table in DERIVED_TABLES:
        connection.execute(f"DELETE FROM {table}")
    # Building each index once over the filled table is much quicker than
    # keeping it up to date row by row.
    indexes = drop_indexes(connection, DERIVED_TABLES)
    for statement in REBUILD:
        connection.execute(statement, {"people": PEOPLE})
    for sql in indexes:
        connection.execute(sql)
    connection.execute("DELETE FROM rollup_versions WHERE name = 'rebuilding'")
    connection.execute(
        "INSERT INTO rollup_versions VALUES ('derived', ?) "
        "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
        (VERSION,),
    )


def drop_indexes(connection, tables) -> list[str]:
    """Drop the tables' own indexes (not their keys); return their SQL."""
    marks = ",".join("?" * len(tables))
    found = connection.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' "
        f"AND sql IS NOT NULL AND tbl_name IN ({marks})",
        tables,
    ).fetchall()
    for name, _ in found:
        connection.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in found]


def _fill_hour_offsets(connection) -> None:
    if connection.execute("SELECT COUNT(*) FROM hour_offsets").fetchone()[0] < 1000:
        connection.execute(
            "WITH RECURSIVE n (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM n"
            " WHERE n < 999) INSERT OR IGNORE INTO hour_offsets SELECT n FROM n"
        )


def _extend_calendar(connection) -> None:
    """List every hour from the oldest count (or now) to a year ahead."""
    connection.execute(
        """
        WITH RECURSIVE calendar (hour) AS (
            SELECT strftime('%Y-%m-%dT%H:00:00.000Z', COALESCE(
                (SELECT MAX(hour) FROM calendar_hours),
                (SELECT MIN(starts_at) FROM people_count_changes), 'now'))
            UNION ALL
            SELECT strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour') FROM calendar
            WHERE hour < MAX(
                strftime('%Y-%m-%dT%H:00:00.000Z', 'now', '+366 days'),
                COALESCE((SELECT MAX(starts_at) FROM people_count_changes), ''))
        )
        INSERT OR IGNORE INTO calendar_hours SELECT hour FROM calendar
        """
    )


def prune_before(connection: sqlite3.Connection, cutoff: str) -> dict[str, int]:
    """Delete derived rows older than cutoff (archive time text); call in a transaction.

    Meant for retention, after it deletes the status changes and messages
    before the same cutoff. People count intervals and hours are dropped by
    their start, so the hours after the cutoff keep their figures; the rest
    by the time of the report they come from. Returns rows deleted per table.
    """
    deleted = {}
    for table, column in PRUNABLE:
        cursor = connection.execute(
            f"DELETE FROM {table} WHERE {column} < ?", (cutoff,)
        )
        deleted[table] = cursor.rowcount
    return deleted


PRUNABLE = (
    ("people_count_changes", "starts_at"),
    ("occupancy_device_hours", "hour"),
    ("occupancy_room_hours", "hour"),
    ("latest_values", "at"),
    ("environment_readings", "at"),
    ("workspaces_seen", "last_received_at"),
    ("devices_heard", "last_received_at"),
)

# One pass each over status_changes and messages, in the order the tables
# depend on each other. Same results as the triggers, row by row.
REBUILD = (
    """
    INSERT INTO people_count_changes
    SELECT id, workspace_id, device_id,
           CASE WHEN removed THEN NULL ELSE CAST(number AS INTEGER) END, at,
           CASE WHEN device_id IS NOT NULL
                THEN LEAD(at) OVER (PARTITION BY device_id ORDER BY at, id) END
    FROM status_changes WHERE key = :people
    """,
    """
    INSERT INTO occupancy_device_hours
    WITH RECURSIVE pieces (workspace_id, device_id, people, hour, starts_at, ends_at)
    AS (
        SELECT workspace_id, device_id, people,
               strftime('%Y-%m-%dT%H:00:00.000Z', starts_at), starts_at, ends_at
        FROM people_count_changes
        WHERE ends_at > starts_at
        UNION ALL
        SELECT workspace_id, device_id, people,
               strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour'), starts_at, ends_at
        FROM pieces
        WHERE strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour') < ends_at
    )
    SELECT workspace_id, device_id, hour, MAX(people), SUM(people * seconds),
           SUM(CASE WHEN people IS NOT NULL THEN seconds END),
           COALESCE(SUM(CASE WHEN people > 0 THEN seconds END), 0)
    FROM (
        SELECT workspace_id, device_id, people, hour,
               86400 * (
                   julianday(MIN(ends_at,
                                 strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour')))
                   - julianday(MAX(starts_at, hour))
               ) AS seconds
        FROM pieces
    )
    WHERE seconds > 0
    GROUP BY workspace_id, device_id, hour
    """,
    """
    INSERT INTO occupancy_room_hours
    SELECT workspace_id, hour, MAX(max_people), MAX(people_seconds / known_seconds),
           MAX(occupied_seconds) / 60.0
    FROM occupancy_device_hours
    GROUP BY workspace_id, hour
    """,
    """
    INSERT INTO latest_values
    SELECT s.device_id, s.key, s.id, s.workspace_id, s.value, s.number, s.removed,
           s.at
    -- Each device's keys from the index, then the newest change of each by
    -- reading the index backwards: no sort of the whole table.
    FROM (SELECT DISTINCT device_id, key FROM status_changes
          WHERE device_id IS NOT NULL) AS pair
    JOIN status_changes AS s ON s.id = (
        SELECT n.id FROM status_changes AS n
        WHERE n.device_id = pair.device_id AND n.key = pair.key
        ORDER BY n.at DESC, n.id DESC LIMIT 1)
    """,
    """
    INSERT INTO environment_readings
    SELECT workspace_id, device_id, at,
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientTemperature' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.RelativeHumidity' THEN number END),
           MAX(CASE WHEN key LIKE '%RoomAnalytics.AirQuality.Index' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientNoise.Level.A' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.Sound.Level.A' THEN number END)
    FROM status_changes
    WHERE removed = 0
      AND (key IN ('RoomAnalytics.AmbientTemperature',
                   'RoomAnalytics.RelativeHumidity',
                   'RoomAnalytics.AmbientNoise.Level.A',
                   'RoomAnalytics.Sound.Level.A')
           OR (key > 'Peripherals.ConnectedDevice['
               AND key < 'Peripherals.ConnectedDevice\\'
               AND key LIKE
                   'Peripherals.ConnectedDevice[%].RoomAnalytics.AirQuality.Index'))
    GROUP BY workspace_id, device_id, at
    """,
    """
    INSERT INTO occupancy_room_days
    SELECT workspace_id, substr(hour, 1, 10),
           SUM(CASE WHEN strftime('%w', hour) BETWEEN '1' AND '5'
                     AND substr(hour, 12, 2) BETWEEN '08' AND '17'
                    THEN ROUND(minutes_occupied, 1) END),
           MAX(max_people)
    FROM occupancy_room_hours
    WHERE workspace_id IS NOT NULL
    GROUP BY workspace_id, substr(hour, 1, 10)
    """,
    """
    INSERT INTO status_change_counts
    SELECT key, removed, COUNT(*) FROM status_changes GROUP BY key, removed
    """,
    """
    INSERT INTO message_type_counts SELECT type, COUNT(*) FROM messages GROUP BY type
    """,
    """
    INSERT INTO workspaces_seen
    SELECT workspace_id, MAX(received_at) FROM messages
    WHERE workspace_id IS NOT NULL GROUP BY workspace_id
    """,
    """
    INSERT INTO devices_heard
    SELECT device_id, MAX(sent_at), MAX(received_at) FROM messages
    WHERE device_id IS NOT NULL GROUP BY device_id
    """,
)

-- The archive's public schema: people write SQL against these names.
-- Every timestamp is UTC ISO-8601 with milliseconds and a Z, fixed width
-- (2026-11-30T09:14:07.512Z), so ordering by text is ordering by time.
-- Statements are idempotent: the service applies this file at every start.

CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    type TEXT NOT NULL,
    org_id TEXT,
    workspace_id TEXT,
    device_id TEXT,
    app_id TEXT,
    sent_at TEXT,
    is_full_sync INTEGER,
    body TEXT NOT NULL,
    body_sha256 TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS messages_by_device ON messages (device_id, sent_at);
-- Rooms are looked up in status_changes and events; on messages such an index
-- cost every stored message about 15 µs and 100 bytes, and no view used it.
DROP INDEX IF EXISTS messages_by_workspace;
CREATE INDEX IF NOT EXISTS messages_by_received ON messages (received_at);

CREATE TABLE IF NOT EXISTS status_changes (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    at TEXT NOT NULL,
    org_id TEXT,
    workspace_id TEXT,
    device_id TEXT,
    key TEXT NOT NULL,
    value TEXT,
    number REAL,
    removed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS status_changes_by_key ON status_changes (key, at);
CREATE INDEX IF NOT EXISTS status_changes_by_device
    ON status_changes (device_id, key, at);
CREATE INDEX IF NOT EXISTS status_changes_by_workspace
    ON status_changes (workspace_id, at);
CREATE INDEX IF NOT EXISTS status_changes_by_message ON status_changes (message_id);

CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id),
    at TEXT NOT NULL,
    org_id TEXT,
    workspace_id TEXT,
    device_id TEXT,
    key TEXT NOT NULL,
    value TEXT
);
CREATE INDEX IF NOT EXISTS events_by_key ON events (key, at);
CREATE INDEX IF NOT EXISTS events_by_device ON events (device_id, at);
CREATE INDEX IF NOT EXISTS events_by_workspace ON events (workspace_id, at);
CREATE INDEX IF NOT EXISTS events_by_message ON events (message_id);

-- How far status_changes and events have been derived from messages
-- (derive.py): every message whose id is at most derived_through has its rows.
CREATE TABLE IF NOT EXISTS derivation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    derived_through INTEGER NOT NULL
);
-- Created on an archive that already holds messages, it starts past them all:
-- the service used to derive each message as it stored it.
INSERT OR IGNORE INTO derivation (id, derived_through)
SELECT 1, coalesce(max(id), 0) FROM messages;

-- Authenticated requests that could not be archived as messages. The body
-- is kept exactly as received: TEXT when it was UTF-8, otherwise a BLOB.
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    content_type TEXT,
    remote_addr TEXT,
    body TEXT
);
CREATE INDEX IF NOT EXISTS rejected_by_received ON rejected (received_at);

-- Names for workspaces and devices, imported from Control Hub's CSV exports
-- (cli.py import-names). Rows are keyed by Control Hub's IDs, so a later
-- export updates names in place; archived messages never depend on them.
CREATE TABLE IF NOT EXISTS workspaces (
    id TEXT PRIMARY KEY,
    name TEXT,
    capacity INTEGER,
    type TEXT,
    location TEXT,
    floor TEXT,
    building TEXT,
    sip_address TEXT,
    calendar TEXT,
    imported_at TEXT
);

CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    workspace_id TEXT,
    name TEXT,
    product TEXT,
    serial TEXT,
    mac TEXT,
    ip TEXT,
    software TEXT,
    imported_at TEXT
);
CREATE INDEX IF NOT EXISTS devices_by_workspace ON devices (workspace_id);

-- The room analytics views and the tables that keep them fast are in
-- rollups.sql, applied right after this file (see rollups.py).

-- ---------------------------------------------------------------------------
-- Ingest health views, dropped and recreated at every start like the
-- analytics views.
-- ---------------------------------------------------------------------------

DROP VIEW IF EXISTS ingest_stats;
DROP VIEW IF EXISTS newest_message_per_device;

-- What arrived and what was refused, per hour of the last seven days (older
-- hours stay reachable by SQL on the tables). `detail` is the message type
-- for stored messages and the reason for rejected requests.
CREATE VIEW ingest_stats AS
SELECT substr(received_at, 1, 13) || ':00Z' AS hour,
       'stored' AS outcome,
       type AS detail,
       count(*) AS count
FROM messages
WHERE received_at >= strftime('%Y-%m-%dT%H', 'now', '-7 days')
GROUP BY hour, detail
UNION ALL
SELECT substr(received_at, 1, 13) || ':00Z' AS hour,
       'rejected' AS outcome,
       reason AS detail,
       count(*) AS count
FROM rejected
WHERE received_at >= strftime('%Y-%m-%dT%H', 'now', '-7 days')
GROUP BY hour, detail
ORDER BY hour DESC, outcome, count DESC;

-- Every device heard from, when this service last received a message of its,
-- and its newest message by the device's own clock. devices_heard (rollups.sql)
-- has a row per device, and each newest message is one step down
-- messages_by_device, so the view reads a few rows per device rather than
-- every message.
CREATE VIEW newest_message_per_device AS
SELECT m.device_id,
       m.workspace_id,
       heard.last_received_at AS newest_received_at,
       m.sent_at AS newest_sent_at,
       m.type AS newest_type,
       CAST(round((julianday('now') - julianday(heard.last_received_at)) * 1440)
            AS INTEGER) AS minutes_silent
FROM devices_heard AS heard
JOIN messages AS m ON m.id = (
    SELECT id FROM messages
    WHERE device_id = heard.device_id
    ORDER BY sent_at DESC, id DESC
    LIMIT 1
)
ORDER BY minutes_silent DESC;

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
CREATE INDEX IF NOT EXISTS messages_by_workspace ON messages (workspace_id, sent_at);
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

-- Room analytics: derived tables kept by triggers, and the public views over them.
-- Applied at every start after schema.sql. The triggers fire inside the
-- webhook's own INSERTs, so a derived row commits with its message or not at
-- all. Each derived table can be rebuilt from status_changes and messages
-- (rollups.py does so when its version changes) and pruned by time.
--
-- Views order by `at`, never by `id`, so a late delivery lands in its place
-- in time, and they tolerate the same change archived twice. A room without
-- a name shows under its workspace ID.

DROP VIEW IF EXISTS room_utilisation_daily;
DROP VIEW IF EXISTS room_occupancy_hourly;
DROP VIEW IF EXISTS open_room_hours;
DROP VIEW IF EXISTS people_count_intervals;
DROP VIEW IF EXISTS people_count;
DROP VIEW IF EXISTS environment;
DROP VIEW IF EXISTS latest_status;
DROP VIEW IF EXISTS rooms;

-- Which derived tables were built by which definition (see rollups.py).
CREATE TABLE IF NOT EXISTS rollup_versions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

-- Every people count change as an interval: it holds from starts_at until the
-- device's next change in time order (ties by change id), NULL while latest.
-- people is NULL when the key was removed: the count is unknown.
CREATE TABLE IF NOT EXISTS people_count_changes (
    change_id INTEGER PRIMARY KEY,
    workspace_id TEXT,
    device_id TEXT,
    people INTEGER,
    starts_at TEXT NOT NULL,
    ends_at TEXT
);
CREATE INDEX IF NOT EXISTS people_count_changes_by_device
    ON people_count_changes (device_id, starts_at, change_id);
CREATE INDEX IF NOT EXISTS people_count_changes_by_start
    ON people_count_changes (starts_at);
CREATE INDEX IF NOT EXISTS people_count_changes_by_workspace
    ON people_count_changes (workspace_id, starts_at);
CREATE INDEX IF NOT EXISTS people_count_changes_by_people
    ON people_count_changes (workspace_id, people);
CREATE INDEX IF NOT EXISTS people_count_changes_open
    ON people_count_changes (workspace_id, starts_at) WHERE ends_at IS NULL;

-- Per device and UTC hour, what its closed intervals add up to. The latest,
-- still open interval of each device is added at query time.
CREATE TABLE IF NOT EXISTS occupancy_device_hours (
    workspace_id TEXT,
    device_id TEXT NOT NULL,
    hour TEXT NOT NULL,
    max_people INTEGER,
    people_seconds REAL,
    known_seconds REAL,
    occupied_seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS occupancy_device_hours_by_device
    ON occupancy_device_hours (device_id, hour);
CREATE INDEX IF NOT EXISTS occupancy_device_hours_by_workspace
    ON occupancy_device_hours (workspace_id, hour);

-- Per room and UTC hour, the busiest device's figures from occupancy_device_hours.
CREATE TABLE IF NOT EXISTS occupancy_room_hours (
    workspace_id TEXT,
    hour TEXT NOT NULL,
    max_people INTEGER,
    average_people REAL,
    minutes_occupied REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS occupancy_room_hours_by_hour
    ON occupancy_room_hours (hour, workspace_id);
CREATE INDEX IF NOT EXISTS occupancy_room_hours_by_workspace
    ON occupancy_room_hours (workspace_id, hour);

-- Ranges of a device's hours that a new people count changed, recomputed and
-- removed again by the trigger below within the same INSERT.
CREATE TABLE IF NOT EXISTS occupancy_device_hours_stale (
    device_id TEXT NOT NULL,
    first_hour TEXT NOT NULL,
    last_hour TEXT NOT NULL,
    span INTEGER NOT NULL  -- hours from first_hour to last_hour
);

-- Room hours whose device hours changed, recomputed and removed at once.
CREATE TABLE IF NOT EXISTS occupancy_room_hours_stale (
    workspace_id TEXT,
    hour TEXT NOT NULL
);

-- Per room and UTC day, what its closed room hours add up to for
-- room_utilisation_daily: minutes occupied within office hours (NULL when the
-- day has no office hours) and the peak count. Kept by the triggers on
-- occupancy_room_hours below; days the open intervals reach are computed at
-- query time.
CREATE TABLE IF NOT EXISTS occupancy_room_days (
    workspace_id TEXT NOT NULL,
    day TEXT NOT NULL,
    office_minutes REAL,
    peak_people INTEGER,
    PRIMARY KEY (workspace_id, day)
);
CREATE INDEX IF NOT EXISTS occupancy_room_days_by_day
    ON occupancy_room_days (day, workspace_id);

-- How many messages of each type: the messages page's facet reads it.
CREATE TABLE IF NOT EXISTS message_type_counts (
    type TEXT PRIMARY KEY,
    messages INTEGER NOT NULL
) WITHOUT ROWID;

-- Room days whose room hours changed, recomputed and removed at once.
CREATE TABLE IF NOT EXISTS occupancy_room_days_stale (
    workspace_id TEXT NOT NULL,
    hour TEXT NOT NULL
);

-- How many status changes each key has, removed or not: the status_changes
-- page's facets read it instead of counting millions of rows.
CREATE TABLE IF NOT EXISTS status_change_counts (
    key TEXT NOT NULL,
    removed INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    PRIMARY KEY (key, removed)
) WITHOUT ROWID;

-- The numbers 0 to 999, for cutting intervals at hour boundaries inside
-- triggers, which cannot use WITH RECURSIVE: hour 1000 * a + b of a range.
-- Filled by rollups.py.
CREATE TABLE IF NOT EXISTS hour_offsets (n INTEGER PRIMARY KEY);

-- The UTC hours room_occupancy_hourly can show, one unbroken run from the
-- oldest people count to a year after the service last started (rollups.py
-- extends it at every start, the triggers below to older or newer counts).
CREATE TABLE IF NOT EXISTS calendar_hours (hour TEXT PRIMARY KEY) WITHOUT ROWID;
-- The days of those hours, for room_utilisation_daily; the trigger below
-- follows calendar_hours.
CREATE TABLE IF NOT EXISTS calendar_days (day TEXT PRIMARY KEY) WITHOUT ROWID;

-- The latest value of each status key per device, by (at, change id).
CREATE TABLE IF NOT EXISTS latest_values (
    device_id TEXT NOT NULL,
    key TEXT NOT NULL,
    change_id INTEGER NOT NULL,
    workspace_id TEXT,
    value TEXT,
    number REAL,
    removed INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (device_id, key)
);
CREATE INDEX IF NOT EXISTS latest_values_by_at ON latest_values (at);

-- One row per device report with an environment value, the values pivoted.
CREATE TABLE IF NOT EXISTS environment_readings (
    workspace_id TEXT,
    device_id TEXT,
    at TEXT NOT NULL,
    temperature_c REAL,
    humidity_percent REAL,
    air_quality_index REAL,
    ambient_noise_dba REAL,
    sound_level_dba REAL
);
CREATE INDEX IF NOT EXISTS environment_readings_by_device
    ON environment_readings (device_id, at);
CREATE INDEX IF NOT EXISTS environment_readings_by_at ON environment_readings (at);
CREATE INDEX IF NOT EXISTS environment_readings_by_workspace
    ON environment_readings (workspace_id, at);

-- Workspaces and devices that sent messages, and when last.
CREATE TABLE IF NOT EXISTS workspaces_seen (
    workspace_id TEXT PRIMARY KEY,
    last_received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices_heard (
    device_id TEXT PRIMARY KEY,
    last_sent_at TEXT,
    last_received_at TEXT NOT NULL
);

-- ---------------------------------------------------------------------------
-- Triggers. Dropped and recreated at every start, like the views.
-- ---------------------------------------------------------------------------

DROP TRIGGER IF EXISTS message_sources;
CREATE TRIGGER message_sources AFTER INSERT ON messages
BEGIN
    INSERT INTO workspaces_seen (workspace_id, last_received_at)
    SELECT NEW.workspace_id, NEW.received_at WHERE NEW.workspace_id IS NOT NULL
    ON CONFLICT (workspace_id) DO UPDATE
        SET last_received_at = MAX(last_received_at, excluded.last_received_at);
    INSERT INTO devices_heard (device_id, last_sent_at, last_received_at)
    SELECT NEW.device_id, NEW.sent_at, NEW.received_at WHERE NEW.device_id IS NOT NULL
    ON CONFLICT (device_id) DO UPDATE
        SET last_sent_at = CASE WHEN excluded.last_sent_at > last_sent_at
                                  OR last_sent_at IS NULL
                                THEN excluded.last_sent_at ELSE last_sent_at END,
            last_received_at = MAX(last_received_at, excluded.last_received_at);
END;

DROP TRIGGER IF EXISTS latest_value;
CREATE TRIGGER latest_value AFTER INSERT ON status_changes
WHEN NEW.device_id IS NOT NULL
BEGIN
    INSERT INTO latest_values (device_id, key, change_id, workspace_id, value,
                               number, removed, at)
    VALUES (NEW.device_id, NEW.key, NEW.id, NEW.workspace_id, NEW.value,
            NEW.number, NEW.removed, NEW.at)
    ON CONFLICT (device_id, key) DO UPDATE
        SET change_id = excluded.change_id, workspace_id = excluded.workspace_id,
            value = excluded.value, number = excluded.number,
            removed = excluded.removed, at = excluded.at
        WHERE (excluded.at, excluded.change_id) > (at, change_id);
END;

DROP TRIGGER IF EXISTS environment_reading;
CREATE TRIGGER environment_reading AFTER INSERT ON status_changes
WHEN NEW.removed = 0
 AND (NEW.key IN ('RoomAnalytics.AmbientTemperature', 'RoomAnalytics.RelativeHumidity',
                  'RoomAnalytics.AmbientNoise.Level.A', 'RoomAnalytics.Sound.Level.A')
      OR (NEW.key > 'Peripherals.ConnectedDevice[' AND NEW.key < 'Peripherals.ConnectedDevice\'
          AND NEW.key LIKE 'Peripherals.ConnectedDevice[%].RoomAnalytics.AirQuality.Index'))
BEGIN
    INSERT INTO environment_readings (workspace_id, device_id, at)
    SELECT NEW.workspace_id, NEW.device_id, NEW.at
    WHERE NOT EXISTS (
        SELECT 1 FROM environment_readings
        WHERE device_id IS NEW.device_id AND at = NEW.at
          AND workspace_id IS NEW.workspace_id);
    -- Two reports of one key at one moment keep the larger value.
    UPDATE environment_readings
    SET temperature_c = CASE WHEN NEW.key = 'RoomAnalytics.AmbientTemperature'
                              AND (temperature_c IS NULL OR NEW.number > temperature_c)
                             THEN NEW.number ELSE temperature_c END,
        humidity_percent = CASE WHEN NEW.key = 'RoomAnalytics.RelativeHumidity'
                                 AND (humidity_percent IS NULL OR NEW.number > humidity_percent)
                                THEN NEW.number ELSE humidity_percent END,
        air_quality_index = CASE WHEN NEW.key LIKE '%RoomAnalytics.AirQuality.Index'
                                  AND (air_quality_index IS NULL OR NEW.number > air_quality_index)
                                 THEN NEW.number ELSE air_quality_index END,
        ambient_noise_dba = CASE WHEN NEW.key = 'RoomAnalytics.AmbientNoise.Level.A'
                                  AND (ambient_noise_dba IS NULL OR NEW.number > ambient_noise_dba)
                                 THEN NEW.number ELSE ambient_noise_dba END,
        sound_level_dba = CASE WHEN NEW.key = 'RoomAnalytics.Sound.Level.A'
                                AND (sound_level_dba IS NULL OR NEW.number > sound_level_dba)
                               THEN NEW.number ELSE sound_level_dba END
    WHERE device_id IS NEW.device_id AND at = NEW.at
      AND workspace_id IS NEW.workspace_id AND NEW.number IS NOT NULL;
END;

-- A new people count closes the interval before it (in time, not arrival) and
-- ends where the next one starts; the hours both touch are recomputed.
DROP TRIGGER IF EXISTS people_count_change;
CREATE TRIGGER people_count_change AFTER INSERT ON status_changes
WHEN NEW.key = 'RoomAnalytics.PeopleCount.Current'
BEGIN
    INSERT INTO people_count_changes (change_id, workspace_id, device_id, people,
                                      starts_at, ends_at)
    VALUES (NEW.id, NEW.workspace_id, NEW.device_id,
            CASE WHEN NEW.removed THEN NULL ELSE CAST(NEW.number AS INTEGER) END,
            NEW.at,
            (SELECT n.starts_at FROM people_count_changes AS n
             WHERE n.device_id = NEW.device_id
               AND (n.starts_at, n.change_id) > (NEW.at, NEW.id)
             ORDER BY n.starts_at, n.change_id LIMIT 1));
    UPDATE people_count_changes SET ends_at = NEW.at
    WHERE change_id = (
        SELECT p.change_id FROM people_count_changes AS p
        WHERE p.device_id = NEW.device_id
          AND (p.starts_at, p.change_id) < (NEW.at, NEW.id)
        ORDER BY p.starts_at DESC, p.change_id DESC LIMIT 1);
    INSERT INTO occupancy_device_hours_stale (device_id, first_hour, last_hour, span)
    SELECT NEW.device_id, first_hour, last_hour,
           CAST(ROUND((julianday(last_hour) - julianday(first_hour)) * 24) AS INTEGER)
    FROM (
        SELECT strftime('%Y-%m-%dT%H:00:00.000Z', COALESCE(
                   (SELECT MAX(p.starts_at) FROM people_count_changes AS p
                    WHERE p.device_id = NEW.device_id AND p.ends_at = NEW.at),
                   NEW.at)) AS first_hour,
               strftime('%Y-%m-%dT%H:00:00.000Z', COALESCE(
                   (SELECT c.ends_at FROM people_count_changes AS c
                    WHERE c.change_id = NEW.id),
                   NEW.at)) AS last_hour
    )
    WHERE NEW.device_id IS NOT NULL;
END;

DROP TRIGGER IF EXISTS occupancy_device_hours_recompute;
CREATE TRIGGER occupancy_device_hours_recompute
AFTER INSERT ON occupancy_device_hours_stale
BEGIN
    -- The calendar stays one unbroken run of hours: stretch it to this range.
    INSERT OR IGNORE INTO calendar_hours
    SELECT strftime('%Y-%m-%dT%H:00:00.000Z', edge.start,
                    '+' || (1000 * thousands.n + ones.n) || ' hours')
    FROM (
        SELECT NEW.first_hour AS start,
               CAST(ROUND((julianday(COALESCE(MIN(hour), NEW.last_hour))
                           - julianday(NEW.first_hour)) * 24) AS INTEGER) AS span
        FROM calendar_hours
        UNION ALL
        SELECT MAX(hour),
               CAST(ROUND((julianday(NEW.last_hour) - julianday(MAX(hour))) * 24)
                    AS INTEGER)
        FROM calendar_hours
    ) AS edge
    JOIN hour_offsets AS thousands ON thousands.n <= edge.span / 1000
    JOIN hour_offsets AS ones ON ones.n <= edge.span - 1000 * thousands.n;
    DELETE FROM occupancy_device_hours
    WHERE device_id = NEW.device_id AND hour BETWEEN NEW.first_hour AND NEW.last_hour;
    INSERT INTO occupancy_device_hours
    SELECT workspace_id, device_id, hour, MAX(people), SUM(people * seconds),
           SUM(CASE WHEN people IS NOT NULL THEN seconds END),
           COALESCE(SUM(CASE WHEN people > 0 THEN seconds END), 0)
    FROM (
        SELECT i.workspace_id, i.device_id, i.people, h.hour,
               86400 * (julianday(MIN(i.ends_at, h.next_hour))
                        - julianday(MAX(i.starts_at, h.hour))) AS seconds
        FROM (
            SELECT strftime('%Y-%m-%dT%H:00:00.000Z', NEW.first_hour,
                            '+' || (1000 * thousands.n + ones.n) || ' hours') AS hour,
                   strftime('%Y-%m-%dT%H:00:00.000Z', NEW.first_hour,
                            '+' || (1000 * thousands.n + ones.n + 1) || ' hours')
                       AS next_hour
            FROM hour_offsets AS thousands
            JOIN hour_offsets AS ones ON ones.n <= NEW.span - 1000 * thousands.n
            WHERE thousands.n <= NEW.span / 1000
        ) AS h
        JOIN people_count_changes AS i
          ON i.device_id = NEW.device_id
         AND i.starts_at >= COALESCE(
                 (SELECT MAX(b.starts_at) FROM people_count_changes AS b
                  WHERE b.device_id = NEW.device_id AND b.starts_at <= NEW.first_hour),
                 NEW.first_hour)
         AND i.starts_at < h.next_hour
         AND i.ends_at > h.hour
    )
    WHERE seconds > 0
    GROUP BY workspace_id, hour;
    DELETE FROM occupancy_device_hours_stale WHERE rowid = NEW.rowid;
END;

-- A room's hour takes its busiest device's figures; a change to any of its
-- device hours queues the room hour here to be recomputed. Bulk rebuilds
-- (rollups.py) fill occupancy_room_hours in one pass instead, flagged in
-- rollup_versions.
DROP TRIGGER IF EXISTS occupancy_room_hour_added;
CREATE TRIGGER occupancy_room_hour_added AFTER INSERT ON occupancy_device_hours
WHEN NOT EXISTS (SELECT 1 FROM rollup_versions WHERE name = 'rebuilding')
BEGIN
    INSERT INTO occupancy_room_hours_stale VALUES (NEW.workspace_id, NEW.hour);
END;

DROP TRIGGER IF EXISTS occupancy_room_hour_removed;
CREATE TRIGGER occupancy_room_hour_removed AFTER DELETE ON occupancy_device_hours
WHEN NOT EXISTS (SELECT 1 FROM rollup_versions WHERE name = 'rebuilding')
BEGIN
    INSERT INTO occupancy_room_hours_stale VALUES (OLD.workspace_id, OLD.hour);
END;

DROP TRIGGER IF EXISTS occupancy_room_hour_recompute;
CREATE TRIGGER occupancy_room_hour_recompute AFTER INSERT ON occupancy_room_hours_stale
BEGIN
    DELETE FROM occupancy_room_hours
    WHERE workspace_id IS NEW.workspace_id AND hour = NEW.hour;
    INSERT INTO occupancy_room_hours
    SELECT workspace_id, hour, MAX(max_people), MAX(people_seconds / known_seconds),
           MAX(occupied_seconds) / 60.0
    FROM occupancy_device_hours
    WHERE workspace_id IS NEW.workspace_id AND hour = NEW.hour
    GROUP BY workspace_id, hour;
    DELETE FROM occupancy_room_hours_stale WHERE rowid = NEW.rowid;
END;

-- A changed room hour queues its day, which is recomputed at once from the
-- day's room hours (at most 24 rows of the index). Office hours: Monday to
-- Friday, 08:00 to 18:00 UTC.
DROP TRIGGER IF EXISTS occupancy_room_day_added;
CREATE TRIGGER occupancy_room_day_added AFTER INSERT ON occupancy_room_hours
WHEN NEW.workspace_id IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM rollup_versions WHERE name = 'rebuilding')
BEGIN
    INSERT INTO occupancy_room_days_stale VALUES (NEW.workspace_id, NEW.hour);
END;

DROP TRIGGER IF EXISTS occupancy_room_day_removed;
CREATE TRIGGER occupancy_room_day_removed AFTER DELETE ON occupancy_room_hours
WHEN OLD.workspace_id IS NOT NULL
 AND NOT EXISTS (SELECT 1 FROM rollup_versions WHERE name = 'rebuilding')
BEGIN
    INSERT INTO occupancy_room_days_stale VALUES (OLD.workspace_id, OLD.hour);
END;

DROP TRIGGER IF EXISTS occupancy_room_day_recompute;
CREATE TRIGGER occupancy_room_day_recompute AFTER INSERT ON occupancy_room_days_stale
BEGIN
    DELETE FROM occupancy_room_days
    WHERE workspace_id = NEW.workspace_id AND day = substr(NEW.hour, 1, 10);
    INSERT INTO occupancy_room_days
    SELECT workspace_id, substr(hour, 1, 10),
           SUM(CASE WHEN strftime('%w', hour) BETWEEN '1' AND '5'
                     AND substr(hour, 12, 2) BETWEEN '08' AND '17'
                    THEN ROUND(minutes_occupied, 1) END),
           MAX(max_people)
    FROM occupancy_room_hours
    WHERE workspace_id = NEW.workspace_id
      AND hour >= substr(NEW.hour, 1, 10) AND hour < substr(NEW.hour, 1, 10) || 'U'
    GROUP BY workspace_id;
    DELETE FROM occupancy_room_days_stale WHERE rowid = NEW.rowid;
END;

DROP TRIGGER IF EXISTS calendar_day;
CREATE TRIGGER calendar_day AFTER INSERT ON calendar_hours
BEGIN
    INSERT OR IGNORE INTO calendar_days VALUES (substr(NEW.hour, 1, 10));
END;

DROP TRIGGER IF EXISTS message_counted;
CREATE TRIGGER message_counted AFTER INSERT ON messages
BEGIN
    INSERT INTO message_type_counts VALUES (NEW.type, 1)
    ON CONFLICT (type) DO UPDATE SET messages = messages + 1;
END;

DROP TRIGGER IF EXISTS message_uncounted;
CREATE TRIGGER message_uncounted AFTER DELETE ON messages
BEGIN
    UPDATE message_type_counts SET messages = messages - 1 WHERE type = OLD.type;
    DELETE FROM message_type_counts WHERE type = OLD.type AND messages = 0;
END;

DROP TRIGGER IF EXISTS status_change_counted;
CREATE TRIGGER status_change_counted AFTER INSERT ON status_changes
BEGIN
    INSERT INTO status_change_counts VALUES (NEW.key, NEW.removed, 1)
    ON CONFLICT (key, removed) DO UPDATE SET changes = changes + 1;
END;

DROP TRIGGER IF EXISTS status_change_uncounted;
CREATE TRIGGER status_change_uncounted AFTER DELETE ON status_changes
BEGIN
    UPDATE status_change_counts SET changes = changes - 1
    WHERE key = OLD.key AND removed = OLD.removed;
    DELETE FROM status_change_counts
    WHERE key = OLD.key AND removed = OLD.removed AND changes = 0;
END;

-- ---------------------------------------------------------------------------
-- The public views.
-- ---------------------------------------------------------------------------

-- Every workspace that is named or has reported, with its name or its ID.
CREATE VIEW rooms AS
SELECT id AS workspace_id, COALESCE(name, id) AS room, capacity, type, location,
       floor, building
FROM workspaces
UNION ALL
SELECT workspace_id, workspace_id, NULL, NULL, NULL, NULL, NULL
FROM workspaces_seen
WHERE workspace_id NOT IN (SELECT id FROM workspaces);

-- One row per people count a device reported; a change archived twice
-- shows once, with the value received last.
CREATE VIEW people_count AS
SELECT p.starts_at AS at,
       COALESCE(w.name, p.workspace_id) AS room,
       COALESCE(d.name, p.device_id) AS device,
       p.people,
       w.capacity,
       p.workspace_id,
       p.device_id
FROM people_count_changes AS p
LEFT JOIN workspaces AS w ON w.id = p.workspace_id
LEFT JOIN devices AS d ON d.id = p.device_id
WHERE p.people IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM people_count_changes AS later
      WHERE later.device_id IS p.device_id AND later.starts_at = p.starts_at
        AND later.change_id > p.change_id AND later.people IS NOT NULL
        AND later.workspace_id IS p.workspace_id);

-- How long each people count held: from its report until the device's next
-- report of the key in time order (ties broken by id, so a duplicate lasts
-- zero seconds), or until now for the latest. A removed key has people NULL:
-- the count is unknown until the device reports again.
CREATE VIEW people_count_intervals AS
SELECT workspace_id, device_id, people, starts_at,
       COALESCE(ends_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) AS ends_at
FROM people_count_changes;

-- Per room and UTC hour: the highest and the time-weighted average people
-- count, and the minutes anyone was there. Intervals are cut at hour
-- boundaries; with several counting devices in a room the busiest one counts.
-- Closed intervals come from occupancy_room_hours; the room hours that a
-- device's latest, still open count reaches are computed at query time by
-- open_room_hours, together with the closed intervals of those hours.
CREATE VIEW open_room_hours AS
WITH RECURSIVE open_pieces (workspace_id, device_id, people, hour, starts_at, ends_at)
AS (
    SELECT workspace_id, device_id, people,
           strftime('%Y-%m-%dT%H:00:00.000Z', starts_at), starts_at,
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM people_count_changes
    -- The unary + keeps the planner on the small index of open intervals.
    WHERE ends_at IS NULL AND +starts_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    UNION ALL
    SELECT workspace_id, device_id, people,
           strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour'), starts_at, ends_at
    FROM open_pieces
    WHERE strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour') < ends_at
),
open_device_hours AS (
    SELECT workspace_id, device_id, hour, MAX(people) AS max_people,
           SUM(people * seconds) AS people_seconds,
           SUM(CASE WHEN people IS NOT NULL THEN seconds END) AS known_seconds,
           COALESCE(SUM(CASE WHEN people > 0 THEN seconds END), 0) AS occupied_seconds
    FROM (
        SELECT workspace_id, device_id, people, hour,
               86400 * (
                   julianday(MIN(ends_at,
                                 strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour')))
                   - julianday(MAX(starts_at, hour))
               ) AS seconds
        FROM open_pieces
    )
    WHERE seconds > 0
    GROUP BY workspace_id, device_id, hour
)
-- CAST gives hour TEXT affinity, so joins on it can use an index.
SELECT workspace_id, CAST(hour AS TEXT) AS hour, MAX(max_people) AS max_people,
       MAX(people_seconds / known_seconds) AS average_people,
       MAX(occupied_seconds) / 60.0 AS minutes_occupied
FROM (
    SELECT workspace_id, device_id, hour, MAX(max_people) AS max_people,
           SUM(people_seconds) AS people_seconds,
           SUM(known_seconds) AS known_seconds,
           SUM(occupied_seconds) AS occupied_seconds
    FROM (
        SELECT * FROM open_device_hours
        UNION ALL
        SELECT d.workspace_id, d.device_id, d.hour, d.max_people,
               d.people_seconds, d.known_seconds, d.occupied_seconds
        FROM occupancy_device_hours AS d
        WHERE (d.workspace_id, d.hour) IN
              (SELECT workspace_id, hour FROM open_device_hours)
    )
    GROUP BY workspace_id, device_id, hour
)
GROUP BY workspace_id, hour;

-- Every (room, hour) is looked up from calendar_hours, a real table, so that
-- SQLite can read a page of it in hour order from the calendar's key.
CREATE VIEW room_occupancy_hourly AS
SELECT c.hour,
       COALESCE(w.name, k.workspace_id) AS room,
       CASE WHEN o.hour IS NULL THEN r.max_people ELSE o.max_people END
           AS max_people,
       ROUND(CASE WHEN o.hour IS NULL THEN r.average_people
                  ELSE o.average_people END, 2) AS average_people,
       ROUND(CASE WHEN o.hour IS NULL THEN r.minutes_occupied
                  ELSE o.minutes_occupied END, 1) AS minutes_occupied,
       w.capacity,
       k.workspace_id
FROM calendar_hours AS c
JOIN workspaces_seen AS k
LEFT JOIN occupancy_room_hours AS r
       ON r.workspace_id = k.workspace_id AND r.hour = c.hour
LEFT JOIN open_room_hours AS o ON o.workspace_id = k.workspace_id AND o.hour = c.hour
LEFT JOIN workspaces AS w ON w.id = k.workspace_id
WHERE c.hour < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  AND (r.hour IS NOT NULL OR o.hour IS NOT NULL);

-- Per room and UTC day: occupied hours within office hours (Monday to Friday,
-- 08:00 to 18:00 UTC), the day's peak count and the peak against capacity.
-- Days of closed hours come from occupancy_room_days; the days an open
-- interval reaches are added up from room_occupancy_hourly at query time.
-- Like the hourly view, every (room, day) is looked up from a calendar
-- table, so a page in day order reads only that page's days.
CREATE VIEW room_utilisation_daily AS
WITH open_hours AS MATERIALIZED (
    SELECT workspace_id, hour, max_people, minutes_occupied FROM open_room_hours
),
-- A day an open count reaches: its open hours, and its closed hours that no
-- open count overrides, rounded as room_occupancy_hourly shows them.
open_days AS (
    SELECT workspace_id, substr(hour, 1, 10) AS day,
           SUM(CASE WHEN strftime('%w', hour) BETWEEN '1' AND '5'
                     AND substr(hour, 12, 2) BETWEEN '08' AND '17'
                    THEN ROUND(minutes_occupied, 1) END) AS office_minutes,
           MAX(max_people) AS peak_people
    FROM (
        SELECT * FROM open_hours
        UNION ALL
        SELECT r.workspace_id, r.hour, r.max_people, r.minutes_occupied
        FROM (SELECT DISTINCT workspace_id, substr(hour, 1, 10) AS day
              FROM open_hours) AS o
        JOIN occupancy_room_hours AS r
          ON r.workspace_id = o.workspace_id
         AND r.hour >= o.day AND r.hour < o.day || 'U'
        LEFT JOIN open_hours AS h ON h.workspace_id = r.workspace_id AND h.hour = r.hour
        WHERE h.hour IS NULL
    )
    WHERE hour < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    GROUP BY workspace_id, substr(hour, 1, 10)
)
SELECT c.day,
       COALESCE(w.name, k.workspace_id) AS room,
       ROUND(COALESCE(CASE WHEN o.day IS NULL THEN d.office_minutes
                           ELSE o.office_minutes END, 0) / 60.0, 2)
           AS occupied_office_hours,
       ROUND(CASE WHEN o.day IS NULL THEN d.office_minutes
                  ELSE o.office_minutes END / 6.0, 1)
           AS office_hours_occupied_percent,
       CASE WHEN o.day IS NULL THEN d.peak_people ELSE o.peak_people END
           AS peak_people,
       w.capacity,
       ROUND(100.0 * CASE WHEN o.day IS NULL THEN d.peak_people
                          ELSE o.peak_people END / NULLIF(w.capacity, 0), 1)
           AS peak_vs_capacity_percent,
       k.workspace_id
FROM calendar_days AS c
JOIN workspaces_seen AS k
LEFT JOIN occupancy_room_days AS d
       ON d.workspace_id = k.workspace_id AND d.day = c.day
LEFT JOIN open_days AS o ON o.workspace_id = k.workspace_id AND o.day = c.day
LEFT JOIN workspaces AS w ON w.id = k.workspace_id
WHERE c.day <= strftime('%Y-%m-%d', 'now')
  AND (d.day IS NOT NULL OR o.day IS NOT NULL);

-- One row per device report with any environment value; a column is empty
-- when that value did not change in the report.
CREATE VIEW environment AS
SELECT e.at,
       COALESCE(w.name, e.workspace_id) AS room,
       COALESCE(d.name, e.device_id) AS device,
       e.temperature_c,
       e.humidity_percent,
       e.air_quality_index,
       e.ambient_noise_dba,
       e.sound_level_dba,
       e.workspace_id,
       e.device_id
FROM environment_readings AS e
LEFT JOIN workspaces AS w ON w.id = e.workspace_id
LEFT JOIN devices AS d ON d.id = e.device_id;

-- The latest value of every status key per device, in time order, and how
-- many minutes ago it was reported. A removed key shows removed = 1.
CREATE VIEW latest_status AS
SELECT COALESCE(w.name, l.workspace_id) AS room,
       COALESCE(d.name, l.device_id) AS device,
       l.key,
       l.value,
       l.number,
       l.removed,
       l.at,
       ROUND((julianday('now') - julianday(l.at)) * 1440, 1) AS age_minutes,
       l.workspace_id,
       l.device_id
FROM latest_values AS l
LEFT JOIN workspaces AS w ON w.id = l.workspace_id
LEFT JOIN devices AS d ON d.id = l.device_id;

-- ---------------------------------------------------------------------------
-- Deleting status changes (retention) undoes what their insert did, so the
-- views stay those of the remaining archive.
-- ---------------------------------------------------------------------------

DROP TRIGGER IF EXISTS people_count_change_deleted;
CREATE TRIGGER people_count_change_deleted AFTER DELETE ON status_changes
WHEN OLD.key = 'RoomAnalytics.PeopleCount.Current'
BEGIN
    UPDATE people_count_changes
    SET ends_at = (SELECT ends_at FROM people_count_changes WHERE change_id = OLD.id)
    WHERE change_id = (
        SELECT p.change_id FROM people_count_changes AS p
        WHERE p.device_id = OLD.device_id
          AND (p.starts_at, p.change_id) < (OLD.at, OLD.id)
        ORDER BY p.starts_at DESC, p.change_id DESC LIMIT 1);
    DELETE FROM people_count_changes WHERE change_id = OLD.id;
    INSERT INTO occupancy_device_hours_stale (device_id, first_hour, last_hour, span)
    SELECT OLD.device_id, first_hour, last_hour,
           CAST(ROUND((julianday(last_hour) - julianday(first_hour)) * 24) AS INTEGER)
    FROM (
        SELECT strftime('%Y-%m-%dT%H:00:00.000Z', COALESCE(
                   (SELECT MAX(p.starts_at) FROM people_count_changes AS p
                    WHERE p.device_id = OLD.device_id AND p.starts_at <= OLD.at),
                   OLD.at)) AS first_hour,
               strftime('%Y-%m-%dT%H:00:00.000Z', COALESCE(
                   (SELECT MIN(n.starts_at) FROM people_count_changes AS n
                    WHERE n.device_id = OLD.device_id AND n.starts_at >= OLD.at),
                   OLD.at)) AS last_hour
    )
    WHERE OLD.device_id IS NOT NULL;
END;

DROP TRIGGER IF EXISTS latest_value_deleted;
CREATE TRIGGER latest_value_deleted AFTER DELETE ON status_changes
WHEN OLD.device_id IS NOT NULL
BEGIN
    DELETE FROM latest_values
    WHERE device_id = OLD.device_id AND key = OLD.key AND change_id = OLD.id;
    INSERT OR IGNORE INTO latest_values
    SELECT device_id, key, id, workspace_id, value, number, removed, at
    FROM status_changes
    WHERE device_id = OLD.device_id AND key = OLD.key
    ORDER BY at DESC, id DESC LIMIT 1;
END;

DROP TRIGGER IF EXISTS environment_reading_deleted;
CREATE TRIGGER environment_reading_deleted AFTER DELETE ON status_changes
WHEN OLD.removed = 0
 AND (OLD.key IN ('RoomAnalytics.AmbientTemperature', 'RoomAnalytics.RelativeHumidity',
                  'RoomAnalytics.AmbientNoise.Level.A', 'RoomAnalytics.Sound.Level.A')
      OR (OLD.key > 'Peripherals.ConnectedDevice[' AND OLD.key < 'Peripherals.ConnectedDevice\'
          AND OLD.key LIKE 'Peripherals.ConnectedDevice[%].RoomAnalytics.AirQuality.Index'))
BEGIN
    DELETE FROM environment_readings
    WHERE device_id IS OLD.device_id AND at = OLD.at
      AND workspace_id IS OLD.workspace_id;
    INSERT INTO environment_readings
    SELECT workspace_id, device_id, at,
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientTemperature' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.RelativeHumidity' THEN number END),
           MAX(CASE WHEN key LIKE '%RoomAnalytics.AirQuality.Index' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientNoise.Level.A' THEN number END),
           MAX(CASE WHEN key = 'RoomAnalytics.Sound.Level.A' THEN number END)
    FROM status_changes
    WHERE device_id IS OLD.device_id AND at = OLD.at
      AND workspace_id IS OLD.workspace_id AND removed = 0
      AND (key IN ('RoomAnalytics.AmbientTemperature', 'RoomAnalytics.RelativeHumidity',
                   'RoomAnalytics.AmbientNoise.Level.A', 'RoomAnalytics.Sound.Level.A')
           OR (key > 'Peripherals.ConnectedDevice[' AND key < 'Peripherals.ConnectedDevice\'
               AND key LIKE 'Peripherals.ConnectedDevice[%].RoomAnalytics.AirQuality.Index'))
    GROUP BY workspace_id, device_id, at;
END;

-- The analytics views as plain queries over the whole history, without the
-- derived tables: the reference the derived views are checked against.
-- Created as TEMP views by tests/test_rollups.py.

-- Every workspace that is named or has reported, with its name or its ID.
CREATE TEMP VIEW reference_rooms AS
SELECT id AS workspace_id, COALESCE(name, id) AS room, capacity, type, location,
       floor, building
FROM workspaces
UNION ALL
SELECT DISTINCT workspace_id, workspace_id, NULL, NULL, NULL, NULL, NULL
FROM messages
WHERE workspace_id IS NOT NULL
  AND workspace_id NOT IN (SELECT id FROM workspaces);

-- One row per people count a device reported; a change archived twice
-- shows once, with the value received last.
CREATE TEMP VIEW reference_people_count AS
SELECT p.at,
       COALESCE(w.name, p.workspace_id) AS room,
       COALESCE(d.name, p.device_id) AS device,
       p.people,
       w.capacity,
       p.workspace_id,
       p.device_id
FROM (
    SELECT at, workspace_id, device_id, CAST(number AS INTEGER) AS people,
           MAX(id) AS change_id
    FROM status_changes
    WHERE key = 'RoomAnalytics.PeopleCount.Current' AND removed = 0
      AND number IS NOT NULL
    GROUP BY workspace_id, device_id, at
) AS p
LEFT JOIN workspaces AS w ON w.id = p.workspace_id
LEFT JOIN devices AS d ON d.id = p.device_id;

-- How long each people count held: from its report until the device's next
-- report of the key in time order (ties broken by id, so a duplicate lasts
-- zero seconds), or until now for the latest. A removed key has people NULL:
-- the count is unknown until the device reports again.
CREATE TEMP VIEW reference_people_count_intervals AS
SELECT s.workspace_id,
       s.device_id,
       CASE WHEN s.removed THEN NULL ELSE CAST(s.number AS INTEGER) END AS people,
       s.at AS starts_at,
       COALESCE(
           (SELECT n.at FROM status_changes AS n
            WHERE n.device_id = s.device_id AND n.key = s.key
              AND n.at >= s.at AND (n.at > s.at OR n.id > s.id)
            ORDER BY n.at, n.id LIMIT 1),
           strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
       ) AS ends_at
FROM status_changes AS s
WHERE s.key = 'RoomAnalytics.PeopleCount.Current';

-- Per room and UTC hour: the highest and the time-weighted average people
-- count, and the minutes anyone was there. Intervals are cut at hour
-- boundaries; with several counting devices in a room the busiest one counts.
CREATE TEMP VIEW reference_room_occupancy_hourly AS
WITH RECURSIVE pieces (workspace_id, device_id, people, hour, starts_at, ends_at) AS (
    SELECT workspace_id, device_id, people,
           strftime('%Y-%m-%dT%H:00:00.000Z', starts_at), starts_at, ends_at
    FROM reference_people_count_intervals
    WHERE ends_at > starts_at
    UNION ALL
    SELECT workspace_id, device_id, people,
           strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour'), starts_at, ends_at
    FROM pieces
    WHERE strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour') < ends_at
),
timed AS (
    SELECT workspace_id, device_id, people, hour,
           86400 * (
               julianday(MIN(ends_at, strftime('%Y-%m-%dT%H:00:00.000Z', hour, '+1 hour')))
               - julianday(MAX(starts_at, hour))
           ) AS seconds
    FROM pieces
),
per_device AS (
    SELECT workspace_id, device_id, hour,
           MAX(people) AS max_people,
           SUM(people * seconds) / SUM(CASE WHEN people IS NOT NULL THEN seconds END)
               AS average_people,
           COALESCE(SUM(CASE WHEN people > 0 THEN seconds END), 0) / 60.0
               AS minutes_occupied
    FROM timed
    WHERE seconds > 0
    GROUP BY workspace_id, device_id, hour
)
SELECT p.hour,
       COALESCE(w.name, p.workspace_id) AS room,
       MAX(p.max_people) AS max_people,
       ROUND(MAX(p.average_people), 2) AS average_people,
       ROUND(MAX(p.minutes_occupied), 1) AS minutes_occupied,
       w.capacity,
       p.workspace_id
FROM per_device AS p
LEFT JOIN workspaces AS w ON w.id = p.workspace_id
GROUP BY p.workspace_id, p.hour;

-- Per room and UTC day: occupied hours within office hours (Monday to Friday,
-- 08:00 to 18:00 UTC), the day's peak count and the peak against capacity.
CREATE TEMP VIEW reference_room_utilisation_daily AS
SELECT substr(hour, 1, 10) AS day,
       room,
       ROUND(SUM(CASE WHEN strftime('%w', hour) BETWEEN '1' AND '5'
                       AND substr(hour, 12, 2) BETWEEN '08' AND '17'
                      THEN minutes_occupied ELSE 0 END) / 60.0, 2)
           AS occupied_office_hours,
       ROUND(SUM(CASE WHEN strftime('%w', hour) BETWEEN '1' AND '5'
                       AND substr(hour, 12, 2) BETWEEN '08' AND '17'
                      THEN minutes_occupied END) / 6.0, 1)
           AS office_hours_occupied_percent,
       MAX(max_people) AS peak_people,
       capacity,
       ROUND(100.0 * MAX(max_people) / NULLIF(capacity, 0), 1)
           AS peak_vs_capacity_percent,
       workspace_id
FROM reference_room_occupancy_hourly
GROUP BY workspace_id, substr(hour, 1, 10);

-- One row per device report with any reference_environment value; a column is empty
-- when that value did not change in the report.
CREATE TEMP VIEW reference_environment AS
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
FROM (
    SELECT at, workspace_id, device_id,
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientTemperature' THEN number END)
               AS temperature_c,
           MAX(CASE WHEN key = 'RoomAnalytics.RelativeHumidity' THEN number END)
               AS humidity_percent,
           MAX(CASE WHEN key LIKE '%RoomAnalytics.AirQuality.Index' THEN number END)
               AS air_quality_index,
           MAX(CASE WHEN key = 'RoomAnalytics.AmbientNoise.Level.A' THEN number END)
               AS ambient_noise_dba,
           MAX(CASE WHEN key = 'RoomAnalytics.Sound.Level.A' THEN number END)
               AS sound_level_dba
    FROM status_changes
    WHERE removed = 0
      AND (key IN ('RoomAnalytics.AmbientTemperature', 'RoomAnalytics.RelativeHumidity',
                   'RoomAnalytics.AmbientNoise.Level.A', 'RoomAnalytics.Sound.Level.A')
           -- The bounds let SQLite read this key range from the (key, at) index.
           OR (key > 'Peripherals.ConnectedDevice[' AND key < 'Peripherals.ConnectedDevice\'
               AND key LIKE 'Peripherals.ConnectedDevice[%].RoomAnalytics.AirQuality.Index'))
    GROUP BY workspace_id, device_id, at
) AS e
LEFT JOIN workspaces AS w ON w.id = e.workspace_id
LEFT JOIN devices AS d ON d.id = e.device_id;

-- The latest value of every status key per device, in time order, and how
-- many minutes ago it was reported. A removed key shows removed = 1.
CREATE TEMP VIEW reference_latest_status AS
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
FROM (
    SELECT device_id, key, MAX(at) AS at FROM status_changes GROUP BY device_id, key
) AS newest
JOIN status_changes AS l
  ON l.device_id = newest.device_id AND l.key = newest.key AND l.at = newest.at
 AND l.id = (SELECT MAX(t.id) FROM status_changes AS t
             WHERE t.device_id = newest.device_id AND t.key = newest.key
               AND t.at = newest.at)
LEFT JOIN workspaces AS w ON w.id = l.workspace_id
LEFT JOIN devices AS d ON d.id = l.device_id;

"""The analytics views against hand-computed expectations on small inputs.

Messages go in through the real webhook, late and twice, as Control Hub may
deliver them. 2026-11-30 is a Monday; office hours are 08:00 to 18:00 UTC.
"""

from conftest import BOARD, LOVELACE, PEOPLE, status

UNNAMED_ROOM, UNNAMED_DEVICE = "d29ya3NwYWNlLXVubmFtZWQ", "ZGV2aWNlLXVubmFtZWQ"


def test_people_count_is_in_time_order_with_names_and_one_row_per_change(
    lovelace_morning, rows
):
    found = rows("SELECT at, room, device, people, capacity FROM people_count")

    assert sorted(found, key=lambda r: r["at"]) == [
        {"at": f"2026-11-30T{t}:00.000Z", "room": "Lovelace",
         "device": "Lovelace Board", "people": n, "capacity": 8}
        for t, n in (("09:10", 3), ("09:40", 0), ("10:20", 5), ("11:30", 0))
    ]  # fmt: skip


def test_hourly_occupancy_holds_each_count_until_the_next_change(
    lovelace_morning, rows
):
    found = rows(
        "SELECT hour, room, max_people, average_people, minutes_occupied, capacity"
        " FROM room_occupancy_hourly WHERE hour < '2026-11-30T12' ORDER BY hour"
    )

    assert found == [
        # 09:10-09:40 three people, 09:40-10:00 none: (3*30 + 0*20) / 50
        {"hour": "2026-11-30T09:00:00.000Z", "room": "Lovelace", "max_people": 3,
         "average_people": 1.8, "minutes_occupied": 30.0, "capacity": 8},
        # 10:00-10:20 none, 10:20-11:00 five: 5*40 / 60
        {"hour": "2026-11-30T10:00:00.000Z", "room": "Lovelace", "max_people": 5,
         "average_people": 3.33, "minutes_occupied": 40.0, "capacity": 8},
        # 11:00-11:30 five, 11:30-12:00 none
        {"hour": "2026-11-30T11:00:00.000Z", "room": "Lovelace", "max_people": 5,
         "average_people": 2.5, "minutes_occupied": 30.0, "capacity": 8},
    ]  # fmt: skip


def test_the_latest_count_holds_until_now(lovelace_morning, rows):
    later = rows(
        "SELECT count(*) AS hours, max(max_people) AS most,"
        " sum(minutes_occupied) AS minutes"
        " FROM room_occupancy_hourly WHERE hour >= '2026-11-30T12'"
    )[0]

    assert later["hours"] > 24 * 3  # the archive's "now" is days later
    assert (later["most"], later["minutes"]) == (0, 0)


def test_daily_utilisation_counts_office_hours_and_peak_against_capacity(
    lovelace_morning, rows
):
    day = rows("SELECT * FROM room_utilisation_daily WHERE day = '2026-11-30'")

    assert day == [
        {"day": "2026-11-30", "room": "Lovelace",
         "occupied_office_hours": round(100 / 60, 2),
         "office_hours_occupied_percent": round(100 / 600 * 100, 1),
         "peak_people": 5, "capacity": 8, "peak_vs_capacity_percent": 62.5,
         "workspace_id": LOVELACE}
    ]  # fmt: skip


def test_a_removed_count_is_unknown_not_empty_and_unnamed_rooms_show_their_id(
    post, rows
):
    where = {"workspace": UNNAMED_ROOM, "device": UNNAMED_DEVICE}
    post(
        status("10:00", {PEOPLE: 1}, **where),
        status("09:30", removed=[PEOPLE], **where),
        status("09:00", {PEOPLE: 2}, **where),
    )

    hours = rows(
        "SELECT hour, room, max_people, average_people, minutes_occupied"
        " FROM room_occupancy_hourly WHERE hour < '2026-11-30T11' ORDER BY hour"
    )

    assert hours == [
        {"hour": "2026-11-30T09:00:00.000Z", "room": UNNAMED_ROOM,
         "max_people": 2, "average_people": 2.0, "minutes_occupied": 30.0},
        {"hour": "2026-11-30T10:00:00.000Z", "room": UNNAMED_ROOM,
         "max_people": 1, "average_people": 1.0, "minutes_occupied": 60.0},
    ]  # fmt: skip
    assert rows("SELECT room FROM rooms") == [{"room": UNNAMED_ROOM}]


def test_environment_pivots_one_report_into_one_row(post, named, rows):
    sensors = {
        "RoomAnalytics.AmbientTemperature": 22.5,
        "RoomAnalytics.RelativeHumidity": 41,
        "RoomAnalytics.AmbientNoise.Level.A": 38,
        "RoomAnalytics.Sound.Level.A": 52,
        "Peripherals.ConnectedDevice[1002].RoomAnalytics.AirQuality.Index": 1.8,
        PEOPLE: 2,
    }
    post(status("09:15", sensors))
    post(status("09:15", sensors, isFullSync=True))  # the same report again
    post(status("09:05", {"RoomAnalytics.AmbientTemperature": "21.5"}))

    found = rows("SELECT * FROM environment ORDER BY at")

    common = {"room": "Lovelace", "device": "Lovelace Board",
              "workspace_id": LOVELACE, "device_id": BOARD}  # fmt: skip
    assert found == [
        {"at": "2026-11-30T09:05:00.000Z", "temperature_c": 21.5,
         "humidity_percent": None, "air_quality_index": None,
         "ambient_noise_dba": None, "sound_level_dba": None, **common},
        {"at": "2026-11-30T09:15:00.000Z", "temperature_c": 22.5,
         "humidity_percent": 41.0, "air_quality_index": 1.8,
         "ambient_noise_dba": 38.0, "sound_level_dba": 52.0, **common},
    ]  # fmt: skip


def test_latest_status_goes_by_time_not_arrival(post, named, rows):
    temperature = "RoomAnalytics.AmbientTemperature"
    post(status("10:00", {temperature: 23.0, PEOPLE: 4}))
    post(status("09:00", {temperature: 21.0}))  # late
    post(status("09:30", removed=[PEOPLE]))  # late, and older than the count

    found = rows(
        "SELECT room, device, key, number, removed, at, age_minutes"
        " FROM latest_status ORDER BY key"
    )

    assert [(r["key"], r["number"], r["removed"], r["at"]) for r in found] == [
        (temperature, 23.0, 0, "2026-11-30T10:00:00.000Z"),
        (PEOPLE, 4.0, 0, "2026-11-30T10:00:00.000Z"),
    ]
    assert found[0]["room"] == "Lovelace" and found[0]["age_minutes"] > 60 * 24

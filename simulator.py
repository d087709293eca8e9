"""Realistic Control Hub traffic for demos, tests and benchmarks.

`Building` models a set of rooms, each with a Room Kit and an air-quality
sensor, whose people count follows office hours. `Building.messages(at)`
yields the webhook messages one device tick produces; `Sender` posts them
over real HTTP with the sender's credentials and keeps the acknowledged ones.
"""

import base64
import csv
import http.client
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from messages import format_timestamp

ORG_ID = (
    base64.b64encode(b"ciscospark://us/ORGANIZATION/simulated").decode().rstrip("=")
)
ROOM_NAMES = (
    "Atlas", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbour",
    "Iris", "Juniper", "Kestrel", "Lagoon", "Maple", "Nimbus", "Orchid", "Pebble",
)  # fmt: skip
PERIPHERAL = "Peripherals.ConnectedDevice[1002].RoomAnalytics.AirQuality.Index"
OLD_PERIPHERAL = "Peripherals.ConnectedDevice[1001].RoomAnalytics.AmbientTemperature"


def spark_id(kind: str, name: str) -> str:
    """An ID shaped like Control Hub's: base64 of a ciscospark URN."""
    urn = f"ciscospark://urn:TEAM:us-west-2_r/{kind}/{name}"
    return base64.b64encode(urn.encode()).decode().rstrip("=")


@dataclass
class Room:
    name: str
    capacity: int
    workspace_id: str
    device_id: str
    serial: str
    state: dict = field(default_factory=dict)

    def readings(self, at: datetime, rng: random.Random) -> dict:
        """The status values this room's devices would report at this moment."""
        people = self._people(at, rng)
        previous = self.state
        temperature = previous.get("RoomAnalytics.AmbientTemperature", 21.0)
        # Drifts back towards the set point; every person present warms the room.
        target = 21.0 + 0.15 * people
        temperature += (target - temperature) * 0.2 + rng.uniform(-0.2, 0.2)
        return {
            "RoomAnalytics.PeopleCount.Current": people,
            "RoomAnalytics.PeoplePresence": "Yes" if people else "No",
            "RoomAnalytics.AmbientTemperature": round(temperature, 1),
            "RoomAnalytics.RelativeHumidity": rng.randint(32, 38) + min(people, 10),
            "RoomAnalytics.AmbientNoise.Level.A": rng.randint(30, 36) + min(people, 12),
            "RoomAnalytics.Sound.Level.A": rng.randint(30, 40) + 3 * min(people, 10),
            PERIPHERAL: round(min(6.0, 0.5 + people * 0.25 + rng.uniform(0, 0.6)), 1),
        }

    def _people(self, at: datetime, rng: random.Random) -> int:
        previous = self.state.get("RoomAnalytics.PeopleCount.Current")
        if previous is not None and rng.random() < 0.6:
            return previous  # meetings last longer than one report
        hour = at.hour + at.minute / 60
        office_hours = at.weekday() < 5 and 8 <= hour < 18
        busy = office_hours and (9 <= hour < 12 or 13 <= hour < 17)
        chance = 0.75 if busy else 0.35 if office_hours else 0.02
        if rng.random() > chance:
            return 0
        # Now and then a meeting overflows the room, as real ones do.
        ceiling = self.capacity + 2 if rng.random() < 0.05 else self.capacity
        return rng.randint(1, ceiling)


class Building:
    """Rooms and the messages their devices send, deterministic for a seed."""

    def __init__(self, rooms: int = 4, seed: int = 1, first_room: int = 0):
        self.rng = random.Random(seed)
        # Buildings with different first rooms have different devices.
        self.rooms = [self._room(i) for i in range(first_room, first_room + rooms)]
        self.ticks = 0

    def _room(self, i: int) -> Room:
        name = ROOM_NAMES[i % len(ROOM_NAMES)] + (
            "" if i < len(ROOM_NAMES) else f" {i}"
        )
        return Room(
            name=name,
            capacity=self.rng.choice((4, 6, 8, 12, 20)),
            workspace_id=spark_id("PLACE", f"room-{i:04d}"),
            device_id=spark_id("DEVICE", f"device-{i:04d}"),
            serial=f"FOC{2400 + i:04d}SIM",
        )

    def messages(self, at: datetime) -> list[dict]:
        """One tick: every room reports what changed, plus occasional extras."""
        self.ticks += 1
        stamp = format_timestamp(at)
        batch = []
        for room in self.rooms:
            batch += self._room_messages(room, at, stamp)
        if self.ticks % 10 == 1:
            batch.append({"type": "healthCheck", "orgId": ORG_ID, "timestamp": stamp})
        return batch

    def _room_messages(self, room: Room, at: datetime, stamp: str) -> list[dict]:
        readings = room.readings(at, self.rng)
        full_sync = not room.state or self.rng.random() < 0.02
        updated = {
            key: value
            for key, value in readings.items()
            if full_sync or room.state.get(key) != value and self._reports(key)
        }
        removed = [OLD_PERIPHERAL] if full_sync and self.rng.random() < 0.3 else []
        room.state.update(readings)

        found = []
        if updated or removed:
            found.append(self._status(room, stamp, updated, removed, full_sync))
        if readings["RoomAnalytics.PeopleCount.Current"] and self.rng.random() < 0.05:
            found.append(self._events(room, at))
        return found

    def _reports(self, key: str) -> bool:
        # Sensors report drift less often than people counts change.
        return key.startswith("RoomAnalytics.People") or self.rng.random() < 0.4

    @staticmethod
    def _status(room, stamp, updated, removed, full_sync) -> dict:
        return {
            "type": "status",
            "deviceId": room.device_id,
            "workspaceId": room.workspace_id,
            "orgId": ORG_ID,
            "timestamp": stamp,
            "changes": {"updated": updated, "removed": removed},
            "isFullSync": full_sync,
        }

    def _events(self, room: Room, at: datetime) -> dict:
        if self.rng.random() < 0.5:
            key, value = "UserInterface.Extensions.Widget.Action", {
                "WidgetId": "room_booking", "Type": "clicked", "Value": ""
            }  # fmt: skip
        else:
            key, value = (
                "CallSuccessful",
                {"Protocol": "Spark", "Direction": "outgoing"},
            )
        return {
            "type": "events",
            "deviceId": room.device_id,
            "workspaceId": room.workspace_id,
            "orgId": ORG_ID,
            "timestamp": format_timestamp(at),
            "events": [{"key": key, "value": value, "timestamp": format_timestamp(at)}],
        }


@dataclass
class Sender:
    """Posts bodies to the webhook over one keep-alive HTTP connection."""

    url: str
    authorization: str
    timeout: float = 10.0
    acknowledged: list = field(default_factory=list)
    failures: int = 0

    def __post_init__(self):
        parts = urlsplit(self.url)
        self._path = parts.path or "/webhook"
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._connection = None

    def post(self, messages: list[dict]) -> int:
        """Send one body (a batch when several); return the HTTP status, 0 if none."""
        body = json.dumps(messages[0] if len(messages) == 1 else messages).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": self.authorization,
        }
        try:
            connection = self._connect()
            connection.request("POST", self._path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self._close()
            self.failures += 1
            return 0
        if response.status == 200:
            self.acknowledged.extend(messages)
        else:
            self.failures += 1
        return response.status

    def _connect(self):
        if self._connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._https
                else http.client.HTTPConnection
            )
            self._connection = kind(self._host, self._port, timeout=self.timeout)
        return self._connection

    def _close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def basic_authorization(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


def run(
    sender: Sender,
    building: Building,
    backfill_hours: float = 0,
    step_seconds: float = 120,
    live_interval: float = 2.0,
    duration: float | None = None,
    echo=print,
):
    """Post a compressed backfill of recent hours, then live ticks until duration."""
    now = datetime.now(UTC)
    at = now - timedelta(hours=backfill_hours)
    while at < now:
        _post_tick(sender, building, at)
        at += timedelta(seconds=step_seconds)
    if backfill_hours:
        echo(f"backfilled {len(sender.acknowledged)} messages over {backfill_hours} h")

    started = time.monotonic()
    while duration is None or time.monotonic() - started < duration:
        _post_tick(sender, building, datetime.now(UTC))
        time.sleep(live_interval)
    acknowledged, failed = len(sender.acknowledged), sender.failures
    echo(f"sent {acknowledged} acknowledged messages, {failed} failed")


def _post_tick(sender: Sender, building: Building, at: datetime):
    batch = building.messages(at)
    # Control Hub sends most messages alone and some in arrays; do the same.
    while batch:
        size = 3 if len(batch) >= 3 and building.rng.random() < 0.2 else 1
        sender.post(batch[:size])
        batch = batch[size:]


WORKSPACE_EXPORT_HEADER = [
    "Workspace ID", "Name", "Type", "Capacity", "Location", "Floor",
    "Calendar Type", "SIP Address", "Devices",
]  # fmt: skip
DEVICE_EXPORT_HEADER = [
    "Display Name", "Device ID", "Workspace ID", "Workspace", "Product", "Type",
    "Serial Number", "MAC Address", "Software", "Status",
]  # fmt: skip


def write_name_exports(building: Building, folder: Path) -> list[Path]:
    """Write the building's rooms as Control Hub's workspace and device CSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    workspaces, devices = folder / "workspaces.csv", folder / "devices.csv"
    workspace_rows = [
        [room.workspace_id, room.name, "Meeting room", room.capacity,
         "Head office", f"Floor {1 + i // 4}", "None", "", 1]
        for i, room in enumerate(building.rooms)
    ]  # fmt: skip
    device_rows = [
        [f"{room.name} Room Kit", room.device_id, room.workspace_id, room.name,
         "Cisco Room Kit", "roomdesk", room.serial,
         f"00:1B:D5:00:{i // 256:02X}:{i % 256:02X}", "RoomOS 11.22", "Online"]
        for i, room in enumerate(building.rooms)
    ]  # fmt: skip
    for path, header, rows in (
        (workspaces, WORKSPACE_EXPORT_HEADER, workspace_rows),
        (devices, DEVICE_EXPORT_HEADER, device_rows),
    ):
        # Control Hub's exports start with a byte-order mark; so do these.
        with path.open("w", newline="", encoding="utf-8-sig") as file:
            csv.writer(file).writerows([header, *rows])
    return [workspaces, devices]

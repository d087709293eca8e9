"""A pool of realistic webhook bodies for wrk, one compact JSON body per line.

The simulator's rooms report over consecutive minutes, so every body is
unique and the archive stores each one rather than counting duplicates. Like
Control Hub, most bodies hold one message and some hold a batch of three.
"""

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

import simulator

BATCH_SHARE = 0.2


def write_pool(path: Path, count: int, rooms: int = 500, seed: int = 5) -> dict:
    """Write count bodies to path; return their count and mean size in bytes."""
    building = simulator.Building(rooms=rooms, seed=seed)
    rng = random.Random(seed)
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    written = size = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as pool:
        while written < count:
            batch = building.messages(at)
            at += timedelta(minutes=1)
            while batch and written < count:
                take = 3 if len(batch) >= 3 and rng.random() < BATCH_SHARE else 1
                body = orjson.dumps(batch[0] if take == 1 else batch[:take])
                pool.write(body + b"\n")
                written += 1
                size += len(body)
                batch = batch[take:]
    return {"bodies": written, "mean_bytes": size / written}

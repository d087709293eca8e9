"""What /healthz reports about the archive's disk and how fresh its data is.

Plain functions over the file system and timestamps; the write check itself
is `Archive.health`. Sizes are bytes, so a monitor can alert on thresholds.
"""

import shutil
from datetime import UTC, datetime
from pathlib import Path

SIDE_FILES = ("-wal", "-shm")


def storage(database: Path) -> dict:
    """The archive's size on disk (with its WAL) and the free space beside it."""
    files = [database, *(database.with_name(database.name + s) for s in SIDE_FILES)]
    size = sum(f.stat().st_size for f in files if f.exists())
    return {
        "database_bytes": size,
        "free_disk_bytes": shutil.disk_usage(database.parent).free,
    }


def age_seconds(timestamp: str | None, now: datetime | None = None) -> float | None:
    """Seconds since an archive timestamp such as 2026-11-30T09:14:07.512Z."""
    if timestamp is None:
        return None
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return round(((now or datetime.now(UTC)) - moment).total_seconds(), 1)

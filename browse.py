"""Datasette over the archive: read-only browsing, SQL, CSV and JSON for viewers.

`create_datasette(settings)` builds the instance from metadata.yml and
templates/, guarded so that only the viewer actor may read anything.
Datasette opens the file with mode=ro, so no viewer query can write.
"""

import hashlib
from pathlib import Path

import yaml
from datasette.app import Datasette
from datasette.plugins import pm

import browse_guard
import fast_csv
import page_counts
import response_buffer
import viewer_auth
from config import Settings

HERE = Path(__file__).parent
METADATA = HERE / "metadata.yml"
TEMPLATES = HERE / "templates"
DATASETTE_SETTINGS = {
    "allow_download": False,  # the live file is mid-write; CSV and SQL cover reads
    "default_cache_ttl": 0,  # pages are private to the viewer
    "max_csv_mb": 0,  # full `_stream=on` downloads are the point of the archive
    "suggest_facets": False,  # each suggestion scans the table; too slow at scale
    "sql_time_limit_ms": 3000,
    # Results of SQL queries (and their CSV) stop here; table CSV with
    # _stream=on has no limit, and streams in pages of this many rows.
    "max_returned_rows": 10000,
}

if not pm.has_plugin("viewer_auth"):
    pm.register(viewer_auth, name="viewer_auth")
if not pm.has_plugin("browse_guard"):
    pm.register(browse_guard, name="browse_guard")
if not pm.has_plugin("page_counts"):
    pm.register(page_counts, name="page_counts")
if not pm.has_plugin("response_buffer"):
    pm.register(response_buffer, name="response_buffer")
if not pm.has_plugin("fast_csv"):
    pm.register(fast_csv, name="fast_csv")


def create_datasette(settings: Settings) -> Datasette:
    """A Datasette instance serving the archive at /<database name>/."""
    datasette = Datasette(
        files=[str(settings.database_path)],
        metadata=_metadata(settings),
        settings=DATASETTE_SETTINGS,
        template_dir=str(TEMPLATES),
        secret=_session_secret(settings),
    )
    datasette.viewer_credentials = (settings.viewer_username, settings.viewer_password)
    return datasette


def _metadata(settings: Settings) -> dict:
    metadata = yaml.safe_load(METADATA.read_text())
    databases = metadata.setdefault("databases", {})
    databases[settings.database_name] = databases.pop("archive", {})
    metadata["allow"] = {"id": settings.viewer_username}
    _point_dashboards_at(metadata, settings.database_name)
    return metadata


def _point_dashboards_at(metadata: dict, database_name: str) -> None:
    """metadata.yml calls the archive `archive`; its file may be named otherwise."""
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        parts = [*dashboard.get("charts", {}).values()]
        parts += dashboard.get("filters", {}).values()
        for part in parts:
            if part.get("db") == "archive":
                part["db"] = database_name


def _session_secret(settings: Settings) -> str:
    """All workers sign cookies alike; a new viewer password logs everyone out."""
    if settings.session_secret:
        return settings.session_secret
    material = f"{settings.viewer_username}:{settings.viewer_password}".encode()
    return hashlib.pbkdf2_hmac(
        "sha256", material, b"room-archive-session", 100_000
    ).hex()

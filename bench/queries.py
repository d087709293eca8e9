"""Page times through the real Datasette, as a viewer sees them.

The pages are discovered from the archive and metadata.yml when the
benchmark runs, so every view and canned query that exists is measured:
each view's page, each canned query's page, the status_changes table page
with its facets, and a filtered table page.
"""

import base64
import json
import re
import sqlite3
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

METADATA = Path(__file__).resolve().parent.parent / "metadata.yml"
FACETS_TIMED_OUT = re.compile(r"These facets timed out: ([^<]+)</p>")


def pages(database: Path) -> list[tuple[str, str, float]]:
    """(what, path, target in ms) for every page the query benchmark covers."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        views = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name"
            )
        ]
        device = connection.execute(
            "SELECT device_id FROM status_changes ORDER BY id DESC LIMIT 1"
        ).fetchone()
    metadata = yaml.safe_load(METADATA.read_text()) or {}
    archive = metadata.get("databases", {}).get("archive", {})
    found = [(f"view {name}", f"/archive/{_quote(name)}", 100) for name in views]
    found += [
        (f"canned query {name}", f"/archive/{_quote(name)}", 100)
        for name in archive.get("queries", {})
    ]
    found.append(
        ("status_changes page, facets key+removed", "/archive/status_changes", 300)
    )
    filters = urllib.parse.urlencode(
        {"key": "RoomAnalytics.PeopleCount.Current", "device_id": device[0]}
    )
    found.append(
        (
            "status_changes filtered: key + device",
            f"/archive/status_changes?{filters}",
            100,
        )
    )
    return found


def time_page(base: str, path: str, viewer: tuple[str, str], repeats: int) -> dict:
    """Median and slowest of several loads, after a warm-up when more than one."""
    headers = {"Authorization": _basic(viewer), "Accept": "text/html"}
    if repeats > 1:
        _get(base + path, headers)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        status, page = _get(base + path, headers)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "status": status,
        "median_ms": statistics.median(timings),
        "max_ms": max(timings),
        "timed_out": _timed_out(base, path, headers, page),
    }


def _timed_out(base: str, path: str, headers: dict, page: bytes) -> list[str]:
    """Facets or counts Datasette gave up on within its time limits.

    A page is only fast if it is complete: Datasette drops a facet that runs
    past facet_time_limit_ms and a count past sql_time_limit_ms. A count that
    metadata.yml leaves out on purpose (page_counts.py) is not a time-out.
    """
    facets = FACETS_TIMED_OUT.search(page.decode("utf-8", "replace"))
    gave_up = (
        [f"facet {name}" for name in facets.group(1).split(", ")] if facets else []
    )
    route, _, query = path.partition("?")
    status, body = _get(f"{base}{route}.json?{query}", headers)
    document = json.loads(body) if status == 200 else {}
    uncounted = not query and _skips_unfiltered_count(route.rsplit("/", 1)[-1])
    if document.get("filtered_table_rows_count", 0) is None and not uncounted:
        gave_up.append("count")
    return gave_up


def _skips_unfiltered_count(relation: str) -> bool:
    """metadata.yml has this relation's unfiltered pages go without a total."""
    metadata = yaml.safe_load(METADATA.read_text()) or {}
    tables = metadata.get("databases", {}).get("archive", {}).get("tables", {})
    plugins = tables.get(urllib.parse.unquote(relation), {}).get("plugins", {})
    return (plugins.get("page_counts") or {}).get("unfiltered") == "skip"


def _get(url: str, headers: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _basic(viewer: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(viewer).encode()).decode()


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")

"""A person's view: headless Chromium logs in and opens the rooms dashboard.

The real gunicorn process gets simulated traffic for named rooms; the browser
logs in through the form, waits until every chart has drawn and saves
screenshots to tests/artifacts/ for people to look at.
"""

import os
from pathlib import Path

import pytest
from conftest import CREDENTIALS
from playwright import sync_api
from server import WebProcess
from test_end_to_end import request

import names
import simulator

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]  # fmt: skip
VEGA_CHARTS = [
    "occupancy", "utilisation", "temperature", "humidity", "air-quality", "noise",
]  # fmt: skip
METRICS = ["people-now", "rooms-in-use", "messages-last-hour"]


def marks_of(chart: str) -> str:
    """The drawn lines or bars of one Vega-Lite chart on the dashboard."""
    return f"#chart-{chart} svg .mark-line path, #chart-{chart} svg .mark-rect path"


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    """A web process with six named rooms and a day of their traffic."""
    folder = tmp_path_factory.mktemp("dashboard")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    process = WebProcess(environment, folder / "web.log")
    building = simulator.Building(rooms=6, seed=1)
    for export in simulator.write_name_exports(building, folder / "names"):
        names.import_file(folder / "archive.db", export)
    sender = simulator.Sender(f"{process.url}/webhook", CREDENTIALS["WEBHOOK_TOKEN"])
    simulator.run(sender, building, backfill_hours=26, duration=0, echo=lambda _: 0)
    assert sender.failures == 0
    yield process
    process.close()


@pytest.fixture(scope="module")
def page(web):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.goto(f"{web.url}/-/dashboards/rooms")
        page.fill("#username", CREDENTIALS["VIEWER_USERNAME"])
        page.fill("#password", CREDENTIALS["VIEWER_PASSWORD"])
        page.click("input[type=submit]")
        page.wait_for_url("**/-/dashboards/rooms")
        yield page
        browser.close()


def test_dashboard_draws_every_chart_with_rooms_by_name(page):
    for chart in VEGA_CHARTS:
        page.wait_for_selector(marks_of(chart), timeout=30_000)
    for metric in METRICS:
        page.wait_for_selector(f"#chart-{metric} p", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)

    for chart in VEGA_CHARTS:
        assert page.locator(marks_of(chart)).count() > 0, chart
    legend = page.locator("#chart-occupancy svg .role-legend").text_content()
    for room in ("Atlas", "Birch", "Cedar", "Delta", "Ember", "Fjord"):
        assert room in legend
    assert page.locator("#chart-rooms-in-use p").inner_text().endswith("of 6")
    assert int(page.locator("#chart-messages-last-hour p").inner_text()) > 0
    assert page.errors == []


def test_room_and_date_filters_narrow_the_charts(page, web):
    page.goto(f"{web.url}/-/dashboards/rooms")
    page.select_option("#room", "Birch")
    page.click(".dashboard-filters input[type=submit]")
    page.wait_for_url("**room=Birch**")
    page.wait_for_selector("#chart-occupancy svg .mark-line path", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "dashboard-birch.png", full_page=True)

    legend = page.locator("#chart-occupancy svg .role-legend").text_content()
    assert "Birch" in legend and "Atlas" not in legend
    assert page.errors == []


def test_home_page_shows_arrivals_and_links(page, web):
    page.goto(f"{web.url}/")
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)

    arrivals = page.locator(".arrival").all_inner_texts()
    assert "messages in the last hour" in arrivals[0]
    assert int(arrivals[1].split()[0].replace(",", "")) > 100
    assert "min ago" in arrivals[2]
    assert page.locator("a[href='/-/dashboards/rooms']").count() == 1
    assert page.locator("a[href='/archive/occupancy_report.csv']").count() == 1
    assert page.errors == []


@pytest.mark.parametrize(
    ("path", "shot"),
    [
        ("/archive/room_utilisation_daily", "utilisation-daily.png"),
        ("/archive/people_count", "people-count.png"),
        ("/archive/occupancy_report?room=Atlas&from=&to=", "occupancy-report.png"),
        ("/archive/latest_status?_facet=room", "latest-status.png"),
        ("/archive", "database.png"),
    ],
)
def test_manager_pages_render_without_errors(page, web, path, shot):
    page.goto(web.url + path)
    page.screenshot(path=ARTIFACTS / shot, full_page=True)

    assert page.locator("table.rows-and-columns tbody tr, .db-table").count() > 0
    assert page.errors == []


def test_dashboard_needs_the_viewer_login(web):
    status, body, headers = request(f"{web.url}/-/dashboards/rooms")
    # urllib follows the redirect a browser gets, to the login form.
    _, form, _ = request(
        f"{web.url}/-/dashboards/rooms", headers={"Accept": "text/html"}
    )
    _, chart, _ = request(f"{web.url}/-/dashboards/rooms/occupancy")

    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert b"Atlas" not in body and b"Atlas" not in chart
    assert b'name="password"' in form and b"Atlas" not in form


@pytest.fixture(scope="module")
def empty_web(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty")
    environment = {**CREDENTIALS, "DATABASE_PATH": str(folder / "archive.db")}
    process = WebProcess(environment, folder / "web.log")
    yield process
    process.close()


def test_a_new_archive_shows_empty_charts_without_errors(page, empty_web):
    # Cookies belong to the host, not the port, and both processes share the
    # viewer login, so the session from the form still holds here.
    page.errors.clear()
    page.goto(f"{empty_web.url}/-/dashboards/rooms")
    for metric in METRICS:
        page.wait_for_selector(f"#chart-{metric} p", timeout=30_000)
    page.wait_for_selector("#chart-occupancy svg", timeout=30_000)
    page.goto(f"{empty_web.url}/")

    assert "none yet" in page.locator(".arrival").all_inner_texts()[2]
    assert page.errors == []

"""Big tables and views: unfiltered pages skip the row count, facets read counts.

The archive here is small, but the pages take the same path as on millions
of rows: metadata.yml marks the relations, Datasette's own client reads them.
"""

import pytest
from conftest import BOARD, PEOPLE, VIEWER_BASIC, status

TEMPERATURE = "RoomAnalytics.AmbientTemperature"


@pytest.fixture
def reported(post, named, browser):
    """Six reports of people and temperature, one of them removing the count."""
    for minute in range(10, 60, 10):
        post(status(f"09:{minute}", {PEOPLE: minute // 10, TEMPERATURE: 21.5}))
    post(status("10:00", removed=[PEOPLE]))
    return browser


def page(browser, path):
    response = browser.get(path, headers=VIEWER_BASIC)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "relation", ["status_changes", "messages", "people_count", "environment"]
)
def test_unfiltered_pages_go_without_a_total_and_still_page(reported, relation):
    first = page(reported, f"/archive/{relation}.json?_size=2")

    assert first["filtered_table_rows_count"] is None
    assert len(first["rows"]) == 2 and first["next_url"]
    second = page(reported, first["next_url"].split("localhost", 1)[-1])
    assert second["rows"] and second["rows"] != first["rows"]


def test_filtered_pages_keep_their_total(reported, rows):
    found = page(reported, f"/archive/status_changes.json?device_id={BOARD}&_size=2")
    people = page(reported, "/archive/people_count.json?room=Lovelace")

    assert found["filtered_table_rows_count"] == 11
    assert people["filtered_table_rows_count"] == 5


def test_a_page_filtered_by_a_counted_facet_shows_its_total_in_the_facet(reported):
    found = page(reported, f"/archive/status_changes.json?key={PEOPLE}&_size=2")

    assert found["filtered_table_rows_count"] is None and found["next_url"]
    selected = [r for r in found["facet_results"]["key"]["results"] if r["selected"]]
    assert [(r["value"], r["count"]) for r in selected] == [(PEOPLE, 6)]


def test_small_relations_keep_their_total(reported):
    assert page(reported, "/archive/latest_status.json")["filtered_table_rows_count"]


def test_status_change_facets_read_the_counts_and_match_the_rows(reported, rows):
    facets = page(reported, "/archive/status_changes.json")["facet_results"]

    keys = {r["value"]: r["count"] for r in facets["key"]["results"]}
    removed = {r["value"]: r["count"] for r in facets["removed"]["results"]}
    assert keys == {
        r["key"]: r["n"]
        for r in rows("SELECT key, count(*) AS n FROM status_changes GROUP BY key")
    }
    assert removed == {0: 10, 1: 1}
    link = next(r for r in facets["key"]["results"] if r["value"] == PEOPLE)
    assert f"key={PEOPLE}" in link["toggle_url"]
    linked = page(reported, link["toggle_url"].split("localhost", 1)[-1])
    assert len(linked["rows"]) == 6


def test_filtered_status_change_facets_count_the_matching_rows(reported):
    facets = page(reported, f"/archive/status_changes.json?key={PEOPLE}")

    assert [(r["value"], r["count"]) for r in facets["facet_results"]["removed"]
            ["results"]] == [(0, 5), (1, 1)]  # fmt: skip
    assert facets["facet_results"]["key"]["results"][0]["selected"]


def test_facets_under_other_filters_count_the_matching_rows(reported):
    found = page(
        reported,
        f"/archive/status_changes.json?key={TEMPERATURE}&at__lt=2026-11-30T09:35",
    )

    facet = found["facet_results"]["key"]["results"]
    assert [(r["value"], r["count"], r["selected"]) for r in facet] == [
        (TEMPERATURE, 3, True)
    ]


def test_message_type_facet_reads_the_counts(reported, rows):
    facets = page(reported, "/archive/messages.json")["facet_results"]

    assert {r["value"]: r["count"] for r in facets["type"]["results"]} == {
        r["type"]: r["n"]
        for r in rows("SELECT type, count(*) AS n FROM messages GROUP BY type")
    }


def test_a_page_filtered_by_a_counted_column_but_not_exactly_keeps_its_total(reported):
    found = page(reported, "/archive/status_changes.json?key__contains=PeopleCount")

    assert found["filtered_table_rows_count"] == 6

"""The Planning Datahub's pages, on SQLite and PostgreSQL, over two small feeds ingested through
the real pipeline — one of them with the problems real feeds have (an impossible date, a
status no rule maps) — and, in real Chromium, the search page's results and map."""

from __future__ import annotations

import csv
import html
import re
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from citydata.services.planning import charts, sources
from citydata.services.planning.harmonise import Authority
from citydata.services.planning.ingest import run_feed

TODAY = date.today()
CONFIG = {
    "format": "csv",
    "columns": {
        "Ref": "lpa_app_no", "Proposal": "description", "Type": "application_type",
        "Status": "status_text", "Decision": "decision_text", "Received": "received_date",
        "Decided": "decision_date", "Ward": "ward", "Address": "address",
        "Lon": "longitude", "Lat": "latitude", "Site": "geometry_wkt",
        "Units": "proposed_residential_units", "Updated": "last_updated",
    },
    "dates": ["%d/%m/%Y"],
}  # fmt: skip
RULES = {
    "status_text": {"Pending": {"status": "under_consideration"},
                    "Decided": {"status": "decided"}},
    "decision_text": {"Grant": {"decision": "approved"}, "Refuse": {"decision": "refused"}},
}
HEADER = list(CONFIG["columns"])  # type: ignore[call-overload]
SITE = ("POLYGON((-0.1430 51.5385, -0.1420 51.5385, -0.1420 51.5395, -0.1430 51.5395, "
        "-0.1430 51.5385))")


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).strftime("%d/%m/%Y")


def stamp(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).strftime("%Y-%m-%dT09:00:00Z")


def camden_rows(*, decided: bool = False) -> list[list[str]]:
    first = (["Decided", "Grant", day(60), day(5)] if decided
             else ["Pending", "", day(60), ""])
    return [
        ["2024/0001/P", "Erection of a mansard roof extension", "householder", *first,
         "Kentish Town", "12 Leighton Road, London NW5 2QE", "-0.1413", "51.5506", "", "0",
         stamp(4 if decided else 59)],
        ["2024/0002/P", "Change of use from offices to nine flats", "full", "Decided", "Grant",
         day(200), day(120), "Camden Town", "1 High Street, London", "", "", SITE, "9",
         stamp(119)],
        ["2024/0003/P", "Demolition of a garage", "full", "Pending", "", "23/04/9187", "",
         "Camden Town", "2 High Street", "-0.1426", "51.5390", "", "1", stamp(30)],
        ["2024/0004/P", "New shopfront and signage", "advertisement", "Awaiting the muse", "",
         day(20), "", "Camden Town", "3 High Street", "-0.1427", "51.5391", "", "0",
         stamp(19)],
        ["2024/0005/P", "Rear extension to form 4 flats", "full", "Decided", "Refuse",
         day(500), day(400), "Kentish Town", "8 Fortess Road", "", "", "", "4", stamp(399)],
    ]


HACKNEY_ROWS = [
    ["2024/1001", "Roof terrace with privacy screen", "householder", "Pending", "", day(10),
     "", "Dalston", "5 Kingsland High Street", "-0.0753", "51.5463", "", "0", stamp(9)],
    ["2024/1002", "Erection of 30 homes", "full", "Pending", "", day(40), "", "Hoxton East",
     "9 Pitfield Street", "-0.0830", "51.5290", "", "30", stamp(39)],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


@pytest.fixture
def planning(platform: Any, tmp_path: Path) -> dict[str, Any]:
    """Two feeds registered and ingested once (Camden with two deliberate problems)."""
    out: dict[str, Any] = {}
    for slug, code, name, rows in (("camden", "E09000007", "Camden", camden_rows()),
                                   ("hackney", "E09000012", "Hackney", HACKNEY_ROWS)):
        path = write(tmp_path / f"{slug}.csv", rows)
        sources.register(platform.db, Authority(slug, code, name, name), CONFIG, str(path))
        out[slug] = run_feed(platform.db, slug, value_rules=RULES)
        assert out[slug]["status"] == "ok", out[slug]
    out["camden_path"] = tmp_path / "camden.csv"
    return out


# -- reading the pages ------------------------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Any] = []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def find_all(self, tag: str) -> list[Node]:
        found = []
        for c in self.children:
            if isinstance(c, Node):
                if c.tag == tag:
                    found.append(c)
                found.extend(c.find_all(tag))
        return found

    def items(self) -> list[Node]:
        """The element's own list items (not those of lists inside them)."""
        return [c for c in self.children if isinstance(c, Node) and c.tag == "li"]

    def by_id(self, wanted: str) -> Node | None:
        for c in self.children:
            if isinstance(c, Node):
                if c.attrs.get("id") == wanted:
                    return c
                hit = c.by_id(wanted)
                if hit is not None:
                    return hit
        return None


def parse(page: str) -> Node:
    root = Node("#root", {})
    stack = [root]

    class Build(HTMLParser):
        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            node = Node(tag, dict(attrs))
            stack[-1].children.append(node)
            if tag not in VOID:
                stack.append(node)

        def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
            for i in range(len(stack) - 1, 0, -1):
                if stack[i].tag == tag:
                    del stack[i:]
                    break

        def handle_data(self, data):  # type: ignore[no-untyped-def]
            stack[-1].children.append(data)

    Build(convert_charrefs=True).feed(page)
    return root


def element(page: str, element_id: str) -> Node:
    node = parse(page).by_id(element_id)
    assert node is not None, f"no #{element_id} on the page"
    return node


def table(page: str, table_id: str) -> list[list[str]]:
    """The body rows of a table, as the text of each cell."""
    body = element(page, table_id).find_all("tbody")[0]
    return [[cell.text() for cell in row.children if isinstance(cell, Node)]
            for row in body.find_all("tr")]


def visible_text(page: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


# -- home ---------------------------------------------------------------------------------------
def test_home_shows_the_authorities_the_latest_changes_and_how_to_subscribe(client, planning):
    r = client.get("/planning")
    assert r.status_code == 200
    rows = {row[0]: row for row in table(r.text, "authorities-table")}
    assert rows["Camden"][1:3] == ["5", "2"]  # applications, awaiting a decision
    assert rows["Hackney"][1:3] == ["2", "2"]
    assert "ok" in rows["Camden"][3]
    assert element(r.text, "total-applications").text() == "7"
    latest = element(r.text, "latest-changes").text()
    assert "Erection of 30 homes" in latest and "Erection of a mansard roof extension" in latest
    assert len(element(r.text, "latest-changes").find_all("li")) == 7
    text = visible_text(r.text)
    assert "curl -N 'http://testserver/api/v1/planning/events" in text
    assert 'new EventSource("http://testserver/api/v1/planning/events' in text
    for href in ('href="/api/v1/planning/events"', 'href="/dataset/london-planning-applications"',
                 'href="/planning/quality"', 'href="/planning/london"',
                 f'href="/planning/runs/{planning["camden"]["id"]}"'):
        assert href in r.text, href
    assert 'aria-current="page">Planning</a>' in r.text


def more_rows(count: int) -> list[list[str]]:
    return [[f"2025/{i:04d}", f"Proposal number {i}", "full", "Pending", "", day(3), "",
             "Dalston", f"{i} Mare Street", "-0.0560", "51.5450", "", "0", stamp(2)]
            for i in range(count)]


def test_latest_changes_are_the_newest_twenty_across_streams(client, planning, platform,
                                                               tmp_path):
    from citydata.events import log as events

    write(tmp_path / "hackney.csv", HACKNEY_ROWS + more_rows(25))
    run_feed(platform.db, "hackney", value_rules=RULES)
    with platform.db.session() as session:  # every stream's events share one id sequence
        for i in range(30):
            events.append(session, "other", "thing.happened", f"k{i}", {})
    write(planning["camden_path"], camden_rows(decided=True))
    run_feed(platform.db, "camden", value_rules=RULES)
    items = [li.text() for li in element(client.get("/planning").text, "latest-changes").items()]
    assert len(items) == 20
    assert "Decided: 2024/0001/P" in items[0] and "Decision" in items[0]
    assert [i.rsplit(" ", 1)[-1] for i in items[1:]] == [str(n) for n in range(24, 5, -1)]


# -- search -------------------------------------------------------------------------------------
def test_search_lists_every_application_with_labels_and_links(client, planning):
    r = client.get("/planning/applications")
    assert r.status_code == 200
    assert element(r.text, "results-count").text() == "7 applications found"
    rows = table(r.text, "results")
    assert len(rows) == 7
    by_ref = {row[0]: row for row in rows}
    assert by_ref["2024/0002/P"][1] == "Camden"
    assert by_ref["2024/0002/P"][2] == "1 High Street"
    assert by_ref["2024/0002/P"][4] == "Full planning permission"
    assert by_ref["2024/0002/P"][5] == "Approved"
    assert by_ref["2024/0002/P"][6:] == [
        f"{d.day} {d:%b} {d.year}" for d in (TODAY - timedelta(days=200),
                                              TODAY - timedelta(days=120))]
    assert by_ref["2024/0001/P"][5] == "Under consideration"
    assert by_ref["2024/0004/P"][5] == "Not given"  # its status had no rule
    assert by_ref["2024/0001/P"][2] == "12 Leighton Road, NW5 2QE"
    assert 'href="/planning/applications/Camden-2024_0001_P"' in r.text
    # The selects offer the standard's labels.
    assert '<option value="householder">Householder planning permission</option>' in r.text
    assert '<option value="camden">Camden</option>' in r.text


@pytest.mark.parametrize(("query", "expected"), [
    ("lpa=hackney", {"2024/1001", "2024/1002"}),
    ("status=decided", {"2024/0002/P", "2024/0005/P"}),
    ("decision=refused", {"2024/0005/P"}),
    ("type=householder", {"2024/0001/P", "2024/1001"}),
    ("q=mansard+roof", {"2024/0001/P"}),
    ("ward=Dalston", {"2024/1001"}),
    ("postcode=NW5", {"2024/0001/P"}),
    ("min_units=5", {"2024/0002/P", "2024/1002"}),
    ("max_units=0&lpa=camden", {"2024/0001/P", "2024/0004/P"}),
    (f"received_from={(TODAY - timedelta(days=45)).isoformat()}",
     {"2024/0004/P", "2024/1001", "2024/1002"}),
    (f"decided_to={(TODAY - timedelta(days=200)).isoformat()}", {"2024/0005/P"}),
    ("bbox=-0.09,51.52,-0.07,51.55", {"2024/1001", "2024/1002"}),
])
def test_filters_narrow_the_results(client, planning, query, expected):
    r = client.get(f"/planning/applications?{query}")
    assert r.status_code == 200
    assert {row[0] for row in table(r.text, "results")} == expected


def test_downloads_and_the_map_carry_the_same_filters(client, planning):
    r = client.get("/planning/applications?lpa=camden&status=decided&sort=id")
    page = parse(r.text)
    links = {a.text(): html.unescape(a.attrs["href"] or "") for a in page.find_all("a")}
    assert links["Download CSV"] == ("/api/v1/planning/applications?lpa=camden&status=decided"
                                     "&sort=id&format=csv")
    csv_text = client.get(links["Download CSV"]).text
    assert sorted(line.split(",")[0] for line in csv_text.splitlines()[1:]) == [
        "Camden-2024_0002_P", "Camden-2024_0005_P"]
    map_url = html.unescape(element(r.text, "results-map").attrs["data-geojson"] or "")
    assert map_url.startswith("/api/v1/planning/applications?lpa=camden&status=decided")
    assert "format=geojson" in map_url and "limit=500" in map_url
    geojson = client.get(map_url).json()
    assert sorted(f["id"] for f in geojson["features"]) == ["Camden-2024_0002_P",
                                                            "Camden-2024_0005_P"]
    assert geojson == client.get(links["Download GeoJSON"]).json()


def test_pages_of_results_keep_the_filters(client, planning, platform, tmp_path):
    write(tmp_path / "hackney.csv", HACKNEY_ROWS + more_rows(60))
    run_feed(platform.db, "hackney", value_rules=RULES)
    first = client.get("/planning/applications?lpa=hackney&sort=id")
    assert element(first.text, "results-count").text() == "62 applications found"
    assert len(table(first.text, "results")) == 50
    assert 'href="/planning/applications?lpa=hackney&amp;sort=id&amp;page=2" rel="next"' in \
        first.text
    second = client.get("/planning/applications?lpa=hackney&sort=id&page=2")
    refs = [row[0] for row in table(second.text, "results")]
    assert len(refs) == 12 and not set(refs) & {r[0] for r in table(first.text, "results")}
    assert refs[-2:] == ["2025/0058", "2025/0059"]  # sorted by id: 2024/… come first


@pytest.mark.parametrize(("query", "message"), [
    ("status=bogus", "Status: unknown value 'bogus'; one of: received, validated"),
    ("type=bungalow", "Application type: unknown value 'bungalow'"),
    ("received_from=2024-02-30", "Received on or after: 2024-02-30 is not a calendar date"),
    ("decided_to=yesterday", "Decided on or before: a date as YYYY-MM-DD"),
    ("min_units=lots", "At least this many homes proposed: a whole number from 0 to 999999"),
    ("bbox=1,2,3", "Bounding box: Four numbers expected"),
    ("intersects=POINT(0 0)", "Inside this area: a valid WKT POLYGON"),
    ("sort=tallest", "Sort by: one of received_date, -received_date"),
    ("page=0", "Page: a whole number from 1"),
])
def test_bad_filters_show_the_message_with_400(client, planning, query, message):
    r = client.get(f"/planning/applications?{query}")
    assert r.status_code == 400
    summary = element(r.text, "error-summary-title")
    assert summary.text() == "There is a problem"
    assert message in visible_text(r.text)
    assert 'id="results"' not in r.text
    assert "<title>Error: Search planning applications" in r.text


def test_every_bad_filter_is_reported_at_once(client, planning):
    r = client.get("/planning/applications?status=x&received_from=2024-99-01&lpa=camden")
    assert r.status_code == 400
    messages = [a.text() for a in parse(r.text).find_all("a")
                if a.attrs.get("href") in ("#status", "#received_from")]
    assert messages == ["Status: unknown value 'x'; one of: received, validated, "
                        "under_consideration, decided, withdrawn, appealed",
                        "Received on or after: 2024-99-01 is not a calendar date"]
    # The values stay in the form, so they can be corrected.
    assert '<option value="x" selected>x</option>' in r.text
    assert 'value="2024-99-01"' in r.text and '<option value="camden" selected>' in r.text


def test_a_page_past_the_last_says_so(client, planning):
    r = client.get("/planning/applications?page=9")
    assert r.status_code == 200
    assert element(r.text, "results-count").text() == "7 applications found"
    assert "This page is past the last one (1 page of results)" in visible_text(r.text)
    assert 'id="results"' not in r.text


def test_the_map_is_sent_at_most_map_limit_applications(client, planning, monkeypatch):
    from citydata.services.planning import pages

    monkeypatch.setattr(pages, "MAP_LIMIT", 2)
    r = client.get("/planning/applications")
    map_url = html.unescape(element(r.text, "results-map").attrs["data-geojson"] or "")
    assert len(client.get(map_url).json()["features"]) == 2


# -- one application ----------------------------------------------------------------------------
def test_application_page_shows_fields_provenance_and_issues(client, planning):
    run = planning["camden"]
    r = client.get("/planning/applications/Camden-2024_0001_P")
    assert r.status_code == 200
    assert element(r.text, "description").text() == "Erection of a mansard roof extension"
    fields = element(r.text, "fields").text()
    assert "Householder planning permission householder" in fields
    assert "Under consideration" in fields and "Kentish Town" in fields
    prov = {row[0]: row for row in table(r.text, "provenance-table")}
    received = (TODAY - timedelta(days=60))
    assert prov["Date received"][1] == received.isoformat()
    assert prov["Date received"][2] == "camden"
    assert prov["Date received"][4] == "1"  # the row of the export
    assert prov["Date received"][5] == received.strftime("%d/%m/%Y")  # as the feed gave it
    assert prov["Date received"][6] == run["resource_hash"][:12]
    assert prov["Status"][5] == "Pending"  # the free text the rule mapped
    assert prov["Description of the proposal"][5] == "As given"
    assert prov["Application id"][5] == "Derived from the feed"
    assert f'href="/planning/runs/{run["id"]}"' in r.text
    assert "First seen in the authority's feed." in element(r.text, "history-list").text()
    assert "No open issues." in r.text
    # The map draws the site from the page's own GeoJSON.
    assert element(r.text, "site-map").attrs["data-geojson"] == \
        "/planning/applications/Camden-2024_0001_P/site.geojson"


def test_an_applications_open_issues_show_the_source_value(client, planning):
    r = client.get("/planning/applications/Camden-2024_0003_P")
    issues = table(r.text, "issues-table")
    assert len(issues) == 1
    assert issues[0][0] == "Date received" and issues[0][1] == "23/04/9187"
    assert "impossible_date" in issues[0][2] and "9187-04-23 cannot be a received date" in \
        issues[0][2]
    fields = element(r.text, "fields").text()
    assert "Date received Not given" in fields


def test_history_shows_what_a_later_ingest_changed(client, planning, platform):
    write(planning["camden_path"], camden_rows(decided=True))
    second = run_feed(platform.db, "camden", value_rules=RULES)
    assert second["updated"] == 1
    r = client.get("/planning/applications/Camden-2024_0001_P")
    items = element(r.text, "history-list").items()
    newest = items[0].text()
    assert "Decided" in newest
    assert "Status: Under consideration → Decided" in newest
    assert "Decision: not given → Approved" in newest
    assert f"Date decided: not given → {(TODAY - timedelta(days=5)).isoformat()}" in newest
    assert "First seen" in items[-1].text()
    prov = {row[0]: row for row in table(r.text, "provenance-table")}
    assert prov["Date decided"][6] == second["resource_hash"][:12]
    assert prov["Date received"][6] == planning["camden"]["resource_hash"][:12]
    assert f'href="/planning/runs/{second["id"]}"' in r.text


def test_the_site_is_its_boundary_and_its_centre(client, planning):
    site = client.get("/planning/applications/Camden-2024_0002_P/site.geojson")
    assert site.headers["content-type"] == "application/geo+json"
    polygon, centre = site.json()["features"]
    assert polygon["geometry"]["type"] == "Polygon"
    assert polygon["properties"]["reference"] == "2024/0002/P"
    assert centre["geometry"] == {"type": "Point", "coordinates": [-0.1425, 51.539]}
    point = client.get("/planning/applications/Camden-2024_0001_P/site.geojson").json()
    assert [f["geometry"] for f in point["features"]] == [
        {"type": "Point", "coordinates": [-0.1413, 51.5506]}]
    placeless = client.get("/planning/applications/Camden-2024_0005_P/site.geojson").json()
    assert placeless["features"] == []
    page = client.get("/planning/applications/Camden-2024_0005_P").text
    assert 'id="site-map"' not in page and "/vendor/leaflet/leaflet.js" not in page


def test_unknown_application_authority_and_run_are_404(client, planning):
    for path in ("/planning/applications/Camden-nope", "/planning/authorities/atlantis",
                 "/planning/quality/atlantis", "/planning/runs/not-a-run",
                 "/planning/applications/Camden-nope/site.geojson"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Page not found" in r.text, path


# -- dashboards ---------------------------------------------------------------------------------
def test_authority_dashboard_charts_and_their_numbers(client, planning):
    r = client.get("/planning/authorities/camden")
    assert r.status_code == 200
    assert element(r.text, "applications").text() == "5"
    assert element(r.text, "approval-rate").text() == "100%"  # the refusal is over a year old
    assert element(r.text, "units-awaiting").text() == "1"  # 0 + 1 + 0 pending
    assert element(r.text, "units-approved").text() == "9"
    months = dict(table(r.text, "months-table"))
    assert len(months) == 25
    received = (TODAY - timedelta(days=60)).strftime("%Y-%m")
    assert int(months[received]) >= 1
    assert sum(int(v) for v in months.values()) == 4  # the impossible date is not counted
    chart = element(r.text, "chart-months")
    assert chart.tag == "svg" and chart.attrs["role"] == "img"
    assert chart.find_all("title")[0].text() == "Applications received by month, Camden"
    assert len(chart.find_all("rect")) == 25
    statuses = dict(table(r.text, "status-table"))
    assert statuses == {"Under consideration": "2", "Decided": "2", "Not given": "1"}
    types = dict(table(r.text, "type-table"))
    assert types["Full planning permission"] == "3"
    times = dict(table(r.text, "times-table"))
    assert times["Full planning permission"] == "80 days"


def test_london_dashboard_counts_every_authority(client, planning):
    r = client.get("/planning/london")
    assert r.status_code == 200
    assert element(r.text, "applications").text() == "7"
    assert element(r.text, "units-awaiting").text() == "31"
    assert "London" in element(r.text, "chart-months").find_all("title")[0].text()


# -- quality ------------------------------------------------------------------------------------
def test_scorecard_table_has_a_row_per_authority(client, planning):
    r = client.get("/planning/quality")
    assert r.status_code == 200
    rows = {row[0]: row for row in table(r.text, "scorecard")}
    assert rows["Camden"][1] == "5" and rows["Camden"][5] == "2" and rows["Camden"][6] == "0"
    assert rows["Camden"][3] == "60%"  # two of five applications flagged
    assert rows["Hackney"][5] == "0" and rows["Hackney"][3] == "100%"
    assert 'href="/planning/quality/camden"' in r.text


def test_authority_scorecard_shows_issue_codes_counts_and_source_values(client, planning):
    r = client.get("/planning/quality/camden")
    assert r.status_code == 200
    codes = {row[1]: row for row in table(r.text, "issues-by-code")}
    assert codes["impossible_date"][0] == "Impossible date" and codes["impossible_date"][2] == "1"
    assert codes["unmapped_status"][2] == "1"
    examples = visible_text(r.text)
    assert "23/04/9187" in examples and "Awaiting the muse" in examples
    assert 'href="/planning/applications/Camden-2024_0004_P"' in r.text
    bars = element(r.text, "completeness-by-field").find_all("li")
    by_field = {li.text().rsplit(" ", 1)[0]: li.text().rsplit(" ", 1)[1] for li in bars}
    assert by_field["Description of the proposal"] == "100%"
    assert by_field["Date received"] == "80%"
    assert by_field["UPRN"] == "0%"
    assert f'href="/planning/runs/{planning["camden"]["id"]}"' in r.text


def test_last_run_notes_about_changed_columns(client, planning, platform):
    path = planning["camden_path"]
    text = path.read_text().replace("Ward,", "Ward name,", 1)
    path.write_text(text)
    run_feed(platform.db, "camden", value_rules=RULES)
    r = client.get("/planning/quality/camden")
    notes = element(r.text, "last-run").text()
    assert "no longer has" in notes and "Ward" in notes
    assert "does not know" in notes and "Ward name" in notes


def test_run_report_shows_counts_and_issues(client, planning):
    run = planning["camden"]
    r = client.get(f"/planning/runs/{run['id']}")
    assert r.status_code == 200
    assert element(r.text, "run-counts").text().startswith("5 new, 0 changed, 0 unchanged, "
                                                             "2 with values left out")
    issues = table(r.text, "run-issues")
    assert [(row[0], row[3]) for row in issues] == [("3", "23/04/9187"),
                                                   ("4", "Awaiting the muse")]
    assert all(row[5] == "Value left out" for row in issues)
    assert "A file export" in r.text and str(planning["camden_path"]) not in r.text


def test_a_failed_run_shows_its_error(client, planning, platform):
    planning["camden_path"].write_bytes(b"\x00\x01binary")
    report = run_feed(platform.db, "camden", value_rules=RULES)
    assert report["status"] == "failed"
    r = client.get(f"/planning/runs/{report['id']}")
    assert "not text" in element(r.text, "run-error").text()
    card = client.get("/planning/quality/camden")
    assert "failed" in element(card.text, "last-run").text()


def test_every_link_on_the_pages_leads_somewhere(client, planning):
    """Each page's links within the site answer 200 (the live feed, which never ends, and the
    catalogue dataset, which these tests do not publish, aside)."""
    run = planning["camden"]["id"]
    pages = ["/planning", "/planning/applications?lpa=camden",
             "/planning/applications/Camden-2024_0002_P", "/planning/authorities/camden",
             "/planning/london", "/planning/quality", "/planning/quality/camden",
             f"/planning/runs/{run}"]
    seen: set[str] = set()
    for path in pages:
        for a in parse(client.get(path).text).find_all("a"):
            href = html.unescape(a.attrs.get("href") or "").split("#")[0]
            if not href.startswith("/") or href in seen or href.startswith(
                    ("/api/v1/planning/events", "/dataset/london-planning-applications")):
                continue
            seen.add(href)
            assert client.get(href).status_code == 200, (path, href)
    assert "/planning/applications/Camden-2024_0003_P" in seen
    assert f"/planning/runs/{run}" in seen and "/standards/london-planning-applications" in seen


# -- charts -------------------------------------------------------------------------------------
def test_chart_labels_are_escaped_and_bars_scale():
    svg = str(charts.bar_chart("c", "Chart <b>", [("<script>x</script>", 2), ("b & c", 4)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b &amp; c" in svg
    assert "<title id=\"c-title\">Chart &lt;b&gt;</title>" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([0-9.]+)"', svg)]
    assert widths[1] == pytest.approx(2 * widths[0])
    assert "style=" not in svg  # the CSP forbids inline styles


def test_column_chart_has_a_bar_per_point_and_a_nice_axis():
    svg = str(charts.column_chart("m", "Months", [("2024-01", 3), ("2024-02", 0),
                                                  ("2024-03", 7)]))
    assert svg.count("<rect") == 3
    assert ">10</text>" in svg and ">5</text>" in svg  # the axis tops out at 10
    assert charts.nice_max(7) == 10 and charts.nice_max(21) == 25 and charts.nice_max(0) == 1


# -- in a real browser --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium():  # type: ignore[no-untyped-def]
    from tests.web.test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make system-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def browser_page(chromium, live_server):  # type: ignore[no-untyped-def]
    """A page on our real server; any console error (a CSP violation, a script error, a
    missing asset) fails the test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.base = live_server  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not problems, problems


# SQLite only, like the other browser tests: the page does not depend on the backend, and
# every page is covered on both backends above.
@pytest.mark.browser
@pytest.mark.xdist_group("browser")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_search_page_in_chromium_draws_the_results_on_the_map(browser_page, planning):
    page = browser_page
    page.goto(page.base + "/planning/applications?lpa=camden")
    assert page.inner_text("#results-count") == "5 applications found"
    assert page.locator("#results tbody tr").count() == 5
    page.wait_for_selector("#results-map[data-ready], #results-map[data-error]")
    assert page.get_attribute("#results-map", "data-error") is None
    # Four of Camden's five have a place (one gave only a street); all four are drawn.
    assert page.get_attribute("#results-map", "data-ready") == "4"
    assert page.locator("#results-map path.leaflet-interactive").count() == 4
    page.click("#results tbody tr:first-child th a")
    page.wait_for_url("**/planning/applications/Camden-2024_0004_P")
    page.wait_for_selector("#site-map[data-ready], #site-map[data-error]")
    assert page.get_attribute("#site-map", "data-ready") == "1"

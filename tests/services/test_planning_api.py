"""The Planning Datahub's API (issue #7): search with every filter, CSV and GeoJSON exports,
an application with provenance and history, the scorecard, clear 400s, and the live feed of
events over real HTTP (SSE) filtered by authority."""

from __future__ import annotations

import csv
import io
import json
import threading

import httpx
import pytest

from citydata.services.planning import sources
from citydata.services.planning.harmonise import Authority
from tests.services.test_planning_pipeline import (
    CSV_CONFIG,
    GOOD,
    HACKNEY,
    RULES,
    ingest,
    write_csv,
)

CAMDEN = Authority("camden", "E09000007", "Camden", "Camden")


@pytest.fixture
def loaded(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "load_value_rules", lambda: RULES)
    path = tmp_path / "hackney.csv"
    sources.register(platform.db, HACKNEY, CSV_CONFIG, str(path))
    write_csv(path, [
        GOOD,
        {**GOOD, "Reference": "2020/0001", "Type": "HSE", "Status": "Grant Permission",
         "Received": "03/02/2020", "Valid": "10/02/2020", "Decided": "01/04/2020",
         "Units": "4", "Proposal": "Roof extension to create 4 flats"},
        {**GOOD, "Reference": "2019/0042", "Status": "Refusal (P)", "Received": "23/04/9187",
         "Decided": "05/05/2019", "Easting": "531000", "Northing": "186000"},
    ])
    ingest(platform)
    return path


def test_search_filters_and_sorts(client, loaded):
    body = client.get("/api/v1/planning/applications").json()
    assert body["count"] == 3
    assert [r["id"] for r in body["results"]][:2] == ["Hackney-2021_2491", "Hackney-2020_0001"]
    one = client.get("/api/v1/planning/applications?type=householder").json()
    assert [r["id"] for r in one["results"]] == ["Hackney-2020_0001"]
    assert client.get("/api/v1/planning/applications?decision=refused").json()["count"] == 1
    assert client.get("/api/v1/planning/applications?min_units=3").json()["count"] == 1
    assert client.get("/api/v1/planning/applications?received_from=2021-01-01").json()[
        "count"] == 1
    assert client.get("/api/v1/planning/applications?q=roof flats").json()["count"] == 1
    assert client.get("/api/v1/planning/applications?lpa=E09000012,camden").json()[
        "count"] == 3
    assert client.get("/api/v1/planning/applications?lpa=camden").json()["count"] == 0
    box = client.get("/api/v1/planning/applications?bbox=-0.08,51.54,-0.07,51.55").json()
    assert box["count"] == 2
    poly = "POLYGON((-0.12 51.55,-0.10 51.55,-0.10 51.57,-0.12 51.57,-0.12 51.55))"
    inside = client.get("/api/v1/planning/applications", params={"intersects": poly}).json()
    assert [r["id"] for r in inside["results"]] == ["Hackney-2019_0042"]
    assert client.get("/api/v1/planning/applications?postcode=E8").json()["count"] == 3


@pytest.mark.parametrize("query,field", [
    ("status=banana", "status"), ("received_from=2021-13-01", "received_from"),
    ("bbox=1,2,3", "bbox"), ("intersects=POINT(1 2)", "intersects"), ("limit=5000", "limit"),
    ("min_units=-1", "min_units"), ("sort=colour", "sort"), ("format=xls", "format"),
    ("colour=red", "colour"),
])
def test_bad_parameters_are_a_clear_400(client, loaded, query, field):
    r = client.get(f"/api/v1/planning/applications?{query}")
    assert r.status_code == 400
    assert field in r.json()["error"]["fields"]


def test_exports_carry_every_match_in_the_standard(client, loaded):
    r = client.get("/api/v1/planning/applications?format=csv&decision=refused,"
                   "approved_with_conditions")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["id"] for row in rows} == {"Hackney-2020_0001", "Hackney-2019_0042"}
    assert rows[0]["lpa_code"] == "E09000012"
    geo = client.get("/api/v1/planning/applications?format=geojson").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 3
    assert geo["features"][0]["geometry"]["type"] == "Point"


def test_an_application_has_provenance_and_history(client, loaded, platform):
    write_csv(loaded, [{**GOOD, "Status": "Refusal (P)", "Decided": "02/08/2021"}])
    ingest(platform, kind="delta")
    body = client.get("/api/v1/planning/applications/Hackney-2021_2491").json()
    assert body["decision"] == "refused"
    assert body["provenance"]["decision"]["original"] == "Refusal (P)"
    assert body["provenance"]["received_date"]["original"] == "01/06/2021"
    assert [h["type"] for h in body["history"]] == ["application.received",
                                                    "application.decided"]
    assert body["history"][1]["changes"]["decision"] == {"from": None, "to": "refused"}
    assert client.get("/api/v1/planning/applications/Nowhere-1").status_code == 404


def test_scorecard_issues_runs_and_authorities(client, loaded):
    card = client.get("/api/v1/planning/quality/hackney").json()
    assert card["issues_by_code"] == {"impossible_date": 1}
    assert card["completeness"]["received_date"] == round(2 / 3, 3)
    assert client.get("/api/v1/planning/quality").json()["count"] == 1
    issues = client.get("/api/v1/planning/issues?lpa=hackney").json()
    assert issues["results"][0]["value"] == "23/04/9187"
    runs = client.get("/api/v1/planning/runs").json()["results"]
    report = client.get(f"/api/v1/planning/runs/{runs[0]['id']}").json()
    assert report["created"] == 3 and report["issues"][0]["code"] == "impossible_date"
    dash = client.get("/api/v1/planning/authorities/hackney").json()
    assert dash["applications"] == 3
    assert client.get("/api/v1/planning/authorities/nowhere").status_code == 404
    assert client.get("/api/v1/planning/authorities").json()["results"][0]["slug"] == "hackney"


def test_live_events_reach_a_filtered_subscriber_over_http(platform, live_server, tmp_path,
                                                           monkeypatch):
    monkeypatch.setattr(sources, "load_value_rules", lambda: RULES)
    hackney_csv, camden_csv = tmp_path / "hackney.csv", tmp_path / "camden.csv"
    sources.register(platform.db, HACKNEY, CSV_CONFIG, str(hackney_csv))
    sources.register(platform.db, CAMDEN, CSV_CONFIG, str(camden_csv))
    received: list[dict] = []
    ready, done = threading.Event(), threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{live_server}/api/v1/planning/events?lpa=hackney",
                          headers={"Accept": "text/event-stream"}, timeout=20) as r:
            ready.set()
            for line in r.iter_lines():
                if line.startswith("data:"):
                    received.append(json.loads(line[5:]))
                    if len(received) == 2:
                        done.set()
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    write_csv(camden_csv, [{**GOOD, "Reference": "C/1"}])
    from citydata.services.planning.ingest import run_feed

    run_feed(platform.db, "camden", value_rules=RULES)
    write_csv(hackney_csv, [GOOD, {**GOOD, "Reference": "H/2"}])
    run_feed(platform.db, "hackney", value_rules=RULES)
    assert done.wait(15), received
    assert [e["key"] for e in received] == ["Hackney-2021_2491", "Hackney-H_2"]
    assert all(e["type"] == "application.received" for e in received)
    assert received[0]["data"]["source"]["feed"] == "hackney"


def test_the_event_feed_refuses_bad_filters(client):
    assert client.get("/api/v1/planning/events?type=exploded").status_code == 400
    assert client.get("/api/v1/planning/events?colour=red").status_code == 400
    r = client.get("/api/v1/planning/events", headers={"Last-Event-ID": "abc"})
    assert r.status_code == 400 and "Last-Event-ID" in r.json()["error"]["message"]

"""The London planning application standard: registered like any standard, and it catches the
real-world messiness the Planning Datahub's feeds bring (issue #7)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from citydata.services.planning.standard import (
    PLANNING_APPLICATIONS,
    PLANNING_DATA_GOV_UK,
    STATUSES,
)
from citydata.standards.validate import validate_snapshot

COLUMNS = [f["name"] for f in PLANNING_APPLICATIONS["fields"]]
GOOD = {
    "id": "Hackney-2021_2491", "lpa_code": "E09000012", "lpa_name": "Hackney",
    "lpa_app_no": "2021/2491", "ward": "Dalston", "uprn": "010008262731",
    "site_name": "12", "street_name": "Kingsland High Street", "postcode": "E8 2JS",
    "site_geometry": "POLYGON((-0.0755 51.5462, -0.0751 51.5462, -0.0751 51.5465, "
                     "-0.0755 51.5465, -0.0755 51.5462))",
    "centroid": "POINT(-0.0753 51.54635)",
    "description": "Change of use of ground floor from retail to cafe", "application_type": "full",
    "development_type": "minor other", "status": "decided", "decision": "approved_with_conditions",
    "decision_agency": "delegated", "received_date": "2021-06-01", "valid_date": "2021-06-08",
    "decision_date": "2021-08-02", "appeal_status": None, "appeal_decision": None,
    "proposed_residential_units": "0", "existing_residential_units": "0", "site_area_ha": "0.02",
    "url": "https://planning.hackney.gov.uk/2021/2491", "last_updated": "2021-08-03T09:00:00Z",
}


def snapshot(tmp_path: Path, rows: list[dict]) -> Path:
    out = tmp_path / "applications.parquet"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({', '.join(f'{c} VARCHAR' for c in COLUMNS)})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in COLUMNS)})",
                    [[r.get(c) for c in COLUMNS] for r in rows])
    con.execute(f"COPY t TO '{out}' (FORMAT parquet)")
    con.close()
    return out


def test_it_is_registered_as_a_data_standard(client):
    listed = client.get("/api/v1/standards").json()
    names = [s["name"] for s in listed.get("results", listed.get("standards", []))]
    assert "london-planning-applications" in names


def test_a_clean_application_passes(tmp_path):
    report = validate_snapshot(snapshot(tmp_path, [GOOD]), PLANNING_APPLICATIONS)
    assert report["valid"] is True and report["error_count"] == 0


def test_the_feeds_messiness_is_caught_with_the_source_value(tmp_path):
    rows = [
        {**GOOD, "id": "Camden-1", "received_date": "23/04/9187"},            # impossible date
        {**GOOD, "id": "Camden-2", "status": "Refusal (P)"},                 # free-text status
        {**GOOD, "id": "Camden-3", "decision": "ALL DECISIONS ISSUED"},
        {**GOOD, "id": "Camden-4", "postcode": "NW1 XYZ"},                   # bad postcode
        {**GOOD, "id": "Camden-5", "site_geometry": "LINESTRING(0 0, 1 1)"},  # not an area
        {**GOOD, "id": "Camden-6", "proposed_residential_units": "-3"},
        {**GOOD, "id": "Camden-7", "uprn": "10008262731.0"},                  # a float uprn
        {**GOOD},                                                             # duplicate
    ]
    report = validate_snapshot(snapshot(tmp_path, [GOOD, *rows]), PLANNING_APPLICATIONS)
    assert report["valid"] is False
    found = {(e["field"], e.get("value")) for e in report["errors"]}
    for field, value in [("received_date", "23/04/9187"), ("status", "Refusal (P)"),
                         ("decision", "ALL DECISIONS ISSUED"), ("postcode", "NW1 XYZ"),
                         ("site_geometry", "LINESTRING(0 0, 1 1)"),
                         ("proposed_residential_units", "-3"), ("uprn", "10008262731.0"),
                         ("id", "Hackney-2021_2491")]:
        assert (field, value) in found, (field, value, sorted(found))


def test_every_mapped_field_exists_and_the_lists_are_codes():
    assert set(PLANNING_DATA_GOV_UK) <= set(COLUMNS)
    assert all(code == code.lower() and " " not in code for code in STATUSES)
    assert list(STATUSES) == ["received", "validated", "under_consideration", "decided",
                              "withdrawn", "appealed"]

"""The Planning Datahub's pipeline (issue #7): adapters for CSV, JSON and paged JSON exports,
harmonisation by explicit rules, provenance per value, quarantine, and feeds that change their
columns, repeat rows or send garbage — the last good state stays live."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from citydata.events import log as events
from citydata.services.planning import history, query, sources, stats
from citydata.services.planning.harmonise import Authority, Gazetteer, Harmoniser
from citydata.services.planning.ingest import run_feed
from citydata.storage.models_planning import PlanningApplication, PlanningIssue

TODAY = date(2026, 11, 30)
HACKNEY = Authority("hackney", "E09000012", "Hackney", "Hackney")
RULES = {
    "application_type": {"FUL": "full", "HSE": "householder"},
    "status_text": {
        "Refusal (P)": {"status": "decided", "decision": "refused"},
        "ALL DECISIONS ISSUED": {"status": "decided"},
        "Registered": {"status": "validated"},
        "Pending Consideration": {"status": "under_consideration"},
        "Grant Permission": {"status": "decided", "decision": "approved_with_conditions"},
    },
}
CSV_CONFIG = {
    "format": "csv",
    "csv": {"delimiter": ","},
    "columns": {
        "Reference": "lpa_app_no", "Proposal": "description", "Type": "application_type",
        "Status": "status_text", "Received": "received_date", "Valid": "valid_date",
        "Decided": "decision_date", "Address": "address", "UPRN": "uprn",
        "Units": "proposed_residential_units", "Easting": "easting", "Northing": "northing",
        "Updated": "last_updated",
    },
    "dates": ["%d/%m/%Y"],
    "datetimes": ["%d/%m/%Y %H:%M"],
    "crs": "EPSG:27700",
    "url_template": "https://planning.hackney.gov.uk/{lpa_app_no}",
}
HEADER = list(CSV_CONFIG["columns"])
# Kingsland High Street, E8 (BNG)
GOOD = {
    "Reference": "2021/2491", "Proposal": "Change of use from shop to cafe &amp; takeaway",
    "Type": "FUL", "Status": "Pending Consideration", "Received": "01/06/2021",
    "Valid": "08/06/2021", "Decided": "", "Address": "12 Kingsland High Street, London, E8 2JS",
    "UPRN": "10008262731", "Units": "0", "Easting": "533626", "Northing": "184964",
    "Updated": "09/06/2021 10:00",
}


def write_csv(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    import csv

    header = header or HEADER
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


@pytest.fixture
def hackney(platform, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "load_value_rules", lambda: RULES)
    path = tmp_path / "hackney.csv"
    sources.register(platform.db, HACKNEY, CSV_CONFIG, str(path))
    return path


def ingest(platform, path=None, **kw):
    return run_feed(platform.db, "hackney", location=str(path) if path else None,
                    value_rules=RULES, today=TODAY, **kw)


def test_a_messy_csv_row_is_harmonised_by_explicit_rules_with_its_provenance(platform, hackney):
    write_csv(hackney, [GOOD])
    report = ingest(platform)
    assert report["status"] == "ok" and report["created"] == 1 and report["quarantined"] == 0
    with platform.db.session() as session:
        app = query.get(session, "Hackney-2021_2491")
        assert app["description"] == "Change of use from shop to cafe & takeaway"
        assert app["received_date"] == "2021-06-01" and app["valid_date"] == "2021-06-08"
        assert app["status"] == "under_consideration" and app["application_type"] == "full"
        assert (app["site_name"], app["street_name"], app["postcode"]) == (
            "12", "Kingsland High Street", "E8 2JS")
        assert app["url"] == "https://planning.hackney.gov.uk/2021/2491"
        assert 51.54 < app["lat"] < 51.55 and -0.08 < app["lon"] < -0.07  # reprojected BNG
        assert app["last_updated"] == "2021-06-09T10:00:00Z"
        prov = history.provenance(app, history.events_of(session, app["id"]))
    assert prov["received_date"]["original"] == "01/06/2021"
    assert prov["received_date"]["row"] == 1 and prov["received_date"]["feed"] == "hackney"
    assert prov["received_date"]["resource"] == report["resource_hash"]
    assert prov["status"]["original"] == "Pending Consideration"
    assert prov["description"]["original"] is None  # stored as it came (after normalising)


def test_impossible_dates_free_text_and_bad_values_are_flagged_not_guessed(platform, hackney):
    rows = [
        {**GOOD, "Reference": "21/1", "Received": "23/04/9187"},
        {**GOOD, "Reference": "21/2", "Status": "PENDING CONSIDERATION - SEE NOTES"},
        {**GOOD, "Reference": "21/3", "UPRN": "1.00023E+11", "Units": "12 units"},
        {**GOOD, "Reference": "21/4", "UPRN": "100021234567.0"},
        {**GOOD, "Reference": "21/5", "Address": "Flat 2, 3 Mare Street, N1 9"},
        {**GOOD, "Reference": "21/6", "Decided": "01/01/2020"},  # before received
        {**GOOD, "Reference": "21/7", "Status": "ALL DECISIONS ISSUED"},
    ]
    write_csv(hackney, rows)
    report = ingest(platform)
    assert report["created"] == 7 and report["flagged"] == 5
    with platform.db.session() as session:
        issues = {(i.application_id, i.code): i for i in session.scalars(select(PlanningIssue))}
        get = lambda ref: query.get(session, f"Hackney-{ref}")  # noqa: E731
        assert get("21_1")["received_date"] is None
        assert issues[("Hackney-21_1", "impossible_date")].value == "23/04/9187"
        assert get("21_2")["status"] is None
        assert issues[("Hackney-21_2", "unmapped_status")].value == \
            "PENDING CONSIDERATION - SEE NOTES"
        assert get("21_3")["uprn"] is None and get("21_3")["proposed_residential_units"] is None
        assert ("Hackney-21_3", "uprn_mangled") in issues
        assert issues[("Hackney-21_3", "bad_number")].value == "12 units"
        assert get("21_4")["uprn"] == "100021234567"  # an explicit rule, not a flag
        assert get("21_5")["postcode"] is None
        assert ("Hackney-21_5", "bad_postcode") in issues
        assert get("21_6")["decision_date"] is None
        assert ("Hackney-21_6", "date_before_received") in issues
        assert get("21_7")["status"] == "decided" and get("21_7")["decision"] is None
        card = stats.scorecard(session, "hackney")
    assert card["issues_by_code"]["impossible_date"] == 1
    assert card["applications_flagged"] == 5 and card["validity"] == round(1 - 5 / 7, 3)


def test_an_update_is_an_event_with_what_changed_and_garbage_never_overwrites(platform, hackney):
    write_csv(hackney, [GOOD])
    ingest(platform)
    decided = {**GOOD, "Status": "Refusal (P)", "Decided": "02/08/2021",
               "Updated": "03/08/2021 09:00"}
    write_csv(hackney, [decided])
    report = ingest(platform)
    assert (report["created"], report["updated"]) == (0, 1)
    with platform.db.session() as session:
        app = query.get(session, "Hackney-2021_2491")
        assert (app["status"], app["decision"], app["decision_date"]) == (
            "decided", "refused", "2021-08-02")
        assert app["decision_published"] == "2021-08-03"
        kinds = [e.type for e in history.events_of(session, app["id"])]
        assert kinds == ["application.received", "application.decided"]
        change = history.change_dict(history.events_of(session, app["id"])[-1])
        assert change["changes"]["status"] == {"from": "under_consideration", "to": "decided"}
    # Now the feed sends garbage for the same application: the good values stay.
    write_csv(hackney, [{**decided, "Decided": "31/02/2021", "UPRN": "banana",
                         "Updated": "04/08/2021 09:00"}])
    ingest(platform)
    with platform.db.session() as session:
        app = query.get(session, "Hackney-2021_2491")
        assert app["decision_date"] == "2021-08-02" and app["uprn"] == "10008262731"
        assert app["last_updated"] == "2021-08-04T09:00:00Z"


def test_an_unchanged_export_is_recognised_and_adds_no_events(platform, hackney):
    write_csv(hackney, [GOOD, {**GOOD, "Reference": "21/9"}])
    assert ingest(platform)["created"] == 2
    assert ingest(platform)["status"] == "unchanged"
    again = ingest(platform, force=True)
    assert again["status"] == "ok" and again["unchanged"] == 2
    with platform.db.session() as session:
        assert events.last_id(session, "planning") == 2 or len(
            events.read(session, "planning", 0)) == 2


def test_duplicates_are_taken_once_and_conflicting_ones_quarantined(platform, hackney):
    write_csv(hackney, [GOOD, GOOD, {**GOOD, "Reference": "21/8", "Proposal": "A"},
                        {**GOOD, "Reference": "21/8", "Proposal": "B"},
                        {**GOOD, "Reference": ""}])
    report = ingest(platform)
    assert report["created"] == 1 and report["quarantined"] == 3
    with platform.db.session() as session:
        codes = sorted(i.code for i in session.scalars(select(PlanningIssue)))
        assert codes == ["conflicting_duplicate", "conflicting_duplicate", "duplicate_row",
                         "missing_reference"]
        assert session.get(PlanningApplication, "Hackney-21_8") is None


def test_a_feed_that_changes_its_columns_or_drops_rows_keeps_what_is_stored(platform, hackney):
    write_csv(hackney, [GOOD, {**GOOD, "Reference": "21/9"}])
    ingest(platform)
    # The export renames "Status" and loses a row: statuses stay, nothing is deleted.
    header = [("Application Status" if h == "Status" else h) for h in HEADER]
    renamed = {**GOOD, "Application Status": "Refusal (P)", "Proposal": "Changed text"}
    write_csv(hackney, [renamed], header)
    report = ingest(platform)
    assert report["status"] == "ok" and report["missing"] == 1
    assert any("Status" in n for n in report["notes"])
    assert any("Application Status" in n for n in report["notes"])
    with platform.db.session() as session:
        app = query.get(session, "Hackney-2021_2491")
        assert app["status"] == "under_consideration" and app["description"] == "Changed text"
        assert session.scalar(select(func.count()).select_from(PlanningApplication)) == 2


def test_a_feed_without_its_reference_column_fails_and_stores_nothing(platform, hackney):
    write_csv(hackney, [GOOD])
    ingest(platform)
    header = [("Ref No" if h == "Reference" else h) for h in HEADER]
    write_csv(hackney, [{**GOOD, "Ref No": "2021/2491", "Proposal": "Other"}], header)
    report = ingest(platform)
    assert report["status"] == "failed" and "reference" in report["error"]
    with platform.db.session() as session:
        assert query.get(session, "Hackney-2021_2491")["description"].startswith("Change")


@pytest.mark.parametrize("garbage", [b"\x00\x01\x02binary", b"", b"only-one-column\n1\n",
                                     b"Reference,Proposal\n\"unterminated"])
def test_garbage_fails_the_run_with_a_clear_message(platform, hackney, garbage):
    write_csv(hackney, [GOOD])
    ingest(platform)
    hackney.write_bytes(garbage)
    report = ingest(platform)
    assert report["status"] in ("failed", "ok")
    if report["status"] == "ok":  # the unterminated quote is read as one odd row
        assert report["created"] == 0 and report["updated"] == 0
    else:
        assert report["error"] and "Traceback" not in report["error"]
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PlanningApplication)) == 1


def test_a_missing_file_fails_the_run(platform, hackney):
    report = ingest(platform, Path("/nonexistent/feed.csv"))
    assert report["status"] == "failed" and "cannot be read" in report["error"]


JSON_CONFIG = {
    "format": "json-paged",
    "json": {"records": "data.items", "next": "links.next"},
    "columns": {"ref": "lpa_app_no", "proposal": "description", "type": "application_type",
                "status": "status", "decision": "decision", "dates.received": "received_date",
                "dates.decided": "decision_date", "site": "geometry_wkt",
                "uprn": "uprn", "units.proposed": "proposed_residential_units"},
    "dates": ["%Y-%m-%d"],
    "crs": "EPSG:27700",
}


def _page(items, next_link):
    return {"data": {"items": items}, "links": {"next": next_link}}


def _json_item(ref, **kw):
    base = {"ref": ref, "proposal": "Rear extension", "type": "HSE", "status": "decided",
            "decision": "approved", "dates": {"received": "2022-01-03", "decided": "2022-03-01"},
            "site": "POLYGON((533600 184950, 533650 184950, 533650 185000, 533600 185000, "
                    "533600 184950))", "uprn": 10008262731, "units": {"proposed": 1}}
    return {**base, **kw}


def test_a_paged_json_feed_over_http_with_geometry_checks(platform, tmp_path, monkeypatch):
    from tests.federation.fakes import FakeServer

    monkeypatch.setattr(sources, "load_value_rules", lambda: RULES)
    bowtie = ("POLYGON((533600 184950, 533650 185000, 533650 184950, 533600 185000, "
              "533600 184950))")
    far = "POLYGON((400000 300000, 400050 300000, 400050 300050, 400000 300050, 400000 300000))"
    pages = {
        "/feed/1": _page([_json_item("22/0001"), _json_item("22/0002", site=bowtie)], "2"),
        "/feed/2": _page([_json_item("22/0003", site="POLYGON((1 2, 3"),
                          _json_item("22/0004", site=far), "not an object"], None),
    }
    class Pages(FakeServer):
        def handle(self, req, h):
            if req.path in pages:
                h.reply_json(200, pages[req.path])
            else:
                h.reply(404, "Not found", "text/plain")

    with Pages() as server:
        sources.register(platform.db, HACKNEY, JSON_CONFIG, f"{server.url}/feed/1")
        from citydata.federation.fetch import Fetcher

        with Fetcher() as fetcher:
            report = run_feed(platform.db, "hackney", value_rules=RULES, today=TODAY,
                              fetcher=fetcher, gazetteer=Gazetteer())
    assert report["status"] == "ok", report
    assert report["created"] == 4 and report["quarantined"] == 1 and report["rows_read"] == 5
    with platform.db.session() as session:
        first = query.get(session, "Hackney-22_0001")
        assert first["site_geometry"].startswith("POLYGON ((-0.07")
        assert first["uprn"] == "10008262731" and first["proposed_residential_units"] == 1
        codes = {(i.application_id, i.code) for i in session.scalars(select(PlanningIssue))}
    assert ("Hackney-22_0002", "invalid_geometry") in codes
    assert ("Hackney-22_0003", "bad_geometry") in codes
    assert ("Hackney-22_0004", "outside_authority") in codes
    assert ("", "malformed_row") in codes


def test_harmoniser_refuses_a_configuration_without_a_reference():
    with pytest.raises(ValueError, match="lpa_app_no"):
        Harmoniser(HACKNEY, {"columns": {"Proposal": "description"}}, RULES)
    with pytest.raises(ValueError, match="unknown targets"):
        Harmoniser(HACKNEY, {"columns": {"Ref": "lpa_app_no", "X": "colour"}}, RULES)


def test_a_run_cut_off_by_a_dead_process_is_reported_failed_by_the_next(platform, hackney):
    from datetime import timedelta

    from citydata.services.planning.ingest import INTERRUPTED_AFTER
    from citydata.storage.models import utcnow
    from citydata.storage.models_planning import PlanningRun

    with platform.db.session() as session:
        session.add(PlanningRun(id="dead-run", feed="hackney", status="running",
                                started=utcnow() - INTERRUPTED_AFTER - timedelta(minutes=1)))
    write_csv(hackney, [GOOD])
    assert ingest(platform)["status"] == "ok"
    with platform.db.session() as session:
        dead = session.get(PlanningRun, "dead-run")
        assert dead.status == "failed" and "Interrupted" in dead.error

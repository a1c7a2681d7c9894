"""The Planning Datahub end to end (issue #7): the 35 authorities' demo feeds generated,
ingested and published as a catalog dataset (rows resource + OGC collection); the scorecard
shows the injected problems; the replay emits live changes through the pipeline and picks up
where it stopped after a restart."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from citydata.events import log as events
from citydata.geo.reference import read_boroughs
from citydata.services.planning import demo_feeds, service, stats
from citydata.storage.models import RefBorough, RefPostcode
from citydata.storage.models_planning import PlanningApplication, PlanningFeed, PlanningIssue

TODAY = date(2026, 11, 30)
PER_AUTHORITY = 12


@pytest.fixture(scope="session")
def sample_places(reference_settings):
    """Real London postcodes, 30 per authority (the generator's input)."""
    places = demo_feeds.london_places(reference_settings)
    return {code: found[::max(1, len(found) // 30)][:30] for code, found in places.items()}


@pytest.fixture
def london(platform, make_ctx, reference_settings, sample_places, monkeypatch):
    """The reference data the gazetteer needs (boroughs, the sampled postcodes) and the GLA."""
    from citydata.catalog import organizations

    monkeypatch.setattr(demo_feeds, "london_places", lambda settings: sample_places)
    with platform.db.session() as session:
        for b in read_boroughs(reference_settings):
            session.add(RefBorough(gss_code=b["gss_code"], name=b["name"],
                                   geometry=json.dumps(b["geometry"]), west=b["west"],
                                   south=b["south"], east=b["east"], north=b["north"]))
        for code, found in sample_places.items():
            for p in found:
                session.add(RefPostcode(postcode=p.postcode, easting=p.easting,
                                        northing=p.northing, lat=p.lat, lon=p.lon,
                                        district_gss=code if code.startswith("E09")
                                        else "E09000025"))
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, ctx.actor, {"name": service.PUBLISHER,
                                          "title": "Greater London Authority"})
    return platform


def test_the_demo_has_35_authorities_and_a_published_dataset(london, client):
    counts = service.load_demo(london, per_authority=PER_AUTHORITY, today=TODAY)
    assert counts["planning_feeds"] == 35
    assert counts["planning_applications_changed"] > 30 * PER_AUTHORITY * 0.9
    with london.db.session() as session:
        feeds = session.scalars(select(PlanningFeed)).all()
        assert len(feeds) == 35
        per_feed = dict(session.execute(select(PlanningApplication.feed, func.count())
                                        .group_by(PlanningApplication.feed)).all())
        assert set(per_feed) == {f.slug for f in feeds}
    body = client.get("/api/3/action/package_show?id=london-planning-applications").json()
    resource = body["result"]["resources"][0]
    assert body["result"]["conforms_to"].startswith("london-planning-applications")
    assert resource["datastore_active"] is True
    rows = client.get(f"/api/v1/resources/{resource['id']}/rows?_size=1")
    assert rows.status_code == 200
    ogc = client.get("/ogc/collections/london-planning-applications/items?limit=2")
    assert ogc.status_code == 200 and len(ogc.json()["features"]) == 2
    # A second load finds every export unchanged.
    again = service.load_demo(london, per_authority=PER_AUTHORITY, today=TODAY)
    assert again["planning_applications_changed"] == 0


def test_the_scorecard_shows_the_injected_problems(london):
    service.load_demo(london, per_authority=PER_AUTHORITY, today=TODAY)
    manifest = json.loads((service.feeds_dir(london.settings) / "manifest.json").read_text())
    injected = {slug: m["injected"] for slug, m in manifest.items()}
    with london.db.session() as session:
        open_codes = {(feed, code) for feed, code in session.execute(
            select(PlanningIssue.feed, PlanningIssue.code).where(
                PlanningIssue.resolved_at.is_(None)))}
        cards = {c["feed"]: c for c in stats.scorecards(session)}
    # Every authority with impossible dates injected has them open on its scorecard.
    dated = [s for s, inj in injected.items() if inj.get("impossible_date")]
    for slug in dated:
        assert (slug, "impossible_date") in open_codes, slug
        assert cards[slug]["issues_by_code"]["impossible_date"] >= 1
    clean = [s for s, inj in injected.items() if not any(inj.values())]
    assert clean, "the demo has clean authorities too"
    for slug in clean:
        assert cards[slug]["issues_open"] == 0, (slug, cards[slug]["issues_by_code"])
    assert all(c["applications"] > 0 for c in cards.values())


def test_the_replay_emits_events_and_resumes_after_a_restart(london):
    service.load_demo(london, per_authority=PER_AUTHORITY, today=TODAY)
    with london.db.session() as session:
        before = events.last_id(session, "planning")
    first = service.Replayer(london)
    for _ in range(6):
        first.tick()
    with london.db.session() as session:
        emitted = events.read(session, "planning", before)
    assert len(emitted) >= 5  # a change may be one the feed already had
    assert {e.type for e in emitted} <= {
        "application.received", "application.validated", "application.decided",
        "application.withdrawn", "application.appealed", "application.updated"}
    keys_first = [e.key for e in emitted]
    # A new process picks up where the last one stopped: no change is replayed twice.
    second = service.Replayer(london)
    assert second.done == 6
    for _ in range(4):
        second.tick()
    with london.db.session() as session:
        later = events.read(session, "planning", emitted[-1].id)
    assert later and all(e.type != "application.received" or e.key not in keys_first
                         for e in later)

"""Quality scores: each check explained, stored, searchable, sortable and refreshed."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from citydata.access.actors import Actor
from citydata.catalog import datasets, organizations, quality
from citydata.catalog.search import search_datasets
from citydata.storage.models import Dataset, utcnow

GOOD = {
    "name": "good",
    "title": "Street trees",
    "owner_org": "camden",
    "notes": "Every street tree the council looks after, with its species, height and the date "
    "it was last inspected. Collected by the arboriculture team.",
    "bbox": [-0.2, 51.5, -0.1, 51.6],
    "temporal_start": "2020-01-01",
    "frequency": "monthly",
    "contact_email": "trees@camden.gov.uk",
    "resources": [{"url": "https://example.org/trees.csv", "format": "CSV"}],
}


def test_checks_and_score(make_ctx):
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, ctx.actor, {"name": "camden"})
        good = datasets.create_dataset(ctx, GOOD)
        poor = datasets.create_dataset(
            ctx, {"name": "poor", "owner_org": "camden", "license_id": "notspecified"}
        )
    assert good["quality_score"] == 100 and good["quality"]["band"] == "excellent"
    assert poor["quality_score"] < 40 and poor["quality"]["band"] == "poor"
    checks = {c["id"]: c for c in poor["quality"]["checks"]}
    assert checks["licence"]["passed"] is False and "licence" in checks["licence"]["explanation"]
    assert checks["on_time"]["passed"] is None  # no schedule stated: not counted
    with make_ctx(Actor.anonymous()) as ctx:
        ranked = search_datasets(
            ctx.session, ctx.actor, sort="quality_score desc", facet_fields=["quality"]
        )
        names = [ctx.session.get(Dataset, i).name for i in ranked["ids"]]
        assert names == ["good", "poor"]
        assert dict(ranked["facets"]["quality"]) == {"excellent": 1, "poor": 1}
        only = search_datasets(ctx.session, ctx.actor, fq="quality:excellent")
        assert only["count"] == 1


def test_late_data_and_refresh(make_ctx, monkeypatch, settings):
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, ctx.actor, {"name": "camden"})
        datasets.create_dataset(ctx, GOOD)
    with make_ctx() as ctx:
        ds = datasets.find_dataset(ctx.session, "good")
        later = utcnow() + timedelta(days=90)
        result = quality.assess(ds, now=later)
        on_time = {c["id"]: c for c in result["checks"]}["on_time"]
        assert on_time["passed"] is False and "later than" in on_time["explanation"]
        assert result["score"] < 100
    monkeypatch.setattr(quality, "utcnow", lambda: utcnow() + timedelta(days=90))
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    from citydata.cli import main

    out = CliRunner().invoke(main, ["quality", "refresh"], catch_exceptions=False)
    assert "1 datasets changed score" in out.output
    with make_ctx(Actor.anonymous()) as ctx:
        # late: loses on_time (10 of the 95 points that apply; no standard declared)
        assert datasets.show_dataset(ctx, "good")["quality_score"] == round(100 * 85 / 95)
        ranked = search_datasets(ctx.session, ctx.actor, sort="quality_score asc")
        assert ranked["count"] == 1

"""The harvest pipeline end to end (gather → fetch → import) against fake CKAN portals and
DCAT catalogs over real HTTP, on both database backends."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from citydata.access.actors import Actor
from citydata.catalog import organizations
from citydata.errors import Conflict, Forbidden, ValidationError
from citydata.federation import harvest
from citydata.federation.importer import provenance
from citydata.storage.models import Dataset, utcnow
from citydata.storage.models_federation import HarvestJob, HarvestSource
from tests.federation.fakes import FakeCkan, HostileServer, ckan_package


@pytest.fixture
def org(make_ctx) -> str:  # type: ignore[no-untyped-def]
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, Actor.system(), {
            "name": "london-datastore", "title": "London Datastore", "kind": "gla"})
    return "london-datastore"


def add(make_ctx, org: str, name: str, url: str, kind: str = "ckan", **extra):  # type: ignore[no-untyped-def]
    with make_ctx() as ctx:
        harvest.add_source(ctx, {"name": name, "kind": kind, "url": url,
                                 "organization": org, **extra})


def active(platform, org_name: str | None = None) -> dict[str, Dataset]:  # type: ignore[no-untyped-def]
    with platform.db.session() as session:
        rows = session.scalars(select(Dataset).where(Dataset.state == "active"))
        return {d.name: d for d in rows}


def test_first_harvest_then_incremental_then_withdrawal(platform, make_ctx, org):
    packages = [ckan_package(i) for i in range(1, 31)]
    with FakeCkan(packages) as portal:
        add(make_ctx, org, "datastore", portal.url, schedule="daily")
        first = harvest.run_harvest(platform, "datastore")
        assert first["status"] == "finished", first
        assert (first["added"], first["errors"], first["incremental"]) == (30, 0, False)
        assert len(active(platform)) == 30
        # written in bulk, but complete: tags, resources, quality, and found by search
        with make_ctx(Actor.anonymous()) as ctx:
            from citydata.catalog import search
            from citydata.catalog.datasets import dataset_dicts, show_dataset

            shown = show_dataset(ctx, packages[5]["name"])
            assert sorted(t["name"] for t in shown["tags"]) == sorted(
                t["name"] for t in packages[5]["tags"])
            assert [r["url"] for r in shown["resources"]] == [
                r["url"] for r in packages[5]["resources"]]
            assert shown["quality_score"] is not None
            found = search.search_datasets(ctx.session, ctx.actor, q=packages[5]["title"],
                                           rows=5)
            assert packages[5]["name"] in [d["name"] for d in dataset_dicts(ctx, found["ids"])]
            tagged = search.search_datasets(ctx.session, ctx.actor,
                                            fq=f'tags:"{packages[5]["tags"][0]["name"]}"')
            assert tagged["count"] >= 1

        # edit two at the portal, remove one
        later = datetime(2025, 6, 1, 12, 0)
        portal.touch(packages[3]["id"], later, title="Edited title")
        portal.touch(packages[7]["id"], later + timedelta(seconds=1), notes="New notes")
        removed = packages[10]["name"]
        portal.remove(packages[10]["id"])

        second = harvest.run_harvest(platform, "datastore")
        assert second["status"] == "finished" and second["incremental"] is True
        assert (second["added"], second["updated"], second["withdrawn"]) == (0, 2, 1)
        # an incremental run asks only for what changed since the high-water mark
        fq = [r.query.get("fq", "") for r in portal.action_calls("package_search")]
        assert any("metadata_modified:[" in f for f in fq)
        now = active(platform)
        assert removed not in now and len(now) == 29
        assert now[packages[3]["name"]].title == "Edited title"

        third = harvest.run_harvest(platform, "datastore")
        assert (third["added"], third["updated"], third["withdrawn"]) == (0, 0, 0)

    with platform.db.session() as session:
        source = session.scalar(select(HarvestSource).where(HarvestSource.name == "datastore"))
        assert source is not None and source.next_run_at is not None
        assert source.next_run_at > utcnow() + timedelta(hours=23)
        ds = session.scalar(select(Dataset).where(Dataset.name == packages[3]["name"]))
        prov = provenance(session, ds.id)
    assert prov[0]["source"] == "datastore"
    assert prov[0]["original_url"] == f"{portal.url}/dataset/{packages[3]['name']}"
    assert prov[0]["last_harvested"] and prov[0]["stale"] is False


def test_a_broken_record_is_reported_with_its_source_record(platform, make_ctx, org):
    packages = [ckan_package(1), {"id": "broken-1", "title": 42, "resources": "nope"},
                ckan_package(2)]
    with FakeCkan(packages) as portal:
        add(make_ctx, org, "messy", portal.url)
        report = harvest.run_harvest(platform, "messy")
    assert report["status"] == "finished"
    assert report["added"] == 2 and report["errors"] == 1
    err = report["error_records"][0]
    assert err["remote_id"] == "broken-1"
    assert "broken-1" in err["source_record"]


@pytest.mark.parametrize("path, words", [
    ("/html", "HTML"),
    ("/invalid-json", "invalid RDF"),
    ("/error", "HTTP 500"),
    ("/redirect-away", "another host"),
])
def test_a_broken_source_fails_its_job_and_backs_off(platform, make_ctx, org, path, words):
    with HostileServer() as bad:
        add(make_ctx, org, "hostile", bad.url + path, kind="dcat", schedule="hourly")
        report = harvest.run_harvest(platform, "hostile")
    assert report["status"] == "failed"
    assert words.lower() in report["message"].lower()
    with platform.db.session() as session:
        source = session.scalar(select(HarvestSource).where(HarvestSource.name == "hostile"))
        assert source is not None and source.failures == 1
        assert source.next_run_at is not None and source.next_run_at < utcnow() + timedelta(
            minutes=2)
    assert active(platform) == {}


def test_backoff_grows_and_is_capped():
    assert [harvest.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert harvest.backoff(40) == harvest.MAX_BACKOFF


def test_a_source_that_suddenly_lists_nothing_does_not_wipe_the_catalog(platform, make_ctx,
                                                                        org):
    with FakeCkan([ckan_package(i) for i in range(1, 21)]) as portal:
        add(make_ctx, org, "flaky", portal.url)
        assert harvest.run_harvest(platform, "flaky")["added"] == 20
        portal.packages = []
        report = harvest.run_harvest(platform, "flaky")
    assert report["status"] == "failed" and "listed no datasets" in report["message"]
    assert len(active(platform)) == 20


def test_the_same_dataset_through_two_sources_is_one_dataset(platform, make_ctx, org):
    shared_uri = "https://data.london.gov.uk/dataset/air-quality-monitoring-sites"
    a = ckan_package(1, extras=[{"key": "uri", "value": shared_uri}])
    b = ckan_package(2, extras=[{"key": "uri", "value": shared_uri}], title="Newer copy")
    b["metadata_modified"] = "2025-01-01T00:00:00.000000"
    with FakeCkan([a]) as one, FakeCkan([b]) as two:
        add(make_ctx, org, "path-one", one.url)
        add(make_ctx, org, "path-two", two.url)
        assert harvest.run_harvest(platform, "path-one")["added"] == 1
        second = harvest.run_harvest(platform, "path-two")
        assert (second["added"], second["updated"]) == (0, 1)
        datasets = active(platform)
        assert len(datasets) == 1
        (ds,) = datasets.values()
        assert ds.title == "Newer copy"
        with platform.db.session() as session:
            assert sorted(p["source"] for p in provenance(session, ds.id)) == [
                "path-one", "path-two"]
        # gone from one path only: still there
        one.packages = []
        one.packages.append(ckan_package(3))
        harvest.run_harvest(platform, "path-one")
        assert ds.name in active(platform)


def test_private_records_need_an_authorised_harvester(platform, make_ctx, org):
    packages = [ckan_package(1), ckan_package(2, private=True)]
    with FakeCkan(packages, leak_private=True) as leaky:
        add(make_ctx, org, "leaky", leaky.url)
        report = harvest.run_harvest(platform, "leaky")
        assert report["added"] == 1  # the portal leaked it; we still did not import it
    with FakeCkan(packages) as portal:
        add(make_ctx, org, "authorised", portal.url, api_key=portal.api_key,
            include_private=True)
        report = harvest.run_harvest(platform, "authorised")
        assert report["added"] == 2  # now authorised: the private one too
    private = [d for d in active(platform).values() if d.access_level == "private"]
    assert [d.title for d in private] == [packages[1]["title"]]


def test_include_private_without_a_key_is_refused(make_ctx, org):
    with pytest.raises(ValidationError, match="API key"), make_ctx() as ctx:
        harvest.add_source(ctx, {"name": "nokey", "kind": "ckan", "url": "http://x.invalid",
                                 "organization": org, "include_private": True})


def test_adding_sources_is_for_the_organisations_admins(make_ctx, org):
    with pytest.raises(Forbidden), make_ctx(Actor(user_id="u1", name="someone")) as ctx:
        harvest.add_source(ctx, {"name": "mine", "kind": "ckan", "url": "http://x.invalid",
                                 "organization": org})
    with pytest.raises(ValidationError) as err, make_ctx() as ctx:
        harvest.add_source(ctx, {"name": "Bad Name", "kind": "ftp", "url": "file:///etc",
                                 "organization": org, "schedule": "yearly"})
    assert set(err.value.fields) >= {"name", "kind", "url", "schedule"}


def test_an_interrupted_job_is_resumed_by_the_next(platform, make_ctx, org):
    with FakeCkan([ckan_package(i) for i in range(1, 11)]) as portal:
        add(make_ctx, org, "resumable", portal.url)
        with platform.db.session() as session:
            source = session.scalar(select(HarvestSource).where(
                HarvestSource.name == "resumable"))
            # a job whose process died in the fetch stage an hour ago
            session.add(HarvestJob(source_id=source.id, status="running", stage="fetch",
                                   started=utcnow() - timedelta(hours=1),
                                   heartbeat=utcnow() - timedelta(hours=1)))
        report = harvest.run_harvest(platform, "resumable")
        assert report["status"] == "finished" and report["added"] == 10
        with platform.db.session() as session:
            jobs = session.scalars(select(HarvestJob).order_by(HarvestJob.started)).all()
            assert [j.status for j in jobs] == ["failed", "finished"]
            assert "Interrupted in the fetch stage" in jobs[0].message

        # a live running job blocks a second run
        with platform.db.session() as session:
            session.add(HarvestJob(source_id=source.id, status="running", stage="gather"))
        with pytest.raises(Conflict, match="already running"):
            harvest.run_harvest(platform, "resumable")


def test_due_sources_are_run_by_the_jobs_loop(platform, make_ctx, org):
    with FakeCkan([ckan_package(1)]) as portal:
        add(make_ctx, org, "scheduled", portal.url, schedule="weekly")
        add(make_ctx, org, "by-hand", portal.url + "/", schedule="manual")
        reports = harvest.run_due(platform, limit=5)
    assert [r["source"] for r in reports] == ["scheduled"]
    assert harvest.run_due(platform, limit=5) == []  # not due again for a week


def test_harvesting_a_dcat_catalog(platform, make_ctx, org):
    from tests.federation.test_dcat_source import DcatServer

    with DcatServer() as server:
        add(make_ctx, org, "dcat-cat", server.url + "/dcat/catalog.jsonld", kind="dcat")
        report = harvest.run_harvest(platform, "dcat-cat")
    assert report["status"] == "finished", report
    assert report["added"] >= 2
    names = active(platform)
    assert all(d.organization.name == org for d in names.values())


def test_sources_are_listed_with_their_last_job(platform, make_ctx, org):
    with FakeCkan([ckan_package(1)]) as portal:
        add(make_ctx, org, "listed", portal.url, api_key="secret-token")
        harvest.run_harvest(platform, "listed")
    with platform.db.session() as session:
        (source, job), = harvest.list_sources(session)
        shown = harvest.source_dict(source, last_job=job, with_config=True)
    assert shown["last_job"]["added"] == 1
    assert shown["config"]["api_key"] == "***"
    assert "secret-token" not in json.dumps(shown)

"""Kill -9 a harvest (``citydata harvest run``) in the middle of a page of records.

A harvest imports page by page, each page one transaction, and beats its job's heartbeat as
it goes. Killed inside the second page, the first page's datasets stay and none of the
second's appear; the job, left "running" by the dead process, is reported failed
("Interrupted …") by the periodic jobs once its heartbeat is older than
``harvest.STALE_JOB`` — never sooner, since a fresh heartbeat may be a live harvester in
another process — and the next run resumes: what was imported is unchanged, the rest added.
The fake portal is a real HTTP server answering like CKAN 2.10 (``tests.federation.fakes``).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from citydata.access.actors import Actor
from citydata.catalog import organizations
from citydata.federation import harvest
from citydata.storage.models import Dataset, utcnow
from citydata.storage.models_federation import HarvestJob
from tests.crash.conftest import Node
from tests.federation.fakes import FakeCkan, ckan_package

pytestmark = pytest.mark.slow

PACKAGES = harvest.PAGE + 100  # two pages: one commits, the kill lands in the other


def visible(client) -> int:  # type: ignore[no-untyped-def]
    """How many datasets the catalog API lists."""
    r = client.get("/api/3/action/package_search", params={"rows": 0})
    assert r.status_code == 200, r.text
    return int(r.json()["result"]["count"])


def report(node: Node) -> dict:
    """The source's latest job report (what ``citydata harvest report`` prints)."""
    with node.platform.db.session() as session:
        source = harvest.get_source(session, "datastore")
        job = harvest.last_job(session, source)
        assert job is not None
        return harvest.job_report(session, job.id)


def test_kill_mid_harvest_page_then_the_job_is_reported_and_resumed(node: Node, make_ctx,
                                                                     client):
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, Actor.system(), {
            "name": "london-datastore", "title": "London Datastore", "kind": "gla"})
    with FakeCkan([ckan_package(i) for i in range(1, PACKAGES + 1)]) as portal:
        with make_ctx() as ctx:
            harvest.add_source(ctx, {"name": "datastore", "kind": "ckan", "url": portal.url,
                                     "organization": "london-datastore"})
        proc = node.cli_in_background("harvest", "run", "datastore",
                                      pause_at="harvest-page#2")
        node.kill_when_paused(proc, "harvest-page")

        assert visible(client) == harvest.PAGE  # the first page; nothing of the second
        with node.platform.db.session() as session:
            assert session.scalar(select(func.count()).select_from(Dataset)) == harvest.PAGE
        dead = json.loads(node.cli("harvest", "report", "datastore", "--json").stdout)
        assert (dead["status"], dead["stage"], dead["added"]) == ("running", "fetch",
                                                                  harvest.PAGE)
        # Its heartbeat is fresh: it may be a live harvester elsewhere, so it is not
        # second-guessed yet.
        again = node.cli("harvest", "run", "datastore", check=False)
        assert again.returncode == 1 and "already running" in again.stderr
        node.cli("jobs", "run")
        assert report(node)["status"] == "running"

        with node.platform.db.session() as session:  # the clock moves past STALE_JOB
            session.execute(update(HarvestJob).values(
                heartbeat=utcnow() - harvest.STALE_JOB - timedelta(minutes=1)))
        node.cli("jobs", "run")
        closed = report(node)
        assert (closed["status"], closed["finished"] is not None) == ("failed", True)
        assert closed["message"].startswith("Interrupted in the fetch stage")

        resumed = node.cli("harvest", "run", "datastore", "--full")
        assert "finished" in resumed.stdout
        last = report(node)
        assert (last["status"], last["added"], last["unchanged"], last["errors"]) == (
            "finished", 100, harvest.PAGE, 0)
    assert visible(client) == PACKAGES
    node.assert_recovered()

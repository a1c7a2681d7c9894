"""The harvest and federation commands, run through click as a user would, on both backends,
against a fake CKAN portal over real HTTP."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from citydata.access.actors import Actor
from citydata.catalog import organizations
from citydata.cli import main
from tests.federation.fakes import FakeCkan, ckan_package


@pytest.fixture
def run(monkeypatch, settings, make_ctx):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYDATA_POSTCODES", "none")
    monkeypatch.setenv("CITYDATA_JOBS_INTERVAL_SECONDS", "0")
    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, Actor.system(), {
            "name": "gla", "title": "Greater London Authority", "kind": "gla"})
    runner = CliRunner()

    def _run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), catch_exceptions=False)

    return _run


def test_add_run_list_report_set_remove(run):
    with FakeCkan([ckan_package(i) for i in range(1, 6)] + [{"id": "bad-1"}]) as portal:
        added = run("harvest", "add", "datastore", "--kind", "ckan", "--url", portal.url,
                    "--org", "gla", "--schedule", "daily")
        assert added.exit_code == 0 and "Added datastore (ckan, daily)" in added.output
        ran = run("harvest", "run", "datastore")
        assert ran.exit_code == 0, ran.output
        assert "added 5, updated 0, withdrawn 0" in ran.output and "errors 1" in ran.output
        assert "bad-1" in ran.output
    listed = run("harvest", "list")
    assert "datastore" in listed.output and "5 datasets" in listed.output
    report = json.loads(run("harvest", "report", "datastore", "--json").output)
    assert report["added"] == 5 and report["error_records"][0]["remote_id"] == "bad-1"
    changed = run("harvest", "set", "datastore", "--schedule", "weekly")
    assert changed.exit_code == 0 and "weekly" in changed.output
    removed = run("harvest", "remove", "datastore")
    assert removed.exit_code == 0 and "5 datasets withdrawn" in removed.output
    assert "No harvest sources" in run("harvest", "list").output


def test_clear_errors_and_exit_codes(run):
    bad = run("harvest", "add", "x", "--kind", "ckan", "--url", "ftp://nope", "--org", "gla")
    assert bad.exit_code == 1 and "url" in bad.output and "Traceback" not in bad.output
    missing = run("harvest", "run", "nowhere")
    assert missing.exit_code == 1 and "No harvest source named 'nowhere'" in missing.output
    with FakeCkan([]) as portal:
        run("harvest", "add", "empty", "--kind", "dcat", "--url", portal.url + "/html",
            "--org", "gla")
        failed = run("harvest", "run", "empty")
    assert failed.exit_code == 1 and "failed" in failed.output
    assert run("harvest", "report", "nowhere").exit_code == 1


def test_federation_commands_say_what_is_missing(run):
    nodes = run("federation", "nodes")
    assert nodes.exit_code == 0 and "not federated" in nodes.output
    join = run("federation", "join", "http://127.0.0.1:9", "--code", "cdi_x")
    assert join.exit_code == 1 and "CITYDATA_NODE_NAME" in join.output
    invite = run("federation", "invite", "camden", "--org", "nowhere")
    assert invite.exit_code == 1 and "nowhere" in invite.output
    code = run("federation", "invite", "camden", "--org", "gla")
    assert code.exit_code == 0 and code.output.strip().startswith("cdi_")
    assert run("federation", "suspend", "camden").exit_code == 1  # not registered yet

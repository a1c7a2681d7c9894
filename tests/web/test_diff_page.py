"""The version comparison page and the ``citydata diff`` command."""

from __future__ import annotations

import json

from click.testing import CliRunner

from citydata.cli import main
from tests.web.conftest import CSV_V1

CSV_V2_EDIT = CSV_V1.replace("Kentish Town,Camden,2", "Kentish Town,Camden,3") + (
    "Belsize Park,Camden,3,2024-01-09\n"
)


def _second_version(catalog, make_ctx) -> str:  # type: ignore[no-untyped-def]
    from citydata.catalog.publish import publish_file

    catalog["csv_path"].write_text(CSV_V2_EDIT)
    with make_ctx() as ctx:
        _, res = publish_file(
            ctx,
            catalog["csv_path"],
            org="camden",
            title="Camden EV charge points",
            dataset_name="camden-ev",
        )
    return res["id"]


def test_page_shows_summary_and_highlights_changed_cells(client, catalog, make_ctx):
    rid = _second_version(catalog, make_ctx)
    r = client.get(f"/dataset/camden-ev/resource/{rid}/diff?from=1&to=2&key=site")
    assert r.status_code == 200, r.text
    html = r.text
    assert '<link rel="stylesheet" href="/static/diff.css">' in html
    assert "diff-summary__item--added" in html and "Belsize Park" in html
    assert '<td class="diff-cell--changed"><del class="diff-old">' in html
    assert "style=" not in html and "<script" not in html.split("</header>")[1]
    assert client.get("/static/diff.css").status_code == 200


def test_page_defaults_to_the_last_two_versions(client, catalog, make_ctx):
    rid = _second_version(catalog, make_ctx)
    r = client.get(f"/dataset/camden-ev/resource/{rid}/diff")
    assert r.status_code == 200 and "whole rows were compared" in r.text


def test_page_explains_a_bad_key(client, catalog, make_ctx):
    rid = _second_version(catalog, make_ctx)
    r = client.get(f"/dataset/camden-ev/resource/{rid}/diff?from=1&to=2&key=borough")
    assert r.status_code == 400
    assert "The versions cannot be compared" in r.text and "not unique in version 1" in r.text


def test_page_for_another_datasets_resource_is_404(client, catalog, make_ctx):
    rid = _second_version(catalog, make_ctx)
    assert client.get(f"/dataset/tfl-bus-stops/resource/{rid}/diff").status_code == 404


def test_cli_diff(monkeypatch, settings, catalog, make_ctx):
    rid = _second_version(catalog, make_ctx)
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYDATA_POSTCODES", "none")
    runner = CliRunner()
    r = runner.invoke(main, ["diff", rid, "--from", "1", "--to", "2", "--key", "site"])
    assert r.exit_code == 0, r.output
    assert "Changed rows" in r.output and "Belsize Park" in r.output and "chargers" in r.output
    r = runner.invoke(main, ["diff", rid, "--from", "1", "--to", "2", "--key", "site", "--json"])
    assert json.loads(r.output)["summary"]["changed"] == 1
    r = runner.invoke(main, ["diff", rid, "--from", "1", "--to", "5"])
    assert r.exit_code == 1 and "Version 5 of this resource does not exist" in r.output

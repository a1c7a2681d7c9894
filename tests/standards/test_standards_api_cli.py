"""Standards over the API (/api/v1/standards) and the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from citydata.cli import main


def test_list_and_show(client):
    r = client.get("/api/v1/standards")
    assert r.status_code == 200
    body = r.json()
    names = [s["name"] for s in body["standards"]]
    assert "ev-charge-points" in names and body["count"] == len(names)
    ev = next(s for s in body["standards"] if s["name"] == "ev-charge-points")
    assert ev["latest"] == "1.0.0" and ev["versions"] == ["1.0.0"]

    r = client.get("/api/v1/standards/air-quality-readings")
    assert r.status_code == 200
    aq = r.json()
    assert aq["versions"] == ["1.0.0"] and aq["latest"] == "1.0.0"
    pollutant = next(f for f in aq["fields"] if f["name"] == "pollutant")
    assert pollutant["constraints"]["enum"] == ["NO2", "PM10", "PM2.5", "O3"]
    assert client.get("/api/v1/standards/street-works?version=1.0.0").status_code == 200


def test_unknown_standard_is_a_json_404(client):
    r = client.get("/api/v1/standards/unicorns")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = client.get("/api/v1/standards/street-works?version=7")
    assert r.status_code == 404 and "no version '7'" in r.json()["error"]["message"]


@pytest.fixture
def run(monkeypatch, settings):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYDATA_POSTCODES", "none")
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_cli_list_and_show(run):
    r = run("standards", "list")
    assert r.exit_code == 0 and "ev-charge-points" in r.output and "street-works" in r.output
    r = run("standards", "show", "ev-charge-points")
    assert r.exit_code == 0 and "connector_type" in r.output and "Primary key: id" in r.output
    r = run("standards", "show", "cultural-venues", "--json")
    assert json.loads(r.output)["name"] == "cultural-venues"
    r = run("standards", "show", "unicorns")
    assert r.exit_code == 1 and "no data standard called 'unicorns'" in r.output

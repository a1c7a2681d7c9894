"""The issue's story from the command line: publish a messy CSV against a standard, see the
report, publish a corrected version, and diff the two."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from citydata.cli import main

HEADER = "id,name,operator,address,postcode,lat,lon,connector_type,power_kw,status,last_updated\n"
GOOD_ROWS = [
    "cp1,Camden Town,KerbCharge,1 High St,NW1 7JE,51.539,-0.142,IEC_62196_T2,7.4,AVAILABLE,"
    "2024-05-01T10:00:00",
    "cp2,Euston Road,KerbCharge,2 Euston Rd,NW1 2RT,51.527,-0.133,CHADEMO,50,CHARGING,"
    "2024-05-01T10:00:00",
]
BAD_ROWS = [
    "cp1,Camden Town,KerbCharge,1 High St,NW1 7JE,51.539,-0.142,IEC_62196_T2,lots,AVAILABLE,"
    "2024-05-01T10:00:00",
    "cp2,Euston Road,KerbCharge,2 Euston Rd,NOT A POSTCODE,51.527,-0.133,PLUG,50,CHARGING,"
    "2024-05-01T10:00:00",
]


@pytest.fixture
def run(monkeypatch, settings):
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    runner = CliRunner()

    def _run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert _run("init").exit_code == 0
    assert _run("org", "create", "camden").exit_code == 0
    return _run


def test_messy_then_corrected_then_diff(run, tmp_path):
    f = tmp_path / "chargers.csv"
    f.write_text(HEADER + "\n".join(GOOD_ROWS) + "\n")
    first = run(
        "publish",
        str(f),
        "--org",
        "camden",
        "--title",
        "Charge points",
        "--dataset",
        "chargers",
        "--standard",
        "ev-charge-points",
    )
    assert first.exit_code == 0, first.output
    assert "Rows: 2 in 11 columns" in first.output

    f.write_text(HEADER + "\n".join(BAD_ROWS) + "\n")
    bad = run(
        "publish", str(f), "--org", "camden", "--title", "Charge points", "--dataset", "chargers"
    )
    assert bad.exit_code == 1
    assert "problems against ev-charge-points@1.0.0" in bad.output
    assert "power_kw" in bad.output and "postcode" in bad.output
    assert "connector_type" in bad.output and "Version 1 stays current" in bad.output

    fixed = GOOD_ROWS[:1] + [GOOD_ROWS[1].replace("50,CHARGING", "22,AVAILABLE")]
    f.write_text(HEADER + "\n".join(fixed) + "\n")
    good = run(
        "publish", str(f), "--org", "camden", "--title", "Charge points", "--dataset", "chargers"
    )
    assert good.exit_code == 0 and "version 3" in good.output
    resource_id = good.output.split("of resource ")[1].split()[0]

    diff = run("diff", resource_id, "--from", "1", "--to", "3", "--json")
    assert diff.exit_code == 0, diff.output
    result = json.loads(diff.output)
    assert result["summary"]["changed"] == 1 and result["summary"]["added"] == 0
    changed = result["changed"][0]
    assert {c["field"] for c in changed["changes"]} == {"power_kw", "status"}


def test_unknown_standard_is_a_clear_error(run, tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    r = run("publish", str(f), "--org", "camden", "--title", "X", "--standard", "nope")
    assert r.exit_code == 1 and "conforms_to" in r.output and "Traceback" not in r.output

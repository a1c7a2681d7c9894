"""The README's Quick start, run as written: `make run` serves the demo London platform.

`make test` is the other README command; CI runs it, so this file covers `make run` (twice: the
second run must be quick and change nothing).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
# One `make run` serves the whole module, so its tests stay on one worker, in order.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("quickstart")]


def readme_commands() -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README has a Quick start code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_is_make_run_and_make_test():
    assert readme_commands() == ["make run", "make test"]


def run_until_serving(home: Path, port: int, *make_vars: str
                      ) -> tuple[subprocess.Popen, float, str]:
    """Start `make run` and wait until it answers; return the process, seconds and log."""
    env = {**os.environ, "CITYDATA_HOME": str(home), "CITYDATA_POSTCODES": "london"}
    env.pop("CITYDATA_DATABASE_URL", None)
    log = home.parent / f"run-{port}.log"
    started = time.time()
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}", *make_vars],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while time.time() - started < 600:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/3/action/status_show", timeout=2)
            if r.status_code == 200:
                return proc, time.time() - started, log.read_text()
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(1)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    raise AssertionError(f"make run did not serve:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # type: ignore[no-untyped-def]
    """`make run` as the README says, once for this module: (base URL, home, process)."""
    home = tmp_path_factory.mktemp("quickstart") / "var"
    port = free_port()
    proc, _, _ = run_until_serving(home, port)
    state = {"base": f"http://127.0.0.1:{port}", "home": home, "port": port, "proc": proc}
    yield state
    if state["proc"].poll() is None:
        stop(state["proc"])


def test_make_run_serves_the_london_demo(demo):
    base = demo["base"]
    found = httpx.get(
        f"{base}/api/3/action/package_search",
        params={"rows": 0, "facet.field": '["organization"]', "facet.limit": "-1"},
    ).json()["result"]
    assert found["count"] >= 300
    assert len(found["facets"]["organization"]) >= 40
    orgs = httpx.get(f"{base}/api/3/action/organization_list").json()["result"]
    assert {"camden-council", "westminster-council", "city-of-london"} & set(orgs)
    assert httpx.get(f"{base}/").status_code == 200
    assert httpx.get(f"{base}/catalog.ttl").status_code == 200
    register = httpx.get(f"{base}/api/v1/register").json()
    assert register["count"] == 4  # the demo's agreements: active, revoked, expired


def citydata(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI against the demo's database, as an operator would run it."""
    env = {**os.environ, "CITYDATA_HOME": str(home)}
    env.pop("CITYDATA_DATABASE_URL", None)
    return subprocess.run([str(ROOT / ".venv" / "bin" / "citydata"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_governed_sharing_walkthrough(demo):
    """The issue's "done when", in the demo: a Hackney analyst asks Camden for restricted data
    for a stated purpose, Camden's data owner approves, the analyst queries within the
    conditions, the owner sees it in the access log, the register shows the agreement,
    revocation cuts access at once, and `citydata audit verify` passes — then fails after a
    row of the log is edited by hand."""
    base, home = demo["base"], demo["home"]
    analyst = {"Authorization": citydata(home, "token", "create", "hackney-analyst").stdout.strip()}
    owner = {"Authorization": citydata(home, "token", "create", "camden-owner").stdout.strip()}
    name = "camden-adult-social-care-packages"
    ds = httpx.get(f"{base}/api/3/action/package_show", params={"id": name},
                   headers=analyst).json()["result"]
    assert ds["access_level"] == "restricted" and ds["data_access"] is False
    assert ds["access"]["reason"] == "special-category-data"
    (table,) = [r for r in ds["resources"] if r["datastore_active"]]
    rid = table["id"]
    sample = httpx.get(f"{base}/api/v1/resources/{rid}/sample").json()
    assert sample["synthetic"] and len(sample["rows"]) == 10
    search = f"{base}/api/3/action/datastore_search"
    assert httpx.get(search, params={"resource_id": rid}, headers=analyst).status_code == 403

    requested = httpx.post(f"{base}/api/v1/agreements", headers=analyst, json={
        "datasets": [name], "organization": "hackney-council", "purpose": "service-planning",
        "purpose_detail": "Compare adult social care packages with Hackney's to plan a "
                          "shared home care framework.",
        "lawful_basis": "art6-1-e", "special_category_condition": "art9-2-h",
        "dpia_reference": "HAC-DPIA-2026-031", "duration_days": 90,
        "actions": ["read", "query"]})
    assert requested.status_code == 201, requested.text
    ref = requested.json()["reference"]
    waiting = httpx.get(f"{base}/api/v1/agreements", headers=owner,
                        params={"role": "provider", "status": "requested"}).json()
    assert [a["reference"] for a in waiting["results"]] == [ref]
    notes = httpx.get(f"{base}/api/v1/notifications", headers=owner).json()
    assert notes["unread"] >= 1 and ref in notes["results"][0]["subject"]

    allowed = ["ward_gss", "age_band", "support_type", "weekly_hours"]
    approved = httpx.post(f"{base}/api/v1/agreements/{ref}/approve", headers=owner,
                          json={"actions": ["read", "query"], "columns": allowed})
    assert approved.status_code == 200 and approved.json()["status"] == "active"

    purpose = {**analyst, "X-Citydata-Purpose": "service-planning"}
    rows = httpx.get(search, params={"resource_id": rid, "limit": 5}, headers=purpose).json()
    assert rows["success"] and rows["result"]["total"] == 720
    assert [f["id"] for f in rows["result"]["fields"]] == ["_id", *allowed]
    sql = (f'SELECT support_type, count(*) AS packages FROM "{rid}" '
           "GROUP BY support_type ORDER BY packages DESC")
    grouped = httpx.get(f"{base}/api/3/action/datastore_search_sql", params={"sql": sql},
                        headers=purpose).json()["result"]["records"]
    assert sum(r["packages"] for r in grouped) == 720
    hidden = httpx.get(search, params={"resource_id": rid, "fields": "weekly_cost_gbp"},
                       headers=purpose)
    assert hidden.status_code == 400  # outside the conditions

    log = httpx.get(f"{base}/api/v1/organizations/camden-council/access-log", headers=owner,
                    params={"kind": "data", "agreement": ref}).json()
    assert log["count"] == 2
    assert {(e["user"], e["purpose"], e["agreement"]) for e in log["results"]} == {
        ("hackney-analyst", "service-planning", ref)}
    csv = httpx.get(f"{base}/api/v1/organizations/camden-council/access-log.csv",
                    headers=owner, params={"agreement": ref})
    assert csv.status_code == 200 and "hackney-analyst" in csv.text

    public = httpx.get(f"{base}/api/v1/register", params={"provider": "camden-council"}).json()
    entry = next(a for a in public["results"] if a["reference"] == ref)
    assert entry["status"] == "active" and entry["special_category_condition"] == "art9-2-h"
    assert ref in httpx.get(f"{base}/register").text

    revoked = httpx.post(f"{base}/api/v1/agreements/{ref}/revoke", headers=owner,
                         json={"note": "The framework was procured"})
    assert revoked.status_code == 200
    after = httpx.get(search, params={"resource_id": rid}, headers=purpose)
    assert after.status_code == 403

    verify = citydata(home, "audit", "verify")
    assert verify.returncode == 0 and "Audit log intact" in verify.stdout, verify.stderr
    with sqlite3.connect(home / "citydata.db") as conn:  # someone edits the log by hand
        seq = conn.execute("SELECT min(seq) FROM audit_log WHERE action = 'data.read'"
                           ).fetchone()[0]
        conn.execute("UPDATE audit_log SET actor_name = 'nobody' WHERE seq = ?", (seq,))
    broken = citydata(home, "audit", "verify")
    assert broken.returncode == 1
    assert f"entry {seq} does not match its hash" in broken.stderr


def test_the_demo_layers_are_an_ogc_api(demo):
    """The London demo's spatial files and tables are OGC API collections a GIS client can
    query: LSOA polygons by box and by nearest, borough boundaries as vector tiles, and the
    map explorer page serves."""
    from owslib.ogcapi.features import Features

    base = demo["base"]
    api = Features(f"{base}/ogc")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"london-lsoa-boundaries", "london-borough-boundaries",
            "lsoa-to-borough-lookup"} <= ids
    assert len(ids) >= 60  # every borough's boundary and LSOAs, besides the city layers
    # Greenwich town centre (the Old Royal Naval College, SE10 9NN).
    page = api.collection_items("london-lsoa-boundaries", bbox=[-0.0065, 51.4825, -0.0055, 51.4835],
                                limit=10)
    assert page["numberMatched"] >= 1
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in page["features"])
    nearest = httpx.get(f"{base}/ogc/collections/lsoa-to-borough-lookup/items",
                        params={"near": "-0.006,51.483", "limit": 3}).json()
    distances = [f["properties"]["distance_m"] for f in nearest["features"]]
    assert len(distances) == 3 and distances == sorted(distances) and distances[0] < 1000
    tile = httpx.get(f"{base}/ogc/collections/london-borough-boundaries/tiles/WebMercatorQuad/"
                     "9/170/255")
    assert tile.status_code == 200 and len(tile.content) > 1000
    assert httpx.get(f"{base}/map").status_code == 200


def _sse_events(url: str, n: int, headers: dict[str, str] | None = None) -> list[dict]:
    """The first ``n`` events of an SSE stream (each as its JSON data)."""
    import json

    found: list[dict] = []
    with httpx.stream("GET", url, headers={"Accept": "text/event-stream", **(headers or {})},
                      timeout=httpx.Timeout(10, read=90)) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:]))
                if len(found) == n:
                    return found
    return found


def test_the_planning_datahub_is_live_and_a_reconnecting_subscriber_misses_nothing(demo):
    base = demo["base"]
    authorities = httpx.get(f"{base}/api/v1/planning/authorities").json()["results"]
    assert len(authorities) == 35 and all(a["applications"] > 0 for a in authorities)
    assert "Planning Datahub" in httpx.get(f"{base}/planning").text
    # The replay `make run` starts: new applications and decisions arrive as they happen.
    first = _sse_events(f"{base}/api/v1/planning/events", 2)
    assert len(first) == 2 and all(e["type"].startswith("application.") for e in first)
    last = first[-1]["id"]
    time.sleep(6)  # disconnected while the replay goes on
    resumed = _sse_events(f"{base}/api/v1/planning/events", 3,
                          headers={"Last-Event-ID": str(last)})
    logged = httpx.get(f"{base}/api/v1/events/planning",
                       params={"after": last, "limit": 3}).json()["events"]
    assert [e["id"] for e in resumed] == [e["id"] for e in logged]  # nothing missed
    assert resumed[0]["id"] > last
    # The scorecard shows the problems the demo feeds were generated with.
    cards = httpx.get(f"{base}/api/v1/planning/quality").json()["results"]
    codes = {code for c in cards for code in c["issues_by_code"]}
    assert {"impossible_date", "unmapped_status", "uprn_mangled", "conflicting_duplicate",
            "invalid_geometry"} <= codes


def test_make_run_again_is_quick_and_changes_nothing(demo):
    base, home, port = demo["base"], demo["home"], demo["port"]
    before = httpx.get(f"{base}/api/3/action/package_search?rows=0").json()["result"]["count"]
    stop(demo["proc"])
    # The first server's last writes (the live replay) may still be in the write-ahead log.
    with sqlite3.connect(home / "citydata.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db_before = (home / "citydata.db").stat().st_size
    # Without the live planning replay, which changes the data on purpose.
    proc, _, log = run_until_serving(home, port, "PLANNING_REPLAY_PER_MINUTE=0")
    demo["proc"] = proc
    again = httpx.get(f"{base}/api/3/action/package_search?rows=0").json()["result"]
    assert again["count"] == before  # nothing added the second time
    # The second run recognises everything as loaded instead of redoing it.
    assert "demo catalog: up to date" in log and "datasets: 0" in log
    assert (home / "citydata.db").stat().st_size == db_before

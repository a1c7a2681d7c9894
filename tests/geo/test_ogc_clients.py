"""Real OGC API clients against our real server (uvicorn on loopback), on both backends:
OWSLib's ``Features`` (what Python GIS scripts use), GDAL's OAPIF driver (what QGIS and
ogr2ogr use) and a third-party conformance suite for Part 1 Core (``ogctests``, a Python port
of the OGC's executable test suite, installed in its own venv by ``make conformance-deps``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.geo.conftest import REPO, libraries_geojson

OGCTESTS = REPO / ".venv-ogctests" / "bin" / "python"


def test_owslib_lists_collections_and_pages_through_items_with_bbox(live_server, spatial):
    from owslib.ogcapi.features import Features

    api = Features(f"{live_server}/ogc")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert ids == {"camden-libraries", "camden-parks", "chargers"}
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in \
        api.conformance()["conformsTo"]
    assert api.collection("camden-libraries")["title"] == "Camden libraries"
    queryables = api.collection_queryables("camden-libraries")
    assert "desks" in queryables["properties"]
    seen, offset = [], 0
    while True:
        page = api.collection_items("camden-libraries", bbox=[-0.18, 51.51, -0.13, 51.56],
                                    limit=2, offset=offset)
        assert page["numberMatched"] == 4
        seen += [f["properties"]["name"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 2
    assert seen == ["Kentish Town", "Camden Town", "Swiss Cottage", "Queen's Crescent"]
    one = api.collection_item("camden-libraries", "3")
    assert one["properties"]["name"] == "Holborn"


GDAL_SCRIPT = """
import json, sys
import pyogrio
source = "OAPIF:" + sys.argv[1]
meta, _, geometry, fields = pyogrio.raw.read(source, layer="camden-libraries",
                                             bbox=(-0.15, 51.53, -0.13, 51.56))
names = list(fields[meta["fields"].tolist().index("name")])
info = pyogrio.read_info(source, layer="chargers")
print(json.dumps({"layers": sorted(n for n, _ in pyogrio.list_layers(source)), "names": names,
                  "geometries": len(geometry), "chargers": int(info["features"]),
                  "type": info["geometry_type"]}))
"""


def test_gdal_reads_the_layers_like_qgis_does(live_server, spatial):
    # In its own process: GDAL holds the interpreter lock while it waits on HTTP, and our
    # server runs in a thread of this one.
    run = subprocess.run([sys.executable, "-c", GDAL_SCRIPT, f"{live_server}/ogc"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert got["layers"] == ["camden-libraries", "camden-parks", "chargers"]
    assert got["names"] == ["Kentish Town", "Camden Town"] and got["geometries"] == 2
    assert got["chargers"] == 2 and got["type"] == "Point"


@pytest.fixture
def conformance_data(make_ctx, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Layers for the conformance run. Null geometries are left out: RFC 7946 allows them,
    but the suite's schema for a Feature does not accept ``"geometry": null``."""
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    libs = tmp_path / "libraries.geojson"
    libs.write_text(json.dumps(libraries_geojson()))
    chargers = tmp_path / "chargers.csv"
    chargers.write_text("site,easting,northing,opened\nTrafalgar Square,530034,180381,2021-04-01\n"
                        "King's Cross,530268,183136,2023-09-30\n")
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, libs, org="camden", title="Camden libraries",
                     dataset_name="camden-libraries")
        publish_file(ctx, chargers, org="camden", title="Chargers", dataset_name="chargers")


def test_ogc_conformance_suite_part1_core_passes(live_server, conformance_data):
    if not OGCTESTS.exists():
        pytest.fail("The conformance suite is not installed: run `make conformance-deps` "
                    "(make test does it)")
    code = ("from ogctests.main import run_ogctests; raise SystemExit(run_ogctests("
            f"'features/core', {live_server + '/ogc'!r}, ['-p', 'no:cacheprovider', '-rfE', "
            "'--tb=short']))")
    run = subprocess.run([str(OGCTESTS), "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=REPO)
    out = run.stdout + run.stderr
    summary = re.search(r"(\d+) passed", out)
    assert run.returncode == 0, out[-4000:]
    assert summary and int(summary.group(1)) >= 29, out[-2000:]
    assert "failed" not in out.splitlines()[-1]

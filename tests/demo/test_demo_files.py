"""Generated resources carry real content derived from the reference data."""

import csv
import io
import json

from shapely.geometry import Point, shape

from citydata.demo.files import render
from citydata.demo.spec import GeneratedFile
from citydata.geo.london import BOROUGHS


def _file(generator, gss=None):
    return GeneratedFile(generator, gss, "x", "x", "x")


def _rows(data: bytes):
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_boundary_contains_the_boroughs_lsoa_centroids(ref):
    for gss in ("E09000001", "E09000007", "E09000011", "E09000033"):
        collection = json.loads(render(ref, _file("borough_boundary", gss)))
        (feature,) = collection["features"]
        assert feature["properties"] == {"gss_code": gss, "name": BOROUGHS[gss]}
        polygon = shape(feature["geometry"])
        lsoas = _rows(render(ref, _file("borough_lsoas_csv", gss)))
        assert lsoas and all(r["borough_gss"] == gss for r in lsoas)
        # The two sources are generalised differently: allow ~300 m at the edges.
        near = polygon.buffer(0.004)
        assert all(near.contains(Point(float(r["lon"]), float(r["lat"]))) for r in lsoas)
        inside = sum(polygon.contains(Point(float(r["lon"]), float(r["lat"]))) for r in lsoas)
        assert inside >= 0.95 * len(lsoas)


def test_lsoa_geojson_matches_csv(ref):
    rows = _rows(render(ref, _file("borough_lsoas_csv", "E09000007")))
    features = json.loads(render(ref, _file("borough_lsoas_geojson", "E09000007")))["features"]
    assert [f["id"] for f in features] == [r["lsoa_code"] for r in rows]
    for f, r in zip(features, rows, strict=True):
        assert shape(f["geometry"]).contains(Point(float(r["lon"]), float(r["lat"]))) or (
            shape(f["geometry"]).distance(Point(float(r["lon"]), float(r["lat"]))) < 0.002
        )


def test_postcode_counts(ref):
    wards = _rows(render(ref, _file("borough_postcodes_by_ward", "E09000033")))
    assert len(wards) >= 15  # Westminster has 18 wards
    assert all(w["ward_gss"].startswith("E05") and int(w["postcodes"]) > 0 for w in wards)
    per_borough = {
        r["gss_code"]: int(r["postcodes"])
        for r in _rows(render(ref, _file("postcodes_per_borough")))
    }
    assert set(per_borough) == set(BOROUGHS)
    assert per_borough["E09000033"] == sum(int(w["postcodes"]) for w in wards)
    assert 150_000 < sum(per_borough.values()) < 250_000


def test_city_wide_files(ref):
    lookup = _rows(render(ref, _file("lsoa_borough_lookup")))
    assert len(lookup) == 4835
    summary = _rows(render(ref, _file("london_boroughs_summary")))
    assert sum(int(r["lsoas"]) for r in summary) == 4835
    boroughs = json.loads(render(ref, _file("london_boroughs_geojson")))["features"]
    assert [f["id"] for f in boroughs] == list(BOROUGHS)

"""The readers on the real packaged sources (no database)."""

from collections import Counter
from itertools import islice

import pytest
from shapely.geometry import Point, shape

from citydata.geo.london import BOROUGHS, UnknownBoroughError, gss_for_name
from citydata.geo.postcodes import normalise_postcode
from citydata.geo.reference import iter_lsoas, iter_postcodes, read_boroughs


def test_33_boroughs_valid_polygons_and_gss_codes(reference_settings):
    boroughs = read_boroughs(reference_settings)
    assert [b["gss_code"] for b in boroughs] == [f"E090000{i:02d}" for i in range(1, 34)]
    assert boroughs[0]["name"] == "City of London"
    assert boroughs[-1]["name"] == "Westminster"
    for b in boroughs:
        geom = shape(b["geometry"])
        assert geom.geom_type in ("Polygon", "MultiPolygon")
        assert geom.is_valid and geom.area > 0
        assert (b["west"], b["south"], b["east"], b["north"]) == pytest.approx(geom.bounds)
        assert -0.52 < b["west"] < b["east"] < 0.34 and 51.28 < b["south"] < b["north"] < 51.70
    by_name = {b["name"]: shape(b["geometry"]) for b in boroughs}
    assert by_name["Camden"].contains(Point(-0.1426, 51.5390))  # Camden Town
    assert by_name["Westminster"].contains(Point(-0.1276, 51.5080))  # Trafalgar Square


def test_unknown_borough_name_fails_loudly():
    assert gss_for_name("Camden") == "E09000007"
    with pytest.raises(UnknownBoroughError):
        gss_for_name("Camdenn")


def test_london_lsoas(reference_settings):
    lsoas = list(iter_lsoas(reference_settings))
    assert len(lsoas) == 4835
    assert len({x["code"] for x in lsoas}) == 4835
    per_borough = Counter(x["borough_gss"] for x in lsoas)
    assert set(per_borough) == set(BOROUGHS)
    assert per_borough["E09000001"] == 6  # the City of London's six LSOAs
    for x in lsoas:
        assert x["code"].startswith("E01")
        assert x["name"].startswith(BOROUGHS[x["borough_gss"]] + " ")
        assert 51.28 < x["lat"] < 51.70 and -0.52 < x["lon"] < 0.34
    camden = next(x for x in lsoas if x["name"] == "Camden 011A")
    assert shape(camden["geometry"]).contains(Point(camden["lon"], camden["lat"]))


def test_postcode_normalisation():
    assert normalise_postcode("sw1a1aa") == "SW1A 1AA"
    assert normalise_postcode(" N1  9GU ") == "N1 9GU"
    assert normalise_postcode("ec1a 1bb") == "EC1A 1BB"
    assert normalise_postcode("not a postcode") is None
    assert normalise_postcode("") is None


def test_london_postcodes_from_the_real_zip(reference_settings):
    count = 0
    found = {}
    for row in iter_postcodes(reference_settings, london_only=True):
        count += 1
        assert row["district_gss"] in BOROUGHS
        assert 51.2 < row["lat"] < 51.75 and -0.55 < row["lon"] < 0.35
        if row["postcode"] in ("SW1A 1AA", "N1 9GU"):
            found[row["postcode"]] = row
    assert 150_000 < count < 250_000
    palace = found["SW1A 1AA"]
    assert palace["lat"] == pytest.approx(51.501, abs=0.002)
    assert palace["lon"] == pytest.approx(-0.1416, abs=0.002)
    assert palace["district_gss"] == "E09000033"
    assert found["N1 9GU"]["district_gss"] == "E09000019"


def test_gb_postcodes_capped(reference_settings):
    rows = list(islice(iter_postcodes(reference_settings, london_only=False), 2000))
    assert len(rows) == 2000
    assert rows[0]["postcode"].startswith("AB")  # Aberdeen comes first
    for row in rows:
        assert 56.5 < row["lat"] < 58 and -3.5 < row["lon"] < -1.5

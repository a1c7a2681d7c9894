"""Answers by place over the real reference data (real London postcodes), on both backends."""

from __future__ import annotations

import pytest

from citydata.geo.reference import load_reference


@pytest.fixture
def places(platform, client):  # type: ignore[no-untyped-def]
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization

    settings = platform.settings.model_copy(update={"postcodes": "london"})
    load_reference(platform.db, settings)
    with platform.db.session() as session:
        create_organization(session, Actor.system(), {
            "name": "greenwich-council", "title": "Royal Borough of Greenwich",
            "kind": "borough", "gss_code": "E09000011"})
    return client


def test_postcode_and_point_lookups(places):
    r = places.get("/api/v1/places/lookup", params={"postcode": "se10 9nn"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["postcode"] == "SE10 9NN"
    assert body["borough"]["gss_code"] == "E09000011" and body["borough"]["name"] == "Greenwich"
    assert body["borough"]["publisher"] == {"name": "greenwich-council",
                                            "title": "Royal Borough of Greenwich"}
    assert body["lsoa"]["code"].startswith("E01") and "Greenwich" in body["lsoa"]["name"]
    assert 535_000 < body["point"]["easting"] < 542_000
    assert "Royal Mail" in body["attribution"]
    # The same place by coordinates gives the same borough and LSOA.
    point = body["point"]
    again = places.get("/api/v1/places/lookup",
                       params={"lat": point["lat"], "lon": point["lon"]}).json()
    assert again["borough"] == body["borough"] and again["lsoa"] == body["lsoa"]
    assert abs(again["point"]["easting"] - point["easting"]) <= 1
    palace = places.get("/api/v1/places/lookup", params={"postcode": "SW1A1AA"}).json()
    assert palace["borough"]["name"] == "Westminster" and palace["borough"]["publisher"] is None
    camden_town = places.get("/api/v1/places/lookup",
                             params={"lat": "51.5390", "lon": "-0.1426"}).json()
    assert camden_town["borough"]["name"] == "Camden" and camden_town["postcode"] is None


BAD = [
    ({"postcode": "not a postcode"}, 400, "not a UK postcode"),
    ({"postcode": "AB10 1AB"}, 404, "not in the gazetteer"),  # Aberdeen: London only loaded
    ({"lat": "51.752", "lon": "-1.2577"}, 404, "not in a London borough"),  # Oxford
    ({"lat": "95", "lon": "0"}, 400, "between -90 and 90"),
    ({"lat": "51.5", "lon": "east"}, 400, "number"),
    ({"lat": "nan", "lon": "0"}, 400, "between"),
    ({"lat": "51.5"}, 400, "lon"),
    ({}, 400, "postcode, or lat and lon"),
    ({"postcode": "SE10 9NN", "lat": "51.5", "lon": "0"}, 400, "not both"),
    ({"postcode": "x" * 30}, 400, "postcode"),
]


def test_bad_places(places):
    """One test over every case: loading the real reference data is the slow part."""
    for params, status, words in BAD:
        r = places.get("/api/v1/places/lookup", params=params)
        assert r.status_code == status, (params, r.text)
        assert words in r.text, (params, r.text)
        assert set(r.json()) == {"error"}


def test_find_my_council(places, platform, tmp_path):
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.publish import publish_file

    directory = tmp_path / "services.csv"
    directory.write_text(
        "borough_gss,service,title,url\n"
        "E09000011,report-fly-tipping,Report fly-tipping,https://www.royalgreenwich.gov.uk/fly\n"
        "E09000011,report-pothole,Report a pothole,https://www.royalgreenwich.gov.uk/pothole\n"
        "E09000033,report-fly-tipping,Report fly-tipping,https://www.westminster.gov.uk/fly\n")
    with platform.db.session() as session:
        ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
        _, res = publish_file(ctx, directory, org="greenwich-council", title="Council services",
                              dataset_name="council-services", metadata={
                                  "conforms_to": "council-services@1.0.0"})
    assert res["versions"][-1]["ingest_status"] == "ok"  # it follows the standard
    body = places.get("/api/v1/places/council-services", params={"postcode": "SE10 9NN"}).json()
    # Greenwich's two services, in title order; Westminster's row is not for this place.
    assert [(s["service"], s["url"]) for s in body["services"]] == [
        ("report-pothole", "https://www.royalgreenwich.gov.uk/pothole"),
        ("report-fly-tipping", "https://www.royalgreenwich.gov.uk/fly")]
    assert body["borough"]["name"] == "Greenwich"
    page = places.get("/find-my-council", params={"postcode": "se10 9nn"})
    assert page.status_code == 200
    assert "SE10 9NN is in Greenwich" in page.text
    assert 'href="https://www.royalgreenwich.gov.uk/fly"' in page.text
    assert "Royal Borough of Greenwich" in page.text
    bad = places.get("/find-my-council", params={"postcode": "nonsense"})
    assert bad.status_code == 400 and "not a UK postcode" in bad.text
    missing = places.get("/find-my-council", params={"postcode": "AB10 1AB"})
    assert missing.status_code == 404 and "not in the gazetteer" in missing.text
    assert places.get("/find-my-council").status_code == 200


def test_lsoa_basemap_detail_in_a_box(places):
    """The LSOAs a zoomed-in map draws: those meeting the box, from the reference data."""
    r = places.get("/api/v1/reference/lsoas.geojson", params={"bbox": "-0.012,51.478,0.0,51.486"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    assert 2 <= len(features) <= 40
    assert all(f["properties"]["borough_gss"] in ("E09000011", "E09000023") for f in features)
    lookup = places.get("/api/v1/places/lookup", params={"postcode": "SE10 9NN"}).json()
    assert lookup["lsoa"]["code"] in {f["id"] for f in features}  # the LSOA holding the point
    for bad, needle in (("-1,51,1,52", "zoom in"), ("1,2", "four"), ("0,0,0,91", "outside")):
        r = places.get("/api/v1/reference/lsoas.geojson", params={"bbox": bad})
        assert r.status_code == 400 and needle in r.json()["error"]["message"], bad

"""OGC API – Features at /ogc through the in-process client, on SQLite (R*Tree feature store)
and PostgreSQL (PostGIS): documents, items with every parameter, CRS, nearest, tiles and the
OGC error shape."""

from __future__ import annotations

import json
import math

import mapbox_vector_tile
import pytest
import shapely
from pyproj import Geod

from citydata.geo import crs as crs_mod
from tests.geo.conftest import LIBRARIES

ITEMS = "/ogc/collections/camden-libraries/items"
OGC_ERROR_KEYS = {"code", "type", "description", "status"}


def items(client, path=ITEMS, **params):  # type: ignore[no-untyped-def]
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    return r.json()


def names(doc) -> list[str]:  # type: ignore[no-untyped-def]
    return [f["properties"]["name"] for f in doc["features"]]


def test_landing_conformance_and_api_definition(client, spatial):
    landing = client.get("/ogc/").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    api = client.get("/ogc/api")
    assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    spec = api.json()
    assert spec["openapi"].startswith("3.0")
    item_params = {p["name"] for p in spec["paths"]["/collections/{collectionId}/items"]["get"]
                   ["parameters"]}
    assert {"bbox", "limit", "offset", "datetime", "crs", "bbox-crs", "filter", "sortby",
            "properties", "skipGeometry", "near"} <= item_params
    assert "GET /ogc/collections/{collectionId}/items" in client.get("/ogc/api?f=html").text


def test_collections_list_every_spatial_table_with_extent(client, spatial):
    doc = client.get("/ogc/collections").json()
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == {"camden-libraries", "camden-parks", "chargers"}
    libs = by_id["camden-libraries"]
    west, south, east, north = libs["extent"]["spatial"]["bbox"][0]
    assert (west, south, east, north) == (-0.1749, 51.5177, -0.12, 51.5506)
    assert crs_mod.BNG in libs["crs"] and libs["storageCrs"] == crs_mod.CRS84
    assert {"self", "items", "http://www.opengis.net/def/rel/ogc/1.0/queryables"} <= {
        link["rel"] for link in libs["links"]}
    one = client.get("/ogc/collections/camden-libraries")
    assert one.json()["id"] == "camden-libraries"
    assert 'rel="http://www.opengis.net/def/rel/ogc/1.0/queryables"' in one.headers["link"]
    # The extent also became the dataset's coverage, so spatial search finds it.
    found = client.get("/api/3/action/package_search",
                       params={"ext_bbox": "-0.15,51.53,-0.14,51.54"}).json()["result"]
    assert "camden-libraries" in {d["name"] for d in found["results"]}


def test_queryables_describe_the_properties(client, spatial):
    r = client.get("/ogc/collections/camden-libraries/queryables")
    assert r.headers["content-type"] == "application/schema+json"
    doc = r.json()
    assert doc["type"] == "object" and doc["$id"].endswith("/camden-libraries/queryables")
    assert doc["properties"]["desks"] == {"title": "desks", "type": "integer"}
    assert doc["properties"]["opened"]["format"] == "date"
    assert doc["properties"]["geometry"]["format"] == "geometry-any"


def test_items_page_through_everything_with_links(client, spatial):
    seen: list[int] = []
    doc = items(client, limit=2)
    assert doc["numberMatched"] == 5 and doc["numberReturned"] == 2
    while True:
        seen.extend(f["id"] for f in doc["features"])
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        if not nxt:
            break
        doc = client.get(nxt[0].replace("http://testserver", "")).json()
        assert any(link["rel"] == "prev" for link in doc["links"])
    assert seen == [0, 1, 2, 3, 4]
    assert items(client, offset=10)["features"] == []


def test_bbox_selects_exactly_what_intersects(client, spatial):
    doc = items(client, bbox="-0.15,51.53,-0.13,51.56")
    assert names(doc) == ["Kentish Town", "Camden Town"] and doc["numberMatched"] == 2
    # A box holding most features pages by walking ids (a different plan): same answers.
    wide = items(client, bbox="-1,51,1,52", limit=2, offset=2)
    assert [f["id"] for f in wide["features"]] == [2, 3] and wide["numberMatched"] == 5
    # A point exactly on the box's edge is inside it.
    assert names(items(client, bbox="-0.1426,51.539,-0.1426,51.539")) == ["Camden Town"]
    # Polygons: the box touches the park's bounding box corner region but not the bow tie.
    parks = "/ogc/collections/camden-parks/items"
    assert names(items(client, parks, bbox="-0.16,51.538,-0.158,51.539")) == ["Primrose Hill"]
    # Inside the bow tie's bounding box, but in the gap between its two triangles.
    assert names(items(client, parks, bbox="-0.1251,51.5385,-0.1249,51.5395")) == []
    assert names(items(client, parks, bbox="-0.1295,51.5349,-0.1294,51.5351")) == ["Bow tie"]


def test_bbox_and_output_in_british_national_grid_and_epsg_4326(client, spatial):
    # Trafalgar Square and King's Cross are published as easting/northing.
    r = client.get("/ogc/collections/chargers/items",
                   params={"bbox": "529000,179000,531000,181000", "bbox-crs": crs_mod.BNG,
                           "crs": crs_mod.BNG})
    assert r.headers["content-crs"] == f"<{crs_mod.BNG}>"
    doc = r.json()
    assert [f["properties"]["site"] for f in doc["features"]] == ["Trafalgar Square"]
    x, y = doc["features"][0]["geometry"]["coordinates"]
    assert abs(x - 530034) < 0.01 and abs(y - 180381) < 0.01
    lonlat = items(client, "/ogc/collections/chargers/items")["features"][0]
    lon, lat = lonlat["geometry"]["coordinates"]
    # Nelson's Column is at about 51.5078 N, 0.1280 W.
    assert abs(lon - -0.1280) < 5e-4 and abs(lat - 51.5078) < 5e-4
    swapped = items(client, "/ogc/collections/chargers/items", crs=crs_mod.EPSG4326)
    assert swapped["features"][0]["geometry"]["coordinates"] == pytest.approx([lat, lon])


def test_attribute_filters_sort_and_projection(client, spatial):
    assert names(items(client, kind="library", desks="30")) == ["Camden Town"]
    text = items(client, filter="desks > 10 AND name LIKE '%Town'", sortby="-desks")
    assert names(text) == ["Camden Town", "Kentish Town"] and text["numberMatched"] == 2
    as_json = json.dumps({"op": "and", "args": [
        {"op": ">", "args": [{"property": "desks"}, 10]},
        {"op": "like", "args": [{"property": "name"}, "%Town"]}]})
    assert names(items(client, filter=as_json, **{"filter-lang": "cql2-json"},
                       sortby="-desks")) == names(text)
    both = items(client, filter="desks >= 8", bbox="-0.15,51.51,-0.11,51.545", sortby="name")
    assert names(both) == ["Camden Town", "Holborn"]
    slim = items(client, properties="desks,name", skipGeometry="true", limit=1)
    assert slim["features"][0]["properties"] == {"desks": 12, "name": "Kentish Town"}
    assert slim["features"][0]["geometry"] is None
    dated = items(client, datetime="2019-01-01/2021-01-01")
    assert names(dated) == ["Kentish Town", "Camden Town"]
    assert names(items(client, datetime="../2019-01-01")) == ["Holborn"]
    assert names(items(client, datetime="2022-05-05")) == ["Queen's Crescent"]


def test_nearest_features_with_distances_in_metres(client, spatial):
    here = (-0.1400, 51.5400)
    doc = items(client, near=f"{here[0]},{here[1]}", limit=3)
    geod = Geod(ellps="WGS84")
    expected = sorted(
        (geod.inv(here[0], here[1], lon, lat)[2], name) for name, lon, lat, *_ in LIBRARIES)[:3]
    assert names(doc) == [n for _, n in expected]
    for feature, (metres, _) in zip(doc["features"], expected, strict=True):
        assert feature["properties"]["distance_m"] == pytest.approx(metres, abs=0.5)
    # With an attribute filter, only matching features are ranked.
    filtered = items(client, near=f"{here[0]},{here[1]}", limit=2, filter="desks >= 40")
    assert names(filtered) == ["Swiss Cottage"]
    # A polygon that contains the point is at distance 0.
    park = items(client, "/ogc/collections/camden-parks/items", near="-0.16,51.54", limit=1)
    assert names(park) == ["Primrose Hill"]
    assert park["features"][0]["properties"]["distance_m"] == pytest.approx(0, abs=0.01)


def test_one_feature_and_missing_ones(client, spatial):
    r = client.get(f"{ITEMS}/2")
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["properties"]["name"] == "Swiss Cottage" and body["id"] == 2
    assert {link["rel"] for link in body["links"]} >= {"self", "collection"}
    for missing in ("99", "abc", "-1"):
        r = client.get(f"{ITEMS}/{missing}")
        assert r.status_code == 404 and set(r.json()) == OGC_ERROR_KEYS
        assert r.json()["code"] == "NotFound"
    r = client.get("/ogc/collections/no-such-thing/items")
    assert r.status_code == 404 and r.json()["code"] == "NotFound"


def test_geometries_are_repaired_and_empty_ones_kept_as_null(client, spatial):
    doc = items(client, "/ogc/collections/camden-parks/items")
    by_name = {f["properties"]["name"]: f for f in doc["features"]}
    bow = shapely.geometry.shape(by_name["Bow tie"]["geometry"])
    assert bow.is_valid and bow.geom_type == "MultiPolygon"
    assert by_name["No geometry"]["geometry"] is None
    ds = client.get("/api/3/action/package_show", params={"id": "camden-parks"}).json()
    warnings = ds["result"]["resources"][0]["versions"][-1]["report"]["warnings"]
    assert any("1 invalid geometries" in w and "repaired" in w for w in warnings)


@pytest.mark.parametrize("params, needle", [
    ({"bbox": "-0.1,51.6,-0.2,51.5"}, "minx > maxx"),
    ({"bbox": "-0.2,51.6,-0.1,51.5"}, "miny > maxy"),
    ({"bbox": "-0.2,51.5,0,51.6,0,10"}, "3D"),
    ({"bbox": "1,2,3"}, "four"),
    ({"bbox": "a,b,c,d"}, "not four numbers"),
    ({"bbox": "-200,51,0,52"}, "outside"),
    ({"bbox": "1e308,1e308,1e309,1e309"}, "finite"),
    ({"bbox": "0,0,1,1", "bbox-crs": "EPSG:9999"}, "not supported"),
    ({"crs": "http://www.opengis.net/def/crs/EPSG/0/32631"}, "not supported"),
    ({"filter": "desks >"}, "CQL2"),
    ({"filter": "nosuch = 1"}, "nosuch"),
    ({"filter": "name > 3"}, ""),
    ({"filter": "{", "filter-lang": "cql2-json"}, "JSON"),
    ({"filter-lang": "ecql"}, "cql2-text"),
    ({"limit": "0"}, "limit"),
    ({"limit": "ten"}, "whole number"),
    ({"offset": "-1"}, "offset"),
    ({"near": "north"}, "lon,lat"),
    ({"near": "-0.1,95"}, "lat"),
    ({"sortby": "nosuch"}, "sortby"),
    ({"properties": "nosuch"}, "properties"),
    ({"skipGeometry": "maybe"}, "true or false"),
    ({"datetime": "yesterday"}, "RFC 3339"),
    ({"datetime": "2024-02-01/2024-01-01"}, "after its end"),
    ({"desks": "many"}, "not a number"),
    ({"f": "xml"}, "json or html"),
    ({"unknown": "1"}, "Unknown query parameter"),
])
def test_bad_parameters_get_a_400_in_the_ogc_shape(client, spatial, params, needle):
    r = client.get(ITEMS, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == OGC_ERROR_KEYS and body["code"] == "InvalidParameterValue"
    assert needle in body["description"]
    assert "Traceback" not in r.text


def test_repeated_parameters_and_bad_tiles_are_refused(client, spatial):
    r = client.get(f"{ITEMS}?limit=1&limit=2")
    assert r.status_code == 400 and "more than once" in r.json()["description"]
    for tile in ("3/9/0", "-1/0/0", "25/0/0", "x/0/0"):
        r = client.get(f"/ogc/collections/camden-libraries/tiles/WebMercatorQuad/{tile}")
        assert r.status_code == 400 and set(r.json()) == OGC_ERROR_KEYS, (tile, r.text)
    assert client.get("/ogc/collections?limit=3").status_code == 400


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The slippy-map tile (x, y) holding a point."""
    n = 2 ** z
    rad = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)


def test_vector_tiles_carry_the_features(client, spatial):
    x, y = tile_of(-0.1426, 51.5390, 14)  # Camden Town; the path is z/y/x (tileRow/tileCol)
    r = client.get(f"/ogc/collections/camden-libraries/tiles/WebMercatorQuad/14/{y}/{x}")
    assert r.status_code == 200 and r.headers["content-type"] == \
        "application/vnd.mapbox-vector-tile"
    tile = mapbox_vector_tile.decode(r.content)
    layer = tile["camden-libraries"]
    got = {f["properties"]["name"]: f for f in layer["features"]}
    assert "Camden Town" in got and got["Camden Town"]["properties"]["desks"] == 30
    assert "Holborn" not in got
    # A tile far away is empty but valid.
    empty = client.get("/ogc/collections/camden-libraries/tiles/WebMercatorQuad/14/0/0")
    assert empty.status_code == 200 and mapbox_vector_tile.decode(empty.content) in ({}, {
        "camden-libraries": {"extent": 4096, "version": 2, "type": "FeatureCollection",
                             "features": []}})
    # Polygons are clipped to the tile and keep their properties.
    x, y = tile_of(-0.16, 51.54, 10)
    z10 = client.get(f"/ogc/collections/camden-parks/tiles/WebMercatorQuad/10/{y}/{x}")
    parks = mapbox_vector_tile.decode(z10.content)["camden-parks"]["features"]
    assert {f["properties"]["name"] for f in parks} == {"Primrose Hill", "Bow tie"}


def test_html_pages(client, spatial):
    html = {"Accept": "text/html"}
    assert "Feature collections" in client.get("/ogc/", headers=html).text
    page = client.get("/ogc/collections", headers=html).text
    assert "Camden libraries" in page and "/ogc/collections/chargers?f=html" in page
    items_page = client.get(f"{ITEMS}?f=html&limit=2").text
    assert "2 of 5 features" in items_page and "Kentish Town" in items_page
    assert 'data-geojson="http://testserver/ogc/collections/camden-libraries/items?limit=2' \
        in items_page
    assert "Swiss Cottage" in client.get(f"{ITEMS}/2?f=html").text
    bad = client.get(f"{ITEMS}?bbox=1,2", headers=html)
    assert bad.status_code == 400 and "<html" in bad.text.lower()


def test_mixed_types_and_impossible_coordinates(client, make_ctx, tmp_path):
    """One layer with points, lines and polygons is served as it is; a geometry with
    coordinates no place has is kept as a feature without geometry, and the report says so."""
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import create_organization
    from citydata.catalog.publish import publish_file

    mixed = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "stop"},
         "geometry": {"type": "Point", "coordinates": [-0.14, 51.54]}},
        {"type": "Feature", "properties": {"name": "route"},
         "geometry": {"type": "LineString", "coordinates": [[-0.15, 51.53], [-0.13, 51.55]]}},
        {"type": "Feature", "properties": {"name": "zone"},
         "geometry": {"type": "Polygon", "coordinates": [[[-0.15, 51.53], [-0.14, 51.53],
                                                          [-0.14, 51.54], [-0.15, 51.53]]]}},
        {"type": "Feature", "properties": {"name": "nowhere"},
         "geometry": {"type": "Point", "coordinates": [500.0, 1e300]}}]}
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps(mixed))
    with make_ctx() as ctx:
        create_organization(ctx.session, Actor.system(), {"name": "camden", "title": "Camden"})
        publish_file(ctx, path, org="camden", title="Mixed", dataset_name="mixed")
    doc = items(client, "/ogc/collections/mixed/items")
    types = {f["properties"]["name"]: (f["geometry"] or {}).get("type") for f in doc["features"]}
    assert types == {"stop": "Point", "route": "LineString", "zone": "Polygon", "nowhere": None}
    assert names(items(client, "/ogc/collections/mixed/items", bbox="-0.2,51.5,0,51.6")) == [
        "stop", "route", "zone"]
    x, y = tile_of(-0.14, 51.54, 12)
    tile = client.get(f"/ogc/collections/mixed/tiles/WebMercatorQuad/12/{y}/{x}")
    assert len(mapbox_vector_tile.decode(tile.content)["mixed"]["features"]) == 3
    ds = client.get("/api/3/action/package_show", params={"id": "mixed"}).json()["result"]
    warnings = ds["resources"][0]["versions"][-1]["report"]["warnings"]
    assert any("outside longitude" in w for w in warnings)

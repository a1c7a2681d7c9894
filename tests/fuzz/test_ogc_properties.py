"""Property-based tests of OGC API – Features item queries (in-process client, both
backends): a valid query answers a FeatureCollection within its limit (and, with a box,
inside the box); anything else is a 400 in the OGC exception shape; never a server error."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citydata.geo.crs import BNG, CRS84
from tests.geo.conftest import LIBRARIES

ITEMS = "/ogc/collections/camden-libraries/items"
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])
OGC_EXCEPTION_KEYS = {"code", "type", "description", "status"}

texts = st.text(max_size=30)
lon = st.floats(min_value=-0.2, max_value=-0.1, allow_nan=False)
lat = st.floats(min_value=51.5, max_value=51.56, allow_nan=False)


@st.composite
def london_boxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    west, east = sorted((draw(lon), draw(lon)))
    south, north = sorted((draw(lat), draw(lat)))
    return west, south, east, north


boxes = st.one_of(london_boxes().map(lambda b: ",".join(repr(x) for x in b)), texts,
                  st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1,
                           max_size=6).map(lambda xs: ",".join(map(str, xs))))
numbers = st.one_of(st.integers(min_value=-5, max_value=20_000).map(str), texts)
instants = st.sampled_from(["2020-01-01T00:00:00Z", "2019-01-01/2021-12-31", "../2020-01-01",
                            "2021-01-01/..", "2020-13-45", "yesterday", "../..", ""])
cql2 = st.one_of(
    texts,
    st.sampled_from(["desks > 10", "name = 'Holborn'", "desks BETWEEN 5 AND 30",
                     "name LIKE 'C%'", "desks IN (5, 8, 12)", "opened > DATE('2020-01-01')",
                     "S_INTERSECTS(geometry, BBOX(-0.2, 51.5, -0.1, 51.56))",
                     "nosuch = 1", "desks >", "(((", "name = 'unterminated"]),
)
property_lists = st.one_of(texts, st.lists(st.sampled_from(["name", "desks", "opened", "kind",
                                                            "nosuch"]), max_size=3)
                           .map(",".join))
sorts = st.one_of(texts, st.lists(st.sampled_from(["name", "-desks", "+opened", "nosuch",
                                                   "-"]), max_size=2).map(",".join))
crs_values = st.one_of(st.sampled_from([CRS84, BNG, "EPSG:4326", ""]), texts)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def _is_valid_box(raw: str | None) -> tuple[float, float, float, float] | None:
    """The box as given when it is a plain, ordered CRS84 box (what the property checks)."""
    if raw is None:
        return None
    try:
        parts = [float(x) for x in raw.split(",")]
    except ValueError:
        return None
    if len(parts) != 4 or not parts[0] <= parts[2] or not parts[1] <= parts[3]:
        return None
    west, south, east, north = parts
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90
            and -90 <= north <= 90):
        return None
    return west, south, east, north


def test_items_query_parameters(client: Any, fuzz_data: dict[str, str]) -> None:
    @given(bbox=_maybe(boxes), bbox_crs=_maybe(crs_values), datetime=_maybe(instants),
           limit=_maybe(numbers), offset=_maybe(numbers), crs=_maybe(crs_values),
           filter_=_maybe(cql2), filter_lang=_maybe(st.sampled_from(["cql2-text", "cql2-json",
                                                                     "ecql", ""])),
           properties=_maybe(property_lists), sortby=_maybe(sorts))
    @PROPERTY_SETTINGS
    def run(bbox: str | None, bbox_crs: str | None, datetime: str | None, limit: str | None,
            offset: str | None, crs: str | None, filter_: str | None,
            filter_lang: str | None, properties: str | None, sortby: str | None) -> None:
        params = {k: v for k, v in {
            "bbox": bbox, "bbox-crs": bbox_crs, "datetime": datetime, "limit": limit,
            "offset": offset, "crs": crs, "filter": filter_, "filter-lang": filter_lang,
            "properties": properties, "sortby": sortby}.items() if v is not None}
        r = client.get(ITEMS, params=params)
        assert r.status_code in (200, 400), (r.status_code, r.text)
        body = r.json()
        if r.status_code == 400:
            assert r.headers["content-type"].startswith("application/json")
            assert set(body) == OGC_EXCEPTION_KEYS and body["status"] == 400
            assert body["code"] == "InvalidParameterValue" and body["description"]
            return
        assert r.headers["content-type"] == "application/geo+json"
        assert body["type"] == "FeatureCollection"
        assert body["numberReturned"] == len(body["features"])
        assert body["numberReturned"] <= (int(limit) if limit else 10)
        assert body["numberMatched"] >= body["numberReturned"]
        assert all(f["type"] == "Feature" for f in body["features"])
        box = _is_valid_box(bbox)
        if box is not None and bbox_crs in (None, CRS84) and crs in (None, CRS84):
            west, south, east, north = box
            for feature in body["features"]:
                x, y = feature["geometry"]["coordinates"]
                assert west <= x <= east and south <= y <= north, (box, feature)

    run()


def test_a_valid_box_finds_exactly_the_libraries_inside(client: Any,
                                                        fuzz_data: dict[str, str]) -> None:
    @given(box=london_boxes())
    @PROPERTY_SETTINGS
    def run(box: tuple[float, float, float, float]) -> None:
        west, south, east, north = box
        r = client.get(ITEMS, params={"bbox": ",".join(repr(x) for x in box), "limit": "100"})
        assert r.status_code == 200, r.text
        found = sorted(f["properties"]["name"] for f in r.json()["features"])
        inside = sorted(n for n, x, y, *_ in LIBRARIES
                        if west <= x <= east and south <= y <= north)
        assert found == inside

    run()

"""The MVT encoder, checked by decoding its tiles with the real third-party decoder
(``mapbox-vector-tile``) and its protobuf classes, and the tile maths against known values
and pyproj."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from mapbox_vector_tile.Mapbox import vector_tile_pb2
from pyproj import Transformer
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from citydata.errors import QueryError
from citydata.geo.mvt import (
    MAX_ZOOM,
    TILE_MATRIX_SET,
    Feature,
    Layer,
    check_tile,
    encode_tile,
    tile_bounds_3857,
    tile_bounds_lonlat,
)

ORIGIN = 20037508.342789244
# The z14 tile over central London (Trafalgar Square is at lon -0.1278, lat 51.5074).
Z, X, Y = 14, 8186, 5448
TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def lonlat(
    px: float, py: float, z: int = Z, x: int = X, y: int = Y, extent: int = 4096
) -> tuple[float, float]:
    """The lon/lat at tile units (px, py) of tile z/x/y (y down): the inverse projection."""
    n = 2**z
    lon = (x + px / extent) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + py / extent) / n))))
    return lon, lat


def pt(px: float, py: float) -> Point:
    return Point(lonlat(px, py))


def poly(exterior: Sequence[tuple[float, float]], *holes: Sequence[tuple[float, float]]) -> Polygon:
    return Polygon([lonlat(*p) for p in exterior], [[lonlat(*p) for p in h] for h in holes])


def tile(*features: Feature, name: str = "layer", **options: Any) -> bytes:
    return encode_tile([Layer(name, list(features))], Z, X, Y, **options)


def decode(data: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def features(data: bytes, name: str = "layer") -> list[dict[str, Any]]:
    return decode(data)[name]["features"]


def raw_layer(data: bytes) -> Any:
    message = vector_tile_pb2.tile()
    message.ParseFromString(data)
    assert len(message.layers) == 1
    return message.layers[0]


def signed_area(ring: list[list[int]]) -> int:
    """Twice the surveyor's-formula area in tile coordinates: > 0 means an exterior ring."""
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True))


# -- tile maths ---------------------------------------------------------------------------


def test_constants() -> None:
    assert TILE_MATRIX_SET == "WebMercatorQuad"
    assert MAX_ZOOM == 24


def test_zoom_zero_is_the_whole_world() -> None:
    assert tile_bounds_3857(0, 0, 0) == pytest.approx((-ORIGIN, -ORIGIN, ORIGIN, ORIGIN), abs=1e-6)
    minlon, minlat, maxlon, maxlat = tile_bounds_lonlat(0, 0, 0)
    assert (minlon, maxlon) == (-180, 180)
    assert (minlat, maxlat) == pytest.approx((-85.0511287798066, 85.0511287798066), abs=1e-12)


def test_zoom_one_quadrants_count_rows_from_the_north() -> None:
    assert tile_bounds_3857(1, 0, 0) == pytest.approx((-ORIGIN, 0, 0, ORIGIN), abs=1e-6)
    assert tile_bounds_3857(1, 1, 1) == pytest.approx((0, -ORIGIN, ORIGIN, 0), abs=1e-6)
    assert tile_bounds_lonlat(1, 1, 0)[:3] == pytest.approx((0, 0, 180), abs=1e-12)


def test_london_tile() -> None:
    minlon, minlat, maxlon, maxlat = tile_bounds_lonlat(Z, X, Y)
    assert minlon < -0.1278 < maxlon and minlat < 51.5074 < maxlat
    assert minlon == 8186 / 2**14 * 360 - 180 == -0.1318359375
    # Its neighbours do not hold the point.
    assert tile_bounds_lonlat(Z, X + 1, Y)[0] > -0.1278
    assert tile_bounds_lonlat(Z, X, Y - 1)[1] > 51.5074
    # The metre bounds are the degree bounds projected (pyproj as the reference).
    mx0, my0 = TO_3857.transform(minlon, minlat)
    mx1, my1 = TO_3857.transform(maxlon, maxlat)
    assert tile_bounds_3857(Z, X, Y) == pytest.approx((mx0, my0, mx1, my1), abs=1e-6)
    size = 2 * ORIGIN / 2**Z
    assert tile_bounds_3857(Z, X, Y)[2] - tile_bounds_3857(Z, X, Y)[0] == pytest.approx(size)


def test_deepest_tiles_are_valid() -> None:
    check_tile(MAX_ZOOM, 2**MAX_ZOOM - 1, 0)
    minx, _, maxx, _ = tile_bounds_3857(MAX_ZOOM, 2**MAX_ZOOM - 1, 0)
    assert maxx == pytest.approx(ORIGIN) and maxx - minx == pytest.approx(2 * ORIGIN / 2**24)


@pytest.mark.parametrize(
    ("z", "x", "y", "words"),
    [
        (-1, 0, 0, "zoom -1 is outside 0..24"),
        (25, 0, 0, "zoom 25 is outside 0..24"),
        (0, 1, 0, "x=1 is outside 0..0 at zoom 0"),
        (0, 0, 1, "y=1 is outside 0..0 at zoom 0"),
        (3, 8, 0, "x=8 is outside 0..7 at zoom 3"),
        (3, 0, -1, "y=-1 is outside 0..7"),
        ("1", 0, 0, "zoom must be an integer"),
        (1, 0.5, 0, "x must be an integer"),
        (1, 0, True, "y must be an integer"),
    ],
)
def test_check_tile_rejects_tiles_outside_the_matrix(z: Any, x: Any, y: Any, words: str) -> None:
    for call in (check_tile, tile_bounds_3857, tile_bounds_lonlat):
        with pytest.raises(QueryError, match=words):
            call(z, x, y)
    with pytest.raises(QueryError, match=words):
        encode_tile([], z, x, y)


# -- spec examples, command by command -------------------------------------------------------
# The geometry examples of the MVT 2.1 specification (section 4.3.5), integer by integer.


@pytest.mark.parametrize(
    ("geometry", "commands"),
    [
        (pt(25, 17), [9, 50, 34]),
        (MultiPoint([lonlat(5, 7), lonlat(3, 2)]), [17, 10, 14, 3, 9]),
        (LineString([lonlat(2, 2), lonlat(2, 10), lonlat(10, 10)]), [9, 4, 4, 18, 0, 16, 16, 0]),
        (
            MultiLineString(
                [[lonlat(2, 2), lonlat(2, 10), lonlat(10, 10)], [lonlat(1, 1), lonlat(3, 5)]]
            ),
            [9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8],
        ),
        (poly([(3, 6), (8, 12), (20, 34)]), [9, 6, 12, 18, 10, 12, 24, 44, 15]),
        (
            MultiPolygon(
                [
                    poly([(0, 0), (10, 0), (10, 10), (0, 10)]),
                    poly(
                        [(11, 11), (20, 11), (20, 20), (11, 20)],
                        [(13, 13), (13, 17), (17, 17), (17, 13)],
                    ),
                ]
            ),
            [9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15, 9, 22, 2, 26, 18, 0, 0, 18, 17, 0, 15, 9, 4,
             13, 26, 0, 8, 8, 0, 0, 7, 15],
        ),
    ],
)
def test_geometry_commands_match_the_spec_examples(
    geometry: shapely.Geometry, commands: list[int]
) -> None:
    layer = raw_layer(tile(Feature(geometry, {})))
    assert (layer.version, layer.extent, len(layer.features)) == (2, 4096, 1)
    assert list(layer.features[0].geometry) == commands


# -- features, properties and geometries ------------------------------------------------------


def test_points_round_trip_with_ids_and_properties() -> None:
    data = tile(
        Feature(pt(0, 0), {"name": "corner"}, id=1),
        Feature(pt(100, 200), {"name": "inside", "n": 3}, id=2),
        Feature(pt(4095.4, 17.6), {}, id=3),
    )
    decoded = decode(data)
    assert list(decoded) == ["layer"]
    layer = decoded["layer"]
    assert (layer["version"], layer["extent"]) == (2, 4096)
    got = [(f["id"], f["geometry"], f["properties"]) for f in layer["features"]]
    assert got == [
        (1, {"type": "Point", "coordinates": [0, 0]}, {"name": "corner"}),
        (2, {"type": "Point", "coordinates": [100, 200]}, {"name": "inside", "n": 3}),
        (3, {"type": "Point", "coordinates": [4095, 18]}, {}),
    ]


def test_real_london_point_lands_where_pyproj_puts_it() -> None:
    minx, miny, maxx, maxy = tile_bounds_3857(Z, X, Y)
    mx, my = TO_3857.transform(-0.1278, 51.5074)
    size = maxx - minx
    expected = [round((mx - minx) / size * 4096), round((maxy - my) / size * 4096)]
    [feature] = features(tile(Feature(Point(-0.1278, 51.5074), {"name": "Trafalgar Square"})))
    assert feature["geometry"]["coordinates"] == expected


def test_property_value_types() -> None:
    props = {
        "s": "café",
        "u": 7,
        "neg": -3,
        "f": 1.5,
        "t": True,
        "none": None,
        "big": 2**70,
        "np_int": np.int64(-5),
        "np_float": np.float32(0.25),
        "day": dt.date(2024, 5, 1),
        "when": dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC),
        "price": Decimal("1.10"),
        "tags": ["a", 1],
        "meta": {"k": [1, 2]},
    }
    data = tile(Feature(pt(1, 1), props))
    [feature] = features(data)
    assert feature["properties"] == {
        "s": "café",
        "u": 7,
        "neg": -3,
        "f": 1.5,
        "t": True,
        "big": str(2**70),
        "np_int": -5,
        "np_float": 0.25,
        "day": "2024-05-01",
        "when": "2024-05-01T09:30:00+00:00",
        "price": "1.10",
        "tags": '["a", 1]',
        "meta": '{"k": [1, 2]}',
    }
    layer = raw_layer(data)
    by_key = dict(zip(layer.keys, layer.values, strict=True))
    assert by_key["u"].HasField("uint_value") and by_key["neg"].HasField("sint_value")
    assert by_key["f"].HasField("double_value") and by_key["t"].HasField("bool_value")


def test_keys_and_values_are_shared_within_a_layer_and_keep_their_types() -> None:
    data = tile(
        Feature(pt(1, 1), {"kind": "tree", "v": True}),
        Feature(pt(2, 2), {"kind": "tree", "v": 1}),
        Feature(pt(3, 3), {"kind": "bench", "v": 1.0}),
        Feature(pt(4, 4), {"kind": "tree", "v": 1}),
        Feature(pt(5, 5), {"v": -0.0, "w": 0.0}),
    )
    layer = raw_layer(data)
    assert list(layer.keys) == ["kind", "v", "w"]
    assert len(layer.values) == 7  # tree, True, 1, bench, 1.0, -0.0, 0.0
    values = [f["properties"]["v"] for f in features(data)]
    assert values == [True, 1, 1.0, 1, -0.0]
    assert [type(v) for v in values[:3]] == [bool, int, float]
    assert math.copysign(1, values[4]) == -1


def test_keys_are_strings() -> None:
    [feature] = features(tile(Feature(pt(1, 1), {1: "one", "two": 2})))  # type: ignore[dict-item]
    assert feature["properties"] == {"1": "one", "two": 2}


def test_feature_without_id_has_no_id_field_and_bad_ids_are_refused() -> None:
    layer = raw_layer(tile(Feature(pt(1, 1), {}), Feature(pt(2, 2), {}, id=2**64 - 1)))
    assert not layer.features[0].HasField("id")
    assert layer.features[1].id == 2**64 - 1
    with pytest.raises(ValueError, match="feature ids"):
        tile(Feature(pt(1, 1), {}, id=-1))


def test_lines_lose_repeated_points_and_collapsed_lines() -> None:
    data = tile(
        Feature(LineString([lonlat(10, 10), lonlat(10.2, 10.1), lonlat(20, 10)]), {}, id=1),
        Feature(LineString([lonlat(10, 10), lonlat(10.3, 10.2)]), {}, id=2),  # one point
        Feature(
            MultiLineString([[lonlat(0, 0), lonlat(5, 5)], [lonlat(7, 7), lonlat(7.1, 7.1)]]),
            {},
            id=3,
        ),
    )
    got = {f["id"]: f["geometry"] for f in features(data)}
    assert got == {
        1: {"type": "LineString", "coordinates": [[10, 10], [20, 10]]},
        3: {"type": "LineString", "coordinates": [[0, 0], [5, 5]]},
    }


def test_polygon_with_hole_and_winding_order() -> None:
    outer = [(100, 100), (1000, 100), (1000, 1000), (100, 1000)]
    hole = [(400, 400), (600, 400), (600, 600), (400, 600)]
    # Given both ways round: the encoder must orient the rings itself.
    data = tile(
        Feature(poly(outer, hole), {}, id=1),
        Feature(poly(outer[::-1], hole[::-1]), {}, id=2),
    )
    first, second = features(data)
    assert first["geometry"] == {
        "type": "Polygon",
        "coordinates": [
            [[100, 100], [1000, 100], [1000, 1000], [100, 1000], [100, 100]],
            [[400, 600], [600, 600], [600, 400], [400, 400], [400, 600]],
        ],
    }
    for feature in (first, second):
        ext, inner = feature["geometry"]["coordinates"]
        assert signed_area(ext[:-1]) > 0 > signed_area(inner[:-1])  # clockwise, y down
        assert sorted(map(tuple, ext[:-1])) == sorted(outer)
        assert sorted(map(tuple, inner[:-1])) == sorted(hole)


def test_multipolygon_is_one_feature_with_several_parts() -> None:
    shape = MultiPolygon(
        [
            poly([(0, 0), (50, 0), (50, 50), (0, 50)]),
            poly([(100, 100), (300, 100), (300, 300), (100, 300)], [(150, 150), (150, 200),
                                                                    (200, 200), (200, 150)]),
        ]
    )
    [feature] = features(tile(Feature(shape, {"name": "two"}, id=9)))
    assert feature["id"] == 9 and feature["geometry"]["type"] == "MultiPolygon"
    first, second = feature["geometry"]["coordinates"]
    assert first == [[[0, 0], [50, 0], [50, 50], [0, 50], [0, 0]]]
    assert second[0] == [[100, 100], [300, 100], [300, 300], [100, 300], [100, 100]]
    assert signed_area(second[1][:-1]) < 0


def test_features_outside_the_tile_and_its_buffer_are_left_out() -> None:
    data = tile(
        Feature(Point(2.35, 48.85), {}, id=1),  # Paris
        Feature(pt(-30, 2000), {}, id=2),  # in the 64-unit buffer
        Feature(pt(-100, 2000), {}, id=3),  # beyond it
        Feature(poly([(4200, 0), (4300, 0), (4300, 100)]), {}, id=4),  # next tile along
        Feature(LineString([lonlat(-500, -500), lonlat(-200, -100)]), {}, id=5),
        Feature(MultiPoint([lonlat(10, 20), lonlat(5000, 20)]), {}, id=6),  # half outside
    )
    assert [(f["id"], f["geometry"]["coordinates"]) for f in features(data)] == [
        (2, [-30, 2000]),
        (6, [10, 20]),
    ]
    # With no buffer, the point in the margin goes too: the tile is empty.
    assert tile(Feature(pt(-30, 2000), {}), buffer=0) == b""


def test_polygon_larger_than_the_tile_is_clipped_to_the_buffer() -> None:
    [feature] = features(tile(Feature(box(-10, 40, 10, 60), {"big": True})))
    [ring] = feature["geometry"]["coordinates"]
    assert sorted(map(tuple, ring[:-1])) == [(-64, -64), (-64, 4160), (4160, -64), (4160, 4160)]
    assert signed_area(ring[:-1]) > 0
    [feature] = features(tile(Feature(box(-10, 40, 10, 60), {}), buffer=0))
    assert sorted(map(tuple, feature["geometry"]["coordinates"][0][:-1])) == [
        (0, 0), (0, 4096), (4096, 0), (4096, 4096)
    ]


def test_a_line_crossing_the_tile_is_cut_at_the_buffer() -> None:
    [feature] = features(tile(Feature(LineString([lonlat(-1000, 100), lonlat(5000, 100)]), {})))
    assert feature["geometry"]["coordinates"] == [[-64, 100], [4160, 100]]


def test_degenerate_rings_are_dropped_after_quantising() -> None:
    sliver = poly([(10, 10), (10.2, 10.1), (10.1, 10.3)])  # all one tile unit
    flat = poly([(10, 10), (20, 10), (30, 10.2)])  # zero area once rounded
    tiny_hole = poly([(0, 0), (100, 0), (100, 100), (0, 100)], [(50, 50), (50.2, 50), (50, 50.3)])
    data = tile(Feature(sliver, {}, id=1), Feature(flat, {}, id=2), Feature(tiny_hole, {}, id=3))
    [feature] = features(data)
    assert feature["id"] == 3
    assert feature["geometry"]["coordinates"] == [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]]


def test_invalid_geometries_are_repaired_not_fatal() -> None:
    bowtie = Polygon([lonlat(0, 0), lonlat(100, 100), lonlat(100, 0), lonlat(0, 100)])
    assert not bowtie.is_valid
    # GEOS's make_valid itself gives up on a collapsed exterior with a hole: that one is skipped.
    hopeless = poly([(0, 0), (0, 0), (0, 0)], [(0, 1), (0, 2), (1, 0)])
    with pytest.raises(shapely.errors.GEOSException):
        shapely.make_valid(hopeless)
    [feature] = features(tile(Feature(bowtie, {}, id=1), Feature(hopeless, {}, id=2)))
    assert feature["id"] == 1 and feature["geometry"]["type"] == "MultiPolygon"
    for (ring,) in feature["geometry"]["coordinates"]:
        assert signed_area(ring[:-1]) > 0


def test_a_polygon_repaired_into_a_line_is_dropped_not_drawn_as_a_line() -> None:
    flat = Polygon([lonlat(0, 0), lonlat(10, 0), lonlat(20, 0)])
    assert shapely.make_valid(flat).geom_type == "MultiLineString"
    assert tile(Feature(flat, {}), Feature(MultiPolygon([flat]), {})) == b""


def test_missing_and_empty_geometries_are_skipped() -> None:
    data = tile(Feature(None, {}, id=1), Feature(Polygon(), {}, id=2), Feature(pt(5, 5), {}, id=3))
    assert [f["id"] for f in features(data)] == [3]


def test_geometry_collections_keep_their_highest_dimension() -> None:
    square = poly([(0, 0), (10, 0), (10, 10), (0, 10)])
    data = tile(
        Feature(GeometryCollection([pt(50, 50), square]), {}, id=1),
        Feature(GeometryCollection([pt(50, 50), pt(60, 60)]), {}, id=2),
        Feature(GeometryCollection([pt(1, 1), LineString([lonlat(0, 0), lonlat(9, 0)])]), {}, id=3),
        Feature(GeometryCollection([GeometryCollection([pt(7, 7)])]), {}, id=4),
        Feature(GeometryCollection(), {}, id=5),
    )
    assert [(f["id"], f["geometry"]) for f in features(data)] == [
        (1, {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}),
        (2, {"type": "MultiPoint", "coordinates": [[50, 50], [60, 60]]}),
        (3, {"type": "LineString", "coordinates": [[0, 0], [9, 0]]}),
        (4, {"type": "Point", "coordinates": [7, 7]}),
    ]


def test_feature_order_is_kept_across_geometry_types() -> None:
    data = tile(
        Feature(poly([(0, 0), (10, 0), (10, 10)]), {}, id=1),
        Feature(pt(5, 5), {}, id=2),
        Feature(LineString([lonlat(0, 0), lonlat(9, 9)]), {}, id=3),
        Feature(pt(6, 6), {}, id=4),
    )
    assert [f["id"] for f in features(data)] == [1, 2, 3, 4]


def test_empty_tiles_are_empty_bytes() -> None:
    assert encode_tile([], Z, X, Y) == b""
    assert encode_tile([Layer("nothing", [])], Z, X, Y) == b""
    assert tile(Feature(Point(2.35, 48.85), {})) == b""
    assert decode(b"") == {}
    # Only the layer with something in it is written.
    data = encode_tile([Layer("a", []), Layer("b", [Feature(pt(1, 1), {})])], Z, X, Y)
    assert list(decode(data)) == ["b"]


def test_several_layers_and_extent() -> None:
    data = encode_tile(
        [Layer("points", [Feature(pt(2048, 1024), {})]), Layer("más", [Feature(pt(0, 0), {})])],
        Z,
        X,
        Y,
        extent=512,
        buffer=8,
    )
    decoded = decode(data)
    assert list(decoded) == ["points", "más"]
    assert decoded["points"]["extent"] == 512
    assert decoded["points"]["features"][0]["geometry"]["coordinates"] == [256, 128]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        encode_tile([Layer("a", []), Layer("a", [])], Z, X, Y)
    with pytest.raises(ValueError, match="extent"):
        encode_tile([], Z, X, Y, extent=0)
    with pytest.raises(ValueError, match="buffer"):
        encode_tile([], Z, X, Y, buffer=-1)


def test_many_features_in_one_tile() -> None:
    rng = np.random.default_rng(7)
    points = shapely.points([lonlat(*p) for p in rng.uniform(0, 4096, (5000, 2))])
    centres = [lonlat(*p) for p in rng.uniform(0, 4096, (1000, 2))]
    polygons = shapely.buffer(shapely.points(centres), 0.0005, quad_segs=4)
    data = encode_tile(
        [
            Layer("points", [Feature(p, {"n": i, "even": i % 2 == 0}, id=i)
                             for i, p in enumerate(points)]),
            Layer("polygons", [Feature(p, {"name": f"p{i % 10}"}, id=i)
                               for i, p in enumerate(polygons)]),
        ],
        Z,
        X,
        Y,
    )
    decoded = decode(data)
    assert [f["id"] for f in decoded["points"]["features"]] == list(range(5000))
    assert decoded["points"]["features"][4999]["properties"] == {"n": 4999, "even": False}
    assert len(decoded["polygons"]["features"]) == 1000
    assert len(raw_layer_named(data, "polygons").values) == 10
    for feature in decoded["polygons"]["features"]:
        [ring] = feature["geometry"]["coordinates"]
        assert signed_area(ring[:-1]) > 0


def raw_layer_named(data: bytes, name: str) -> Any:
    message = vector_tile_pb2.tile()
    message.ParseFromString(data)
    return next(layer for layer in message.layers if layer.name == name)


# -- property-based -------------------------------------------------------------------------


@st.composite
def tile_and_points(draw: st.DrawFn) -> tuple[int, int, int, list[tuple[float, float]]]:
    z = draw(st.integers(0, MAX_ZOOM))
    x, y = draw(st.integers(0, 2**z - 1)), draw(st.integers(0, 2**z - 1))
    minlon, minlat, maxlon, maxlat = tile_bounds_lonlat(z, x, y)
    unit = st.floats(0, 1)
    fractions = draw(st.lists(st.tuples(unit, unit), min_size=1, max_size=50))
    return z, x, y, [(minlon + a * (maxlon - minlon), minlat + b * (maxlat - minlat))
                     for a, b in fractions]


@settings(max_examples=200, deadline=None)
@given(tile_and_points())
def test_every_point_inside_the_tile_round_trips(
    case: tuple[int, int, int, list[tuple[float, float]]],
) -> None:
    z, x, y, points = case
    data = encode_tile(
        [Layer("p", [Feature(Point(p), {}, id=i) for i, p in enumerate(points)])], z, x, y
    )
    got = {f["id"]: f["geometry"]["coordinates"] for f in features(data, "p")}
    assert sorted(got) == list(range(len(points)))
    # The reference position comes from pyproj and the metre bounds, not the encoder's maths.
    minx, miny, maxx, maxy = tile_bounds_3857(z, x, y)
    for i, (lon, lat) in enumerate(points):
        mx, my = TO_3857.transform(lon, lat)
        expected = ((mx - minx) / (maxx - minx) * 4096, (maxy - my) / (maxy - miny) * 4096)
        assert abs(got[i][0] - expected[0]) <= 1 and abs(got[i][1] - expected[1]) <= 1


RING = st.lists(st.tuples(st.floats(-300, 4400), st.floats(-300, 4400)), min_size=3, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(RING, st.lists(RING, max_size=2)), min_size=1, max_size=10))
def test_random_polygons_are_repaired_clipped_and_oriented(
    shapes: list[tuple[list[tuple[float, float]], list[list[tuple[float, float]]]]],
) -> None:
    # Random vertex lists are mostly self-intersecting (and random holes stray outside their
    # exterior): they all go through make_valid and clipping.
    data = tile(*(Feature(poly(ring, *holes), {}, id=i) for i, (ring, holes) in enumerate(shapes)))
    for feature in features(data) if data else []:
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        coordinates = geometry["coordinates"]
        polygons = [coordinates] if geometry["type"] == "Polygon" else coordinates
        parts = []
        for exterior, *holes in polygons:
            assert signed_area(exterior[:-1]) > 0
            assert all(signed_area(hole[:-1]) < 0 for hole in holes)
            assert all(-64 <= c <= 4160 for point in exterior for c in point)
            parts.append(Polygon(exterior, [hole[:-1] for hole in holes]))
        # A hole written clockwise would decode as an extra polygon on top of its exterior:
        # the parts of a repaired polygon overlap by no more than rounding slivers (which can
        # also make a part invalid, hence make_valid here).
        valid = shapely.make_valid(np.array(parts, object))
        overlap = shapely.area(valid).sum() - shapely.union_all(valid).area
        assert overlap <= shapely.length(valid).sum() + 4

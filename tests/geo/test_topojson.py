from shapely.geometry import shape

from citydata.geo import topojson

# A unit square split into two triangles sharing the diagonal arc 1, quantized with a
# transform; the second triangle walks its arcs backwards (~1 == -2).
TOPOLOGY = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [10.0, 50.0]},
    "arcs": [
        [[0, 0], [2, 0], [0, 4]],  # (10,50) → (11,50) → (11,51)
        [[2, 4], [-2, -4]],  # (11,51) → (10,50), the diagonal
        [[0, 0], [0, 4], [2, 0]],  # (10,50) → (10,51) → (11,51)
    ],
    "objects": {
        "parts": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "id": "lower", "arcs": [[0, 1]]},
                {"type": "Polygon", "id": "upper", "arcs": [[~2, ~1]], "properties": {"k": 1}},
                {"type": "Point", "id": "pin", "coordinates": [1, 2]},
                {"type": "LineString", "id": "edge", "arcs": [~0]},
                {"type": None, "id": "nothing"},
            ],
        }
    },
}


def test_decode_arcs_delta_and_transform():
    arcs = topojson.decode_arcs(TOPOLOGY)
    assert arcs[0] == [[10.0, 50.0], [11.0, 50.0], [11.0, 51.0]]
    assert arcs[1] == [[11.0, 51.0], [10.0, 50.0]]


def test_polygons_with_shared_and_reversed_arc():
    features = {f["id"]: f for f in topojson.features(TOPOLOGY, "parts")}
    lower = features["lower"]["geometry"]
    upper = features["upper"]["geometry"]
    assert lower["coordinates"] == [[[10.0, 50.0], [11.0, 50.0], [11.0, 51.0], [10.0, 50.0]]]
    # Both arcs walked backwards: arc 2 from (11,51) to (10,50), then the diagonal back up.
    assert upper["coordinates"] == [[[11.0, 51.0], [10.0, 51.0], [10.0, 50.0], [11.0, 51.0]]]
    assert features["upper"]["properties"] == {"k": 1}
    a, b = shape(lower), shape(upper)
    assert a.is_valid and b.is_valid
    assert a.area == b.area == 0.5
    assert a.union(b).area == 1.0  # they tile the square: the shared arc lines up


def test_points_lines_and_null_geometry():
    features = {f["id"]: f for f in topojson.features(TOPOLOGY, "parts")}
    assert features["pin"]["geometry"] == {"type": "Point", "coordinates": [10.5, 50.5]}
    assert features["edge"]["geometry"]["coordinates"] == [[11.0, 51.0], [11.0, 50.0], [10.0, 50.0]]
    assert features["nothing"]["geometry"] is None


def test_untransformed_topology():
    topology = {
        "type": "Topology",
        "arcs": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]],
        "objects": {"t": {"type": "Polygon", "arcs": [[0]]}},
    }
    (feature,) = topojson.features(topology, "t")
    assert shape(feature["geometry"]).area == 0.5


def test_rejects_unknown_object():
    import pytest

    with pytest.raises(ValueError, match="no object"):
        topojson.features(TOPOLOGY, "missing")

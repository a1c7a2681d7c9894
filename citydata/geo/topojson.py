"""A small TopoJSON → GeoJSON decoder (TopoJSON specification 1.0).

Only what the reference data needs: quantized or plain arcs, Polygon / MultiPolygon /
LineString / MultiLineString / Point / MultiPoint / GeometryCollection geometries.
"""

from __future__ import annotations

from typing import Any

Position = list[float]


def decode_arcs(topology: dict[str, Any]) -> list[list[Position]]:
    """Absolute coordinates of every arc.

    With a ``transform`` the arcs are quantized: each position after the first is a delta
    from the previous one, and integer positions are scaled and translated back to the
    original coordinate system.
    """
    transform = topology.get("transform")
    arcs: list[list[Position]] = []
    for arc in topology.get("arcs", []):
        if transform is None:
            arcs.append([[float(p[0]), float(p[1])] for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        decoded: list[Position] = []
        for p in arc:
            x += p[0]
            y += p[1]
            decoded.append([x * sx + tx, y * sy + ty])
        arcs.append(decoded)
    return arcs


def _point(topology: dict[str, Any], position: list[float]) -> Position:
    # Point coordinates are quantized but never delta-encoded.
    transform = topology.get("transform")
    if transform is None:
        return [float(position[0]), float(position[1])]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    return [position[0] * sx + tx, position[1] * sy + ty]


def _line(arcs: list[list[Position]], indexes: list[int]) -> list[Position]:
    """Stitch arcs into one line; a negative index ``~i`` means arc ``i`` reversed.

    Consecutive arcs share their joining position, so it is dropped from all but the first.
    """
    line: list[Position] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        line.extend(arc if not line else arc[1:])
    return line


def _ring(arcs: list[list[Position]], indexes: list[int]) -> list[Position]:
    ring = _line(arcs, indexes)
    if ring and ring[0] != ring[-1]:  # tolerate writers that do not close rings exactly
        ring.append(list(ring[0]))
    return ring


def geometry(
    topology: dict[str, Any], obj: dict[str, Any], arcs: list[list[Position]] | None = None
) -> dict[str, Any] | None:
    """The GeoJSON geometry of one TopoJSON geometry object (``None`` for a null geometry)."""
    if arcs is None:
        arcs = decode_arcs(topology)
    kind = obj.get("type")
    if kind is None:
        return None
    if kind == "GeometryCollection":
        members = [geometry(topology, g, arcs) for g in obj.get("geometries", [])]
        return {"type": kind, "geometries": [g for g in members if g is not None]}
    if kind == "Point":
        return {"type": kind, "coordinates": _point(topology, obj["coordinates"])}
    if kind == "MultiPoint":
        return {"type": kind, "coordinates": [_point(topology, p) for p in obj["coordinates"]]}
    if kind == "LineString":
        return {"type": kind, "coordinates": _line(arcs, obj["arcs"])}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [_line(arcs, line) for line in obj["arcs"]]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": [_ring(arcs, ring) for ring in obj["arcs"]]}
    if kind == "MultiPolygon":
        return {
            "type": kind,
            "coordinates": [[_ring(arcs, ring) for ring in poly] for poly in obj["arcs"]],
        }
    raise ValueError(f"unsupported TopoJSON geometry type: {kind!r}")


def features(topology: dict[str, Any], object_name: str) -> list[dict[str, Any]]:
    """The GeoJSON features of one named object of a topology (a GeometryCollection).

    Each feature keeps the TopoJSON ``id`` and ``properties``.
    """
    if topology.get("type") != "Topology":
        raise ValueError("not a TopoJSON topology")
    try:
        collection = topology["objects"][object_name]
    except KeyError:
        raise ValueError(f"topology has no object {object_name!r}") from None
    arcs = decode_arcs(topology)
    members = (
        collection.get("geometries", [])
        if collection.get("type") == "GeometryCollection"
        else [collection]
    )
    result = []
    for obj in members:
        feature: dict[str, Any] = {
            "type": "Feature",
            "properties": dict(obj.get("properties") or {}),
            "geometry": geometry(topology, obj, arcs),
        }
        if "id" in obj:
            feature["id"] = obj["id"]
        result.append(feature)
    return result

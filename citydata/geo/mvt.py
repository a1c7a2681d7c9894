"""Mapbox Vector Tiles (MVT, specification 2.1) and Web-Mercator tile maths.

Tiles follow the OGC ``WebMercatorQuad`` tile matrix set (EPSG:3857 z/x/y, rows counted from
the north). ``encode_tile`` writes one tile with a small hand-written protobuf writer.
Features are projected straight to tile units (y down) with numpy, repaired with
``make_valid`` where GEOS finds polygons invalid, clipped to the tile plus ``buffer``, and
rounded; repeated points and collapsed parts (one-point lines; rings under three points or of
zero area; holes whose exterior collapsed) are dropped, and so are features left empty. Rings
are oriented on the integer coordinates (exterior: positive surveyor's area, clockwise on
screen; holes the other way). Only the property loop runs per feature in Python: geometry
commands, feature messages and varints are laid out with numpy for a whole layer at once.

* **Empty tiles**: a layer left with no features is omitted, so a tile with nothing in it is
  ``b""``, a valid empty ``Tile`` message (as PostGIS ``ST_AsMVT`` returns).
* **Geometry types** stay as given: what ``make_valid`` or clipping leaves of lower dimension
  (a polygon's stray lines) is dropped. A GeometryCollection becomes one feature of its parts
  of the highest dimension (polygons, else lines, else points), as one MVT feature has one
  type; its other parts are dropped.
* **Property values**: ``str`` → string; ``bool`` → bool; integers → uint (≥ 0) or sint (< 0),
  a string beyond 64 bits; other reals → double; ``None`` → omitted; dates and times → ISO
  8601 string; lists, tuples, dicts → JSON string; anything else (``Decimal``, …) →
  ``str(value)``. Keys and values are deduplicated per layer.
* ``buffer`` is in tile units (of ``extent``): 64 of 4096 is 4 px on a 256 px tile.
* **Errors**: a tile outside the matrix → ``QueryError``; a bad extent or buffer, repeated
  layer names or an id outside uint64 → ``ValueError``. Geometries never raise: one that GEOS
  cannot repair is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from citydata.errors import QueryError

TILE_MATRIX_SET = "WebMercatorQuad"
MAX_ZOOM = 24
# Half the width of the Web-Mercator world in metres: π × the WGS 84 semi-major axis.
ORIGIN_3857 = math.pi * 6378137.0
# Where the square Mercator world ends, north and south (85.0511…°).
MAX_LAT = math.degrees(math.atan(math.sinh(math.pi)))

Ints = npt.NDArray[np.int64]
UInts = npt.NDArray[np.uint64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Projector = Callable[[Floats], Floats]

# Dimension of each shapely type id (Point … MultiPolygon); -1: a collection, decided by parts.
_DIMS = np.array([0, 1, 1, 2, 0, 1, 2, -1])
# Part kinds, ordered so that "kind >= _EXTERIOR" means "a polygon ring".
_POINTS, _LINE, _EXTERIOR, _HOLE = 0, 1, 2, 3
_U64 = 1 << 64
_BYTE = [bytes((i,)) for i in range(128)]
# The smallest value that needs k + 2 bytes as a varint, for k = 0..8.
_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], np.uint64)


@dataclass
class Feature:
    """One feature: a shapely geometry in lon/lat (CRS84 axis order), properties, optional id."""

    geometry: shapely.Geometry
    properties: dict[str, object] = field(default_factory=dict)
    id: int | None = None


@dataclass
class Layer:
    """A named layer of features; names are unique within a tile."""

    name: str
    features: list[Feature]


def check_tile(z: int, x: int, y: int) -> None:
    """Raise ``QueryError`` unless z/x/y names a tile of ``WebMercatorQuad`` up to MAX_ZOOM."""
    for name, value in (("zoom", z), ("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise QueryError(f"Tile {name} must be an integer, not {value!r}")
    if not 0 <= z <= MAX_ZOOM:
        raise QueryError(f"Tile zoom {z} is outside 0..{MAX_ZOOM}")
    last = 2**z - 1
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value <= last:
            raise QueryError(f"Tile {name}={value} is outside 0..{last} at zoom {z}")


def tile_bounds_3857(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of a tile in EPSG:3857 metres."""
    check_tile(z, x, y)
    size = 2 * ORIGIN_3857 / 2**z
    minx, maxy = -ORIGIN_3857 + x * size, ORIGIN_3857 - y * size
    return minx, maxy - size, minx + size, maxy


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minlon, minlat, maxlon, maxlat) of a tile in degrees."""
    check_tile(z, x, y)
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def encode_tile(
    layers: list[Layer], z: int, x: int, y: int, *, extent: int = 4096, buffer: int = 64
) -> bytes:
    """The MVT bytes of tile z/x/y holding ``layers`` (empty layers left out)."""
    check_tile(z, x, y)
    # Capped so that coordinates, deltas and ring areas stay well inside 32/64-bit integers.
    if isinstance(extent, bool) or not isinstance(extent, int) or not 1 <= extent <= 1 << 20:
        raise ValueError(f"extent must be an integer in 1..2**20, not {extent!r}")
    if isinstance(buffer, bool) or not isinstance(buffer, int) or not 0 <= buffer <= extent:
        raise ValueError(f"buffer must be an integer in 0..extent, not {buffer!r}")
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise ValueError("layer names must be unique within a tile")
    project = _projector(z, x, y, extent)
    out = []
    for layer in layers:
        body = _encode_layer(layer, project, extent, buffer)
        if body:
            out.append(_len_field(26, body))  # Tile.layers = 3
    return b"".join(out)


def _projector(z: int, x: int, y: int, extent: int) -> Projector:
    """lon/lat (N, 2) → tile units (N, 2), y down, the tile's top-left corner at (0, 0)."""
    n = 2**z

    def project(lonlat: Floats) -> Floats:
        lon = lonlat[:, 0]
        # Clamped so the poles stay finite: beyond ±85.05° lies on the world's edge.
        lat = np.radians(np.clip(lonlat[:, 1], -MAX_LAT, MAX_LAT))
        # Subtracting the tile's column/row before scaling keeps the significant digits.
        px = ((lon + 180.0) / 360.0 * n - x) * extent
        py = ((1.0 - np.arcsinh(np.tan(lat)) / np.pi) / 2.0 * n - y) * extent
        return np.column_stack((px, py))

    return project


def _encode_layer(layer: Layer, project: Projector, extent: int, buffer: int) -> bytes | None:
    if not layer.features:
        return None
    geoms = np.fromiter((f.geometry for f in layer.features), object, len(layer.features))
    lo, hi = -buffer, extent + buffer
    # Web Mercator maps lon and lat separately and monotonically, so a lon/lat bounding box
    # projects onto the projected one: a cheap test before touching any coordinates. Empty or
    # missing geometries have NaN bounds and fail it.
    bounds = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):
        sw, ne = project(bounds[:, :2]), project(bounds[:, 2:])
        near = (ne[:, 0] >= lo) & (sw[:, 0] <= hi) & (sw[:, 1] >= lo) & (ne[:, 1] <= hi)
    keep = np.flatnonzero(near)
    if not keep.size:
        return None
    g = geoms[keep]
    types = shapely.get_type_id(g)
    # (Multi)Points need no shapely work: _geometry_ints projects and clips their coordinates.
    raw = (types == 0) | (types == 4)
    if not raw.all():
        with np.errstate(invalid="ignore", over="ignore"):
            shaped = shapely.transform(g[~raw], project)
        # Only polygons are worth the (costly) validity check: a bad line just gets clipped.
        bad = np.isin(types[~raw], (3, 6, 7)) & ~shapely.is_valid(shaped)
        if bad.any():
            shaped[bad] = _each_or_none(shapely.make_valid, shaped[bad])
        g[~raw] = _each_or_none(lambda a: shapely.clip_by_rect(a, lo, lo, hi, hi), shaped)
    found = _geometry_ints(g, _DIMS[types], raw, project, lo, hi)
    if found is None:
        return None
    feats, geom_types, geometry, geometry_counts = found
    chosen = [layer.features[i] for i in keep[feats].tolist()]

    given = [feature.id for feature in chosen]
    ids = [0 if fid is None else fid for fid in given]
    if min(ids) < 0 or max(ids) >= _U64:  # Feature.id is a uint64
        raise ValueError("feature ids must be integers in 0..2**64-1")
    keys: dict[str, int] = {}
    values: dict[bytes, int] = {}
    # Value → index for the common exact types, in front of encoding and deduplicating by
    # bytes; bool is kept apart from int because True == 1.
    seen: dict[type, dict[Any, int]] = {str: {}, int: {}, float: {}, bool: {}}
    tags: list[int] = []
    tag_counts: list[int] = []
    count, key_index, kind_index = tag_counts.append, keys.get, seen.get  # the hot loop
    for feature in chosen:
        if not feature.properties:
            count(0)
            continue
        before = len(tags)
        for key, value in feature.properties.items():
            if value is None:
                continue
            ki = key_index(key)
            if ki is None:
                ki = keys.setdefault(str(key), len(keys))
            known = kind_index(value.__class__)
            vi = None if known is None else known.get(value)
            if vi is None:
                vi = values.setdefault(_encode_value(value), len(values))
                if known is not None and not (value == 0 and value.__class__ is float):
                    known[value] = vi  # (0.0 == -0.0, but they encode differently)
            tags += (ki, vi)
        count(len(tags) - before)

    block = _features_block(
        np.array(ids, np.uint64), np.array([fid is not None for fid in given]),
        np.array(tags, np.uint64), np.array(tag_counts, np.int64), geom_types, geometry,
        geometry_counts,
    )
    parts = [_len_field(10, layer.name.encode("utf-8", "replace")), block]  # Layer.name = 1
    parts += [_len_field(26, k.encode("utf-8", "replace")) for k in keys]  # Layer.keys = 3
    parts += [_len_field(34, v) for v in values]  # Layer.values = 4
    parts.append(b"\x28" + _varint(extent))  # Layer.extent = 5
    parts.append(b"\x78\x02")  # Layer.version = 15: 2
    return b"".join(parts)


def _geometry_ints(
    g: npt.NDArray[Any], dims: Ints, raw: Bools, project: Projector, lo: int, hi: int
) -> tuple[Ints, UInts, UInts, Ints] | None:
    """Command integers for geometries, laid out feature after feature.

    ``g`` holds clipped tile-unit geometries, except where ``raw``: (Multi)Points in lon/lat;
    ``dims`` is each feature's dimension as given (-1 for collections). Returns the indices
    (into ``g``) of the surviving features, their MVT geometry types, all their command
    integers, and how many belong to each feature.
    """
    # Flatten Multi* and (nested) collections into single parts, remembering their feature.
    parts, owner = g, np.arange(len(g))
    while (shapely.get_type_id(parts) >= 4).any():
        parts, i = shapely.get_parts(parts, return_index=True)
        owner = owner[i]
    t = shapely.get_type_id(parts)
    real = (t >= 0) & ~shapely.is_empty(parts)
    parts, owner, t = parts[real], owner[real], t[real]
    dim = _DIMS[t]
    top = np.full(len(g), -1)
    np.maximum.at(top, owner, dim)
    # A polygon stays a polygon: lines left over by make_valid or clipping are dropped.
    top = np.where(dims >= 0, dims, top)
    best = dim == top[owner]
    parts, owner, t = parts[best], owner[best], t[best]

    # Polygons become their rings; the first ring of each polygon is its exterior.
    poly = t == 3
    rings, ring_poly = shapely.get_rings(parts[poly], return_index=True)
    exterior = np.ones(len(rings), bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    units = np.concatenate([parts[~poly], rings])
    feat = np.concatenate([owner[~poly], owner[poly][ring_poly]])
    kind = np.concatenate([np.where(t[~poly] == 0, _POINTS, _LINE), 2 + ~exterior])
    upoly = np.concatenate([np.full((~poly).sum(), -1), ring_poly])
    order = np.argsort(feat, kind="stable")  # one dimension per feature, so parts keep order
    units, feat, kind, upoly = units[order], feat[order], kind[order], upoly[order]
    # A feature's points form one MoveTo; every line or ring is its own group.
    new = np.ones(len(units), bool)
    new[1:] = (feat[1:] != feat[:-1]) | (kind[1:] != _POINTS)
    ugroup = np.cumsum(new) - 1
    gfeat, gkind, gpoly = feat[new], kind[new], upoly[new]

    xy, ui = shapely.get_coordinates(units, return_index=True)
    cg = ugroup[ui]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(xy).all(axis=1)
        unprojected = np.flatnonzero(raw[gfeat[cg]])
        if len(unprojected):  # (Multi)Point coordinates: projected, then clipped inclusively
            xy[unprojected] = p = project(xy[unprojected])
            ok[unprojected] &= ((p >= lo) & (p <= hi)).all(axis=1)
    if not ok.all():
        xy, cg = xy[ok], cg[ok]
    q = np.rint(xy).astype(np.int64)
    dup = np.zeros(len(q), bool)
    dup[1:] = (cg[1:] == cg[:-1]) & (q[1:] == q[:-1]).all(axis=1)
    if dup.any():
        q, cg = q[~dup], cg[~dup]
    # MVT rings are implicitly closed (ClosePath), so drop the repeated first point.
    starts, counts = _runs(cg)
    ends = starts + counts - 1
    closing = (gkind[cg[starts]] >= _EXTERIOR) & (counts > 1) & (q[ends] == q[starts]).all(1)
    keep = np.ones(len(q), bool)
    keep[ends[closing]] = False
    q, cg = q[keep], cg[keep]

    starts, counts = _runs(cg)
    gid = cg[starts]
    k = gkind[gid]
    # Twice the surveyor's area of each ring (exact in integers), wrapping last → first.
    nxt = np.arange(1, len(q) + 1)
    nxt[starts + counts - 1] = starts
    cross = q[:, 0] * q[nxt, 1] - q[nxt, 0] * q[:, 1]
    area = np.add.reduceat(cross, starts) if len(q) else np.zeros(0, np.int64)
    ok = np.where(k == _POINTS, counts >= 1, np.where(k == _LINE, counts >= 2, counts >= 3))
    ok &= (k < _EXTERIOR) | (area != 0)
    # A hole whose exterior collapsed has nothing to be a hole in.
    ext_ok = np.zeros(max(int(gpoly.max(initial=-1)) + 1, 1), bool)
    ext_ok[gpoly[gid[(k == _EXTERIOR) & ok]]] = True
    ok &= (k < _EXTERIOR) | ext_ok[np.maximum(gpoly[gid], 0)]
    if not ok.any():
        return None
    flip = ((k == _EXTERIOR) & (area < 0)) | ((k == _HOLE) & (area > 0))
    if flip.any():  # reverse those rings in place
        index = np.arange(len(q))
        mirror = 2 * np.repeat(starts, counts) + np.repeat(counts, counts) - 1 - index
        q = q[np.where(np.repeat(flip, counts), mirror, index)]
    if not ok.all():
        q = q[np.repeat(ok, counts)]
    k, counts, gf = k[ok], counts[ok], gfeat[gid[ok]]

    # Deltas from the previous point of the same feature (the cursor starts at 0, 0 per
    # feature and carries across its parts), zigzag-encoded.
    cf = np.repeat(gf, counts)
    fresh = np.ones(len(q), bool)
    fresh[1:] = cf[1:] != cf[:-1]
    d = q.copy()
    d[1:] -= q[:-1]
    d[fresh] = q[fresh]
    zz = ((d << 1) ^ (d >> 63)).view(np.uint64)
    # Per group: MoveTo(n) + n pairs for points; MoveTo(1) pair LineTo(n-1) pairs for lines;
    # the same plus ClosePath for rings.
    size = 2 * counts + np.where(k == _POINTS, 1, np.where(k == _LINE, 2, 3))
    gs = np.cumsum(size) - size
    ints = np.empty(int(size.sum()), np.uint64)
    ints[gs] = np.where(k == _POINTS, (counts << 3) | 1, 9)
    joined = k != _POINTS
    ints[gs[joined] + 3] = ((counts[joined] - 1) << 3) | 2
    ring = k >= _EXTERIOR
    ints[gs[ring] + 2 * counts[ring] + 2] = 15
    j = np.arange(len(q)) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.repeat(gs, counts) + 1 + 2 * j + ((j >= 1) & np.repeat(joined, counts))
    ints[pos], ints[pos + 1] = zz[:, 0], zz[:, 1]
    fstarts, _ = _runs(gf)
    feats = gf[fstarts]
    return feats, (top[feats] + 1).astype(np.uint64), ints, np.add.reduceat(size, fstarts)


def _each_or_none(func: Callable[[Any], Any], geoms: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``func`` on all of ``geoms``, or one by one with None where GEOS gives up (make_valid
    does on, e.g., a collapsed exterior with a hole)."""
    try:
        return func(geoms)
    except shapely.errors.GEOSException:
        out = np.empty(len(geoms), object)
        for i, geom in enumerate(geoms):
            try:
                out[i] = func(geom)
            except shapely.errors.GEOSException:
                out[i] = None
        return out


def _runs(labels: Ints) -> tuple[Ints, Ints]:
    """Start index and length of each run of equal labels."""
    if not len(labels):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    return starts, np.diff(np.r_[starts, len(labels)])


def _features_block(
    ids: UInts, has_id: Bools, tags: UInts, tag_counts: Ints, types: UInts, geometry: UInts,
    geometry_counts: Ints,
) -> bytes:
    """Every ``Layer.features`` entry, written as one varint sequence.

    Field keys, lengths and payloads of these messages are all varints, so each feature is
    laid out as integers (its lengths computed from varint sizes) and packed in one go.
    """
    has_tags = tag_counts > 0
    tag_len = _segment_sums(_varint_sizes(tags), tag_counts)
    geom_len = _segment_sums(_varint_sizes(geometry), geometry_counts)
    feature_len = (  # id key and value, tags key, length and ints, type, geometry likewise
        has_id * (1 + _varint_sizes(ids)) + has_tags * (1 + _varint_sizes(tag_len) + tag_len)
        + 2 + 1 + _varint_sizes(geom_len) + geom_len
    )
    n = 2 + 2 * has_id + has_tags * (2 + tag_counts) + 4 + geometry_counts
    s = np.cumsum(n) - n
    out = np.empty(int(n.sum()), np.uint64)
    out[s], out[s + 1] = 18, feature_len  # Layer.features = 2
    p = s + 2
    out[p[has_id]], out[p[has_id] + 1] = 8, ids[has_id]  # Feature.id = 1
    p = p + 2 * has_id
    out[p[has_tags]], out[p[has_tags] + 1] = 18, tag_len[has_tags]  # Feature.tags = 2
    out[_ragged(p + 2, tag_counts)] = tags
    p = p + has_tags * (2 + tag_counts)
    out[p], out[p + 1] = 24, types  # Feature.type = 3
    out[p + 2], out[p + 3] = 34, geom_len  # Feature.geometry = 4
    out[_ragged(p + 4, geometry_counts)] = geometry
    return _pack_varints(out)


def _ragged(starts: Ints, counts: Ints) -> Ints:
    """Indices starts[i] + 0..counts[i]-1 for every i, concatenated."""
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))


def _segment_sums(values: Ints, counts: Ints) -> Ints:
    """Sums of consecutive segments of ``values`` with the given (possibly zero) lengths."""
    total = np.concatenate(([0], np.cumsum(values)))
    end = np.cumsum(counts)
    return total[end] - total[end - counts]


def _varint_sizes(values: npt.NDArray[Any]) -> Ints:
    return np.searchsorted(_VARINT_LIMITS, values, side="right") + 1


def _pack_varints(values: UInts) -> bytes:
    """Base-128 varints of ``values`` back to back: seven bits a byte, low bits first."""
    if not len(values):
        return b""
    left = _varint_sizes(values)
    ends = np.cumsum(left)
    out = np.empty(int(ends[-1]), np.uint8)
    at, rest = ends - left, values.astype(np.uint64, copy=False)
    # Byte by byte, over only the values that still have bits left (most need one byte).
    while len(at):
        more = left > 1
        out[at] = (rest & 0x7F).astype(np.uint8) | (more.astype(np.uint8) << 7)
        still = np.flatnonzero(more)
        at, rest, left = at[still] + 1, rest[still] >> np.uint64(7), left[still] - 1
    return out.tobytes()


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _BYTE[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(key: int, payload: bytes) -> bytes:
    return _BYTE[key] + _varint(len(payload)) + payload


def _string_value(text: str) -> bytes:
    return _len_field(10, text.encode("utf-8", "replace"))  # Value.string_value = 1


def _encode_value(value: object) -> bytes:
    """One ``Tile.Value`` message."""
    # Concrete types first: the numbers ABCs are slower and only needed for the rest.
    if isinstance(value, str):
        return _string_value(value)
    if isinstance(value, bool | np.bool_):
        return b"\x38\x01" if value else b"\x38\x00"  # bool_value = 7
    if isinstance(value, float):
        return b"\x19" + struct.pack("<d", value)  # double_value = 3
    if isinstance(value, int):
        if 0 <= value < _U64:
            return b"\x28" + _varint(value)  # uint_value = 5
        if -(1 << 63) <= value < 0:
            return b"\x30" + _varint(-2 * value - 1)  # sint_value = 6, zigzag
        return _string_value(str(value))  # no MVT integer type holds it
    if isinstance(value, numbers.Integral):  # numpy integers, …
        return _encode_value(int(value))
    if isinstance(value, numbers.Real):  # numpy float32, Fraction, …
        return _encode_value(float(value))
    if isinstance(value, dt.date | dt.time):
        return _string_value(value.isoformat())
    if isinstance(value, list | tuple | dict):
        try:
            return _string_value(json.dumps(value, ensure_ascii=False, default=str))
        except (TypeError, ValueError):  # e.g. tuple keys or a circular reference
            pass
    return _string_value(str(value))

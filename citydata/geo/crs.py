"""Coordinate reference systems the OGC API serves, and the bbox/coordinate checks around them.

Features are stored in CRS84 (WGS84 longitude, latitude). OGC API – Features Part 2 lets a
client ask for another CRS (``crs``) and give its ``bbox`` in one (``bbox-crs``); London data
is mostly published in British National Grid, so that and EPSG:4326 (latitude first, as the
EPSG register defines its axis order) are offered besides CRS84.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Transformer

from citydata.errors import QueryError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
WEB_MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"


@dataclass(frozen=True)
class Crs:
    uri: str
    epsg: str  # what pyproj understands
    #: The coordinate order of this CRS's axes is (lat, lon) rather than (x, y).
    lat_first: bool
    #: Valid range of (x, y) in this CRS's own axis order, to refuse absurd input early.
    bounds: tuple[float, float, float, float]
    title: str


SUPPORTED: dict[str, Crs] = {
    CRS84: Crs(CRS84, "OGC:CRS84", False, (-180, -90, 180, 90), "WGS 84 longitude/latitude"),
    EPSG4326: Crs(EPSG4326, "EPSG:4326", True, (-90, -180, 90, 180), "WGS 84 (latitude first)"),
    BNG: Crs(BNG, "EPSG:27700", False, (-1e6, -1e6, 2e6, 2.5e6), "British National Grid"),
    WEB_MERCATOR: Crs(WEB_MERCATOR, "EPSG:3857", False,
                      (-20037508.35, -20048966.11, 20037508.35, 20048966.11),
                      "Web Mercator"),
}
#: Short spellings clients use, mapped to the URIs.
ALIASES = {
    "crs84": CRS84, "ogc:crs84": CRS84, "epsg:4326": EPSG4326, "4326": EPSG4326,
    "epsg:27700": BNG, "27700": BNG, "epsg:3857": WEB_MERCATOR, "3857": WEB_MERCATOR,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "[ogc:crs84]": CRS84, "[epsg:4326]": EPSG4326, "[epsg:27700]": BNG,
}  # fmt: skip


def parse_crs(value: str | None, param: str) -> Crs:
    """The CRS a ``crs`` or ``bbox-crs`` parameter names (default CRS84); 400 otherwise."""
    if value is None or value == "":
        return SUPPORTED[CRS84]
    key = value.strip()
    uri = key if key in SUPPORTED else ALIASES.get(key.lower())
    if uri is None:
        raise QueryError(
            f"{param}: the CRS {value[:200]!r} is not supported; use one of "
            + ", ".join(SUPPORTED),
            fields={param: ["Unsupported CRS"]},
        )
    return SUPPORTED[uri]


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_lonlat(crs: Crs) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised (n, 2) coordinate function from ``crs``'s axis order to lon/lat."""
    if crs.uri == CRS84:
        return lambda xy: xy
    if crs.uri == EPSG4326:
        return lambda xy: xy[:, ::-1]
    t = _transformer(crs.epsg, "OGC:CRS84")

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return fn


def from_lonlat(crs: Crs) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised (n, 2) coordinate function from lon/lat to ``crs``'s axis order."""
    if crs.uri == CRS84:
        return lambda xy: xy
    if crs.uri == EPSG4326:
        return lambda xy: xy[:, ::-1]
    t = _transformer("OGC:CRS84", crs.epsg)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return fn


def reproject(geoms: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return shapely.transform(geoms, fn)


def bng_to_lonlat(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _transformer("EPSG:27700", "OGC:CRS84").transform(easting, northing)
    return np.asarray(lon), np.asarray(lat)


def parse_bbox(value: str, crs: Crs) -> tuple[float, float, float, float]:
    """A ``bbox`` parameter (minx,miny,maxx,maxy in ``crs``'s axis order) as a lon/lat box.

    Refuses what the standard calls invalid: not 4 (2D) numbers, 6 numbers (3D is not
    offered here), NaN, values outside the CRS, min above max. A box crossing the antimeridian
    (west > east in CRS84) is not supported for London data and is refused clearly too."""
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 6:
        raise QueryError("bbox: 3D boxes (6 numbers) are not supported; give minx,miny,maxx,maxy",
                         fields={"bbox": ["3D bbox not supported"]})
    if len(parts) != 4:
        raise QueryError("bbox: give four comma-separated numbers: minx,miny,maxx,maxy",
                         fields={"bbox": ["Four numbers expected"]})
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        raise QueryError(f"bbox: {value[:200]!r} is not four numbers",
                         fields={"bbox": ["Not a number"]}) from None
    if not all(math.isfinite(n) for n in nums):
        raise QueryError("bbox: the numbers must be finite", fields={"bbox": ["Not finite"]})
    x1, y1, x2, y2 = nums
    bx1, by1, bx2, by2 = crs.bounds
    if not (bx1 <= x1 <= bx2 and bx1 <= x2 <= bx2 and by1 <= y1 <= by2 and by1 <= y2 <= by2):
        raise QueryError(
            f"bbox: {value[:200]} is outside the valid range of {crs.title} "
            f"({bx1:g},{by1:g} to {bx2:g},{by2:g})",
            fields={"bbox": ["Out of range"]},
        )
    if x1 > x2 or y1 > y2:
        raise QueryError(
            "bbox: the lower corner comes first (minx,miny,maxx,maxy); this box has "
            + ("minx > maxx" if x1 > x2 else "miny > maxy"),
            fields={"bbox": ["Wrong order"]},
        )
    if crs.uri == CRS84:
        return x1, y1, x2, y2
    # Reproject the box's outline (densified), not just its corners: a grid box is not a
    # lon/lat box, and its edges bulge.
    ring = shapely.segmentize(shapely.box(x1, y1, x2, y2), max(x2 - x1, y2 - y1) / 16 or 1)
    out = shapely.transform(ring, to_lonlat(crs))
    minx, miny, maxx, maxy = shapely.bounds(out)
    return float(minx), float(miny), float(maxx), float(maxy)


def parse_point(value: str, param: str = "near") -> tuple[float, float]:
    """``lon,lat`` in CRS84."""
    parts = [p.strip() for p in value.split(",")]
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise QueryError(f"{param}: give a point as lon,lat (e.g. -0.1276,51.5072)",
                         fields={param: ["lon,lat expected"]}) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
            and -90 <= lat <= 90):
        raise QueryError(f"{param}: lon must be in -180..180 and lat in -90..90",
                         fields={param: ["Out of range"]})
    return lon, lat


def content_crs_header(crs: Crs) -> str:
    return f"<{crs.uri}>"

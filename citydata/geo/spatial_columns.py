"""Where a table's geometry comes from: a geometry column, latitude/longitude, or a grid reference.

Spatial files (GeoJSON, GeoPackage, Shapefile, GeoParquet) are ingested with a ``geometry``
column of GeoJSON text; spreadsheets of places usually carry latitude/longitude or, in the UK,
British National Grid easting/northing. One function decides, so the OGC API, the map preview
and the GeoJSON export agree on which tables are spatial.
"""

from __future__ import annotations

from dataclasses import dataclass

GEOMETRY_NAMES = ("geometry", "geom", "the_geom", "wkt", "shape")
LAT_NAMES = ("lat", "latitude")
LON_NAMES = ("lon", "lng", "long", "longitude")
EASTING_NAMES = ("easting", "eastings", "os_easting", "x_coordinate", "grid_easting", "bng_easting")
NORTHING_NAMES = (
    "northing", "northings", "os_northing", "y_coordinate", "grid_northing", "bng_northing",
)  # fmt: skip
#: Column types a geometry column may have (GeoJSON or WKT text; JSON from a nested read).
_TEXT_TYPES = ("VARCHAR", "JSON")


@dataclass(frozen=True)
class GeometrySource:
    #: "geometry" (GeoJSON or WKT text in one column), "latlon" (WGS84) or "bng" (EPSG:27700).
    kind: str
    columns: tuple[str, ...]

    @property
    def geometry_column(self) -> str | None:
        return self.columns[0] if self.kind == "geometry" else None


def find_geometry(columns: list[tuple[str, str]]) -> GeometrySource | None:
    """The geometry source of a table with these (name, DuckDB type) columns, or None."""
    by_lower = {name.lower(): (name, kind) for name, kind in columns}
    for candidate in GEOMETRY_NAMES:
        hit = by_lower.get(candidate)
        if hit and (hit[1] in _TEXT_TYPES or hit[1].startswith("STRUCT")):
            return GeometrySource("geometry", (hit[0],))
    pair = _pair(by_lower, LON_NAMES, LAT_NAMES)
    if pair:
        return GeometrySource("latlon", pair)
    pair = _pair(by_lower, EASTING_NAMES, NORTHING_NAMES)
    if pair:
        return GeometrySource("bng", pair)
    return None


def _pair(
    by_lower: dict[str, tuple[str, str]], xs: tuple[str, ...], ys: tuple[str, ...]
) -> tuple[str, str] | None:
    x = next((by_lower[n][0] for n in xs if n in by_lower), None)
    y = next((by_lower[n][0] for n in ys if n in by_lower), None)
    return (x, y) if x and y else None

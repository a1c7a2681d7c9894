"""London reference data: boroughs, LSOAs and postcodes — read from installed packages,
loaded into the ``ref_*`` tables, and looked up by the rest of the platform.

Loading is idempotent: each source's fingerprint (package version, file hash, loader
version, options) is kept in ``RefMeta`` and a source whose fingerprint is unchanged is
skipped. Each source loads in one transaction, so a crash never leaves it half-loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from shapely import make_valid
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from citydata.geo import topojson
from citydata.geo.london import BOROUGHS, UnknownBoroughError, gss_for_name
from citydata.geo.postcodes import iter_codepoint, normalise_postcode
from citydata.geo.sources import Source, boroughs_source, lsoas_source, postcodes_source
from citydata.settings import Settings
from citydata.storage.database import Database
from citydata.storage.models import RefBorough, RefLsoa, RefMeta, RefPostcode

#: Bump when the way a source is turned into rows changes, so existing databases reload.
LOADER_VERSION = "1"
BATCH_SIZE = 5000
EXPECTED_LONDON_LSOAS = 4835

#: ``progress(message)`` — called while loading, e.g. "postcodes: 50,000 rows" (CLI output).
Progress = Callable[[str], None]

_LSOA_NAME_RE = re.compile(r"^(?P<district>.+) (?P<msoa>\d{3})(?P<letter>[A-Z])$")


# --- readers (no database) -------------------------------------------------------------


def read_boroughs(settings: Settings) -> list[dict[str, Any]]:
    """The 33 London boroughs in GSS order: ``gss_code, name, geometry`` (GeoJSON dict, WGS84)
    and ``west, south, east, north``. Raises ``UnknownBoroughError`` on an unmatched name."""
    source = boroughs_source(settings)
    topology = json.loads(source.path.read_text(encoding="utf-8"))
    rows: dict[str, dict[str, Any]] = {}
    for feature in topojson.features(topology, "boroughs"):
        name = str(feature.get("id") or feature["properties"].get("name", ""))
        gss = gss_for_name(name)
        geom = shape(feature["geometry"])
        geojson = feature["geometry"]
        if not geom.is_valid:
            # Quantization leaves a few degenerate rings and self-touching edges.
            geom = _polygonal(make_valid(geom))
            geojson = _geojson(geom)
        west, south, east, north = geom.bounds
        rows[gss] = {
            "gss_code": gss,
            "name": BOROUGHS[gss],
            "geometry": geojson,
            "west": west,
            "south": south,
            "east": east,
            "north": north,
        }
    missing = sorted(set(BOROUGHS) - set(rows))
    if missing:
        raise UnknownBoroughError(f"boroughs missing from {source.path}: {missing}")
    return [rows[gss] for gss in BOROUGHS]


def iter_lsoas(settings: Settings) -> Iterator[dict[str, Any]]:
    """London's LSOAs (2011): ``code, name, borough_gss, geometry`` (GeoJSON dict), ``lat, lon``
    (shapely centroid). The borough is the district part of the LSOA name, e.g. "Camden 001A"."""
    source = lsoas_source(settings)
    collection = json.loads(source.path.read_text(encoding="utf-8"))
    crs = (collection.get("crs") or {}).get("properties", {}).get("name", "")
    if crs and "CRS84" not in crs and "4326" not in crs:
        # The packaged file is CRS84 today; refuse silently wrong coordinates if that changes.
        raise ValueError(f"{source.path}: expected WGS84 coordinates, got CRS {crs!r}")
    for feature in collection["features"]:
        props = feature["properties"]
        code, name = props["LSOA11CD"], props["LSOA11NM"]
        match = _LSOA_NAME_RE.match(name)
        if not code.startswith("E01") or not match:
            continue
        try:
            borough = gss_for_name(match["district"])
        except UnknownBoroughError:
            continue  # an LSOA outside London
        centroid = shape(feature["geometry"]).centroid
        yield {
            "code": code,
            "name": name,
            "borough_gss": borough,
            "geometry": feature["geometry"],
            "lat": round(centroid.y, 6),
            "lon": round(centroid.x, 6),
        }


def iter_postcodes(settings: Settings, *, london_only: bool) -> Iterator[dict[str, Any]]:
    """Postcodes with coordinates from OS Code-Point Open: ``postcode, easting, northing,
    lat, lon, district_gss, ward_gss, country``. ``london_only`` keeps districts E09…"""
    return iter_codepoint(postcodes_source(settings).path, london_only=london_only)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygonal parts of a repaired geometry (drops slivers and spikes)."""
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    parts: list[Polygon] = []
    for part in getattr(geom, "geoms", []):
        if isinstance(part, Polygon):
            parts.append(part)
        elif isinstance(part, MultiPolygon):
            parts.extend(part.geoms)
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _geojson(geom: BaseGeometry) -> dict[str, Any]:
    return json.loads(json.dumps(mapping(geom)))  # tuples → lists, like parsed GeoJSON


# --- loading ---------------------------------------------------------------------------


def _fingerprint(source: Source, **options: Any) -> str:
    return json.dumps(
        {
            "package": source.package,
            "version": source.version,
            "sha256": source.sha256(),
            "loader": LOADER_VERSION,
            **options,
        },
        sort_keys=True,
    )


def _meta_key(source: Source) -> str:
    return f"reference:{source.key}"


def _load_source(
    db: Database,
    source: Source,
    table: Any,
    rows: Iterable[dict[str, Any]],
    progress: Progress | None,
    **options: Any,
) -> int | None:
    """Replace one table's rows from a source in one transaction; ``None`` if unchanged."""
    fingerprint = _fingerprint(source, **options)
    with db.session() as session:
        current = session.get(RefMeta, _meta_key(source))
        if current is not None and current.value == fingerprint:
            return None
    count = 0
    with db.session() as session:
        session.execute(delete(table))
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                session.execute(insert(table), batch)
                count += len(batch)
                batch = []
                if progress and count % (BATCH_SIZE * 20) == 0:
                    progress(f"{source.key}: {count:,} rows")
        if batch:
            session.execute(insert(table), batch)
            count += len(batch)
        session.merge(RefMeta(key=_meta_key(source), value=fingerprint))
        session.merge(RefMeta(key=f"{_meta_key(source)}:count", value=str(count)))
        session.merge(RefMeta(key=f"{_meta_key(source)}:attribution", value=source.attribution))
    if progress:
        progress(f"{source.key}: loaded {count:,} rows")
    return count


def _borough_rows(settings: Settings) -> Iterator[dict[str, Any]]:
    for row in read_boroughs(settings):
        yield {**row, "geometry": json.dumps(row["geometry"], separators=(",", ":"))}


def _lsoa_rows(settings: Settings) -> Iterator[dict[str, Any]]:
    count = 0
    for row in iter_lsoas(settings):
        count += 1
        yield {**row, "geometry": json.dumps(row["geometry"], separators=(",", ":"))}
    if count != EXPECTED_LONDON_LSOAS:
        # Raising inside the transaction rolls the whole source back.
        raise ValueError(f"expected {EXPECTED_LONDON_LSOAS} London LSOAs, read {count}")


def _postcode_rows(settings: Settings, london_only: bool) -> Iterator[dict[str, Any]]:
    keep = ("postcode", "easting", "northing", "lat", "lon", "district_gss")
    for row in iter_postcodes(settings, london_only=london_only):
        yield {k: row[k] for k in keep}


def load_reference(db: Database, settings: Settings, *, progress: Progress | None = None) -> dict:
    """Load boroughs, LSOAs and postcodes (per ``settings.postcodes``) into the database.

    Returns ``{source: rows loaded}``; a source whose fingerprint is unchanged reports the
    row count already loaded and is not touched. ``postcodes="none"`` leaves the postcode
    table as it is.
    """
    counts: dict[str, Any] = {}
    plan: list[tuple[Source, Any, Iterable[dict[str, Any]], dict[str, Any]]] = [
        (boroughs_source(settings), RefBorough, _borough_rows(settings), {}),
        (lsoas_source(settings), RefLsoa, _lsoa_rows(settings), {}),
    ]
    if settings.postcodes != "none":
        london_only = settings.postcodes == "london"
        plan.append(
            (
                postcodes_source(settings),
                RefPostcode,
                _postcode_rows(settings, london_only),
                {"scope": settings.postcodes},
            )
        )
    skipped = []
    for source, table, rows, options in plan:
        loaded = _load_source(db, source, table, rows, progress, **options)
        if loaded is None:
            skipped.append(source.key)
            if progress:
                progress(f"{source.key}: up to date")
            with db.session() as session:
                meta = session.get(RefMeta, f"{_meta_key(source)}:count")
                loaded = int(meta.value) if meta else 0
        counts[source.key] = loaded
    counts["skipped"] = skipped
    return counts


# --- lookups ---------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _prepared(geometry_json: str) -> PreparedGeometry:
    # Parsing a borough polygon costs more than the lookup; keyed by its text, so a
    # reload with new geometry simply misses the cache.
    return prep(shape(json.loads(geometry_json)))


def borough_for_point(session: Session, lon: float, lat: float) -> RefBorough | None:
    """The borough containing a WGS84 point, or ``None`` outside London.

    Candidates come from a bounding-box query; shapely decides containment.
    """
    candidates = session.scalars(
        select(RefBorough).where(
            RefBorough.west <= lon,
            RefBorough.east >= lon,
            RefBorough.south <= lat,
            RefBorough.north >= lat,
        )
    ).all()
    point = Point(lon, lat)
    for borough in candidates:
        if _prepared(borough.geometry).covers(point):
            return borough
    return None


def geocode_postcode(session: Session, postcode: str) -> RefPostcode | None:
    """The gazetteer entry for a postcode in any common spelling ("sw1a1aa"), or ``None``."""
    normalised = normalise_postcode(postcode)
    if normalised is None:
        return None
    return session.get(RefPostcode, normalised)

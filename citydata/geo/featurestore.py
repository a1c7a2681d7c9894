"""Feature stores: a spatially indexed copy of a snapshot's features, built once per snapshot.

A tabular snapshot (Parquet, queried with DuckDB) answers attribute questions; "what is in
this box" and "what is nearest" need a spatial index. For every snapshot with a geometry
source, a feature store holds one row per snapshot row: its id (the row position), its
geometry in CRS84 — validated, repaired, with a bounding box — and its properties as JSON.

Two backends, same answers: PostGIS (a table per snapshot with a GiST index) when the
metadata database is PostgreSQL with PostGIS, otherwise a SQLite file per snapshot with an
R*Tree beside the file store. Snapshots are immutable and content-addressed, so a store is
keyed by the snapshot's hash, built at most once and never updated; a build happens in a
transaction (PostGIS) or a temporary file moved into place (SQLite), so a crash leaves no
half-built store behind.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import shapely
from sqlalchemy import Engine

from citydata.datastore.engine import connect, quote_ident, sql_literal_path
from citydata.geo.crs import bng_to_lonlat
from citydata.geo.spatial_columns import GeometrySource, find_geometry

log = logging.getLogger(__name__)

BATCH = 50_000
#: Bumped when the stored layout changes, so stores of an older layout are rebuilt.
LAYOUT = 1
GEOMETRY_TYPES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                  "MultiLineString", "MultiPolygon", "GeometryCollection")  # fmt: skip


@dataclass
class BuildStats:
    rows: int = 0
    with_geometry: int = 0
    repaired: int = 0
    unreadable: int = 0
    out_of_range: int = 0
    types: dict[str, int] = field(default_factory=dict)
    extent: list[float] | None = None

    def warnings(self) -> list[str]:
        out = []
        if self.repaired:
            out.append(f"{self.repaired} invalid geometries (e.g. self-intersecting) were "
                       "repaired for the spatial index")
        if self.unreadable:
            out.append(f"{self.unreadable} geometries could not be read and are left empty")
        if self.out_of_range:
            out.append(f"{self.out_of_range} geometries have coordinates outside longitude "
                       "-180..180 / latitude -90..90 and are left out of the spatial index")
        return out

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> BuildStats:
        known = ("rows", "with_geometry", "repaired", "unreadable", "out_of_range", "types",
                 "extent")
        return cls(**{k: meta[k] for k in known if k in meta})

    def as_meta(self) -> dict[str, Any]:
        return {"layout": LAYOUT, "rows": self.rows, "with_geometry": self.with_geometry,
                "repaired": self.repaired, "unreadable": self.unreadable,
                "out_of_range": self.out_of_range, "types": self.types, "extent": self.extent}


@dataclass
class FeatureBatch:
    fids: np.ndarray  # int64 row positions
    geoms: np.ndarray  # shapely geometries (None where there is none), CRS84
    props: list[str]  # properties as JSON object text


class FeatureStore(Protocol):
    """What the OGC API needs of a spatial backend. Every fid is a snapshot row position."""

    kind: str
    #: What identifies the store's data (its file or table), for caches of its answers.
    key: str

    def meta(self) -> dict[str, Any]:
        """The build statistics: rows, with_geometry, extent, geometry types, repairs."""

    def count_bbox(self, bbox: tuple[float, float, float, float]) -> int:
        """How many features intersect the lon/lat box."""

    def search_bbox(self, bbox: tuple[float, float, float, float] | None, offset: int,
                    limit: int) -> tuple[int, list[int]]:
        """How many features intersect the box (all if None), and one page of their fids."""

    def page_bbox(self, bbox: tuple[float, float, float, float] | None, offset: int,
                  limit: int) -> list[int]:
        """Fids of features intersecting the box (all if None), ascending, one page."""

    def fids_bbox(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Every fid intersecting the box (to combine with attribute filters)."""

    def nearest(self, lon: float, lat: float, k: int,
                among: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k features closest to the point, (fid, distance in metres), nearest first."""

    def bodies(self, fids: list[int]) -> dict[int, tuple[str | None, str]]:
        """fid -> (GeoJSON geometry text or None, properties JSON text)."""

    def tile(self, z: int, x: int, y: int, layer: str, max_features: int,
             hidden: frozenset[str] = frozenset()) -> bytes:
        """A Mapbox Vector Tile of the features in tile z/x/y (WebMercatorQuad), without the
        ``hidden`` properties (columns the reader may not see)."""


def geometry_source(columns_json: str | None) -> GeometrySource | None:
    cols = [(c["name"], c["type"]) for c in json.loads(columns_json or "[]")]
    return find_geometry(cols)


def feature_batches(path: Path, columns: list[tuple[str, str]], source: GeometrySource,
                    stats: BuildStats) -> Iterator[FeatureBatch]:
    """Read a snapshot in batches: properties as JSON (by DuckDB) and geometries as shapely
    arrays, parsed, checked and repaired with vectorised calls."""
    skip = {source.geometry_column} if source.kind == "geometry" else set()
    props = ", ".join(f"{quote_ident(n)} := {quote_ident(n)}" for n, _ in columns
                      if n not in skip)
    props_sql = f"to_json(struct_pack({props}))" if props else "'{}'"
    if source.kind == "geometry":
        geo_sql = f"CAST({quote_ident(source.columns[0])} AS VARCHAR) AS g"
    else:
        x, y = (quote_ident(c) for c in source.columns)
        geo_sql = f"TRY_CAST({x} AS DOUBLE) AS gx, TRY_CAST({y} AS DOUBLE) AS gy"
    con = connect(readable=[path], memory_limit="512MB")
    try:
        reader = con.sql(
            f"SELECT file_row_number AS fid, CAST({props_sql} AS VARCHAR) AS props, {geo_sql} "
            f"FROM read_parquet({sql_literal_path(path)}, file_row_number=true) "
            "ORDER BY file_row_number"
        ).to_arrow_reader(BATCH)
        for batch in reader:
            yield _batch(batch, source, stats)
    finally:
        con.close()


def _batch(batch: pa.RecordBatch, source: GeometrySource, stats: BuildStats) -> FeatureBatch:
    fids = batch.column("fid").to_numpy(zero_copy_only=False).astype(np.int64)
    props = batch.column("props").to_pylist()
    n = len(fids)
    if source.kind == "geometry":
        text = np.array(batch.column("g").to_pylist(), dtype=object)
        geoms = _parse_geometry_text(text, stats)
    else:
        gx = batch.column("gx").to_numpy(zero_copy_only=False).astype(float)
        gy = batch.column("gy").to_numpy(zero_copy_only=False).astype(float)
        if source.kind == "bng":
            ok = np.isfinite(gx) & np.isfinite(gy)
            lon, lat = np.full(n, np.nan), np.full(n, np.nan)
            if ok.any():
                lon[ok], lat[ok] = bng_to_lonlat(gx[ok], gy[ok])
        else:
            lon, lat = gx, gy  # the pair is (lon, lat) by construction in find_geometry
        ok = np.isfinite(lon) & np.isfinite(lat)
        geoms = np.full(n, None, dtype=object)
        geoms[ok] = shapely.points(lon[ok], lat[ok])
    geoms = _check(geoms, stats)
    stats.rows += n
    return FeatureBatch(fids, geoms, [p or "{}" for p in props])


def _parse_geometry_text(text: np.ndarray, stats: BuildStats) -> np.ndarray:
    present = np.array([t is not None and t != "" and t != "null" for t in text], dtype=bool)
    out = np.full(len(text), None, dtype=object)
    if not present.any():
        return out
    vals = text[present]
    is_json = np.array([t.lstrip()[:1] == "{" for t in vals], dtype=bool)
    parsed = np.full(len(vals), None, dtype=object)
    if is_json.any():
        parsed[is_json] = shapely.from_geojson(vals[is_json], on_invalid="ignore")
    if (~is_json).any():
        parsed[~is_json] = shapely.from_wkt(vals[~is_json], on_invalid="ignore")
    stats.unreadable += int(sum(1 for g in parsed if g is None))
    out[present] = parsed
    return out


def _check(geoms: np.ndarray, stats: BuildStats) -> np.ndarray:
    """Repair invalid geometries, drop empty ones and those outside lon/lat range."""
    have = np.array([g is not None for g in geoms], dtype=bool)
    if not have.any():
        return geoms
    g = geoms[have]
    empty = shapely.is_empty(g)
    g[empty] = None
    live = ~empty
    if live.any():
        invalid = live.copy()
        invalid[live] = ~shapely.is_valid(g[live])
        if invalid.any():
            stats.repaired += int(invalid.sum())
            g[invalid] = shapely.make_valid(g[invalid])
        bounds = shapely.bounds(g[live])
        bad = ~(np.isfinite(bounds).all(axis=1) & (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180)
                & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90))
        if bad.any():
            stats.out_of_range += int(bad.sum())
            idx = np.flatnonzero(live)[bad]
            g[idx] = None
            live[idx] = False
            bounds = bounds[~bad]
        if len(bounds):
            ext = [float(bounds[:, 0].min()), float(bounds[:, 1].min()),
                   float(bounds[:, 2].max()), float(bounds[:, 3].max())]
            e = stats.extent
            stats.extent = ext if e is None else [min(e[0], ext[0]), min(e[1], ext[1]),
                                                  max(e[2], ext[2]), max(e[3], ext[3])]
            stats.with_geometry += int(live.sum())
            for type_id, count in zip(*np.unique(shapely.get_type_id(g[live]),
                                                 return_counts=True), strict=True):
                name = GEOMETRY_TYPES[int(type_id)]
                stats.types[name] = stats.types.get(name, 0) + int(count)
    geoms[have] = g
    return geoms


def postgis_available(engine: Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    cached = getattr(engine, "_citydata_postgis", None)
    if cached is None:
        with engine.connect() as conn:
            cached = bool(conn.exec_driver_sql(
                "SELECT 1 FROM pg_extension WHERE extname = 'postgis'").first())
        engine._citydata_postgis = cached  # type: ignore[attr-defined]
    return bool(cached)


#: Opened stores by (engine, root, snapshot): a store never changes once built, so each
#: process looks it up (and reads its statistics) once.
_OPENED: OrderedDict[tuple[int, str, str], FeatureStore] = OrderedDict()
_OPENED_MAX = 256
_LOCK = threading.Lock()


def open_store(engine: Engine, root: Path, snapshot_sha: str) -> FeatureStore | None:
    """The built store of a snapshot, or None if it has none (yet)."""
    key = (id(engine), str(root), snapshot_sha)
    with _LOCK:
        found = _OPENED.get(key)
        if found is not None:
            _OPENED.move_to_end(key)
            return found
    store: FeatureStore
    if postgis_available(engine):
        from citydata.geo.featurestore_postgis import PostgisStore

        store = PostgisStore(engine, snapshot_sha)
    else:
        from citydata.geo.featurestore_sqlite import SqliteStore

        store = SqliteStore(root, snapshot_sha)
    if not store.exists():
        return None
    store.meta()
    with _LOCK:
        _OPENED[key] = store
        while len(_OPENED) > _OPENED_MAX:
            _OPENED.popitem(last=False)
    return store


class TileCache:
    """Encoded tiles by (store, z, x, y, hidden properties), up to ``max_bytes``. A tile of an
    immutable snapshot never changes, so the cache needs no invalidation, only a bound."""

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._tiles: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: FeatureStore, z: int, x: int, y: int, layer: str, max_features: int,
            hidden: frozenset[str]) -> bytes:
        # By the store's own key, not id(): an evicted store's id may be reused by another.
        key = (store.key, z, x, y, layer, max_features, hidden)
        with self._lock:
            data = self._tiles.get(key)
            if data is not None:
                self._tiles.move_to_end(key)
                return data
        data = store.tile(z, x, y, layer, max_features, hidden)
        with self._lock:
            if key not in self._tiles and len(data) <= self.max_bytes // 8:
                self._tiles[key] = data
                self.size += len(data)
                while self.size > self.max_bytes:
                    _, old = self._tiles.popitem(last=False)
                    self.size -= len(old)
        return data


TILES = TileCache()


def ensure_store(engine: Engine, root: Path, snapshot_path: Path, snapshot_sha: str,
                 columns_json: str | None) -> tuple[FeatureStore | None, BuildStats | None]:
    """The snapshot's store, built now if it has a geometry source and no store yet, and its
    build statistics (the same snapshot uploaded twice reports the same repairs)."""
    source = geometry_source(columns_json)
    if source is None:
        return None, None
    store = open_store(engine, root, snapshot_sha)
    if store is not None:
        return store, BuildStats.from_meta(store.meta())
    columns = [(c["name"], c["type"]) for c in json.loads(columns_json or "[]")]
    stats = BuildStats()
    batches = feature_batches(snapshot_path, columns, source, stats)
    if postgis_available(engine):
        from citydata.geo.featurestore_postgis import build_postgis

        built: FeatureStore = build_postgis(engine, snapshot_sha, batches, stats)
    else:
        from citydata.geo.featurestore_sqlite import build_sqlite

        built = build_sqlite(root, snapshot_sha, batches, stats)
    log.info("feature store for %s: %s", snapshot_sha[:12], stats.as_meta())
    return built, stats

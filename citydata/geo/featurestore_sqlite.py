"""The embedded feature store: one SQLite file per snapshot, with an R*Tree over the boxes.

SQLite's R*Tree (compiled into the interpreter's sqlite3) finds candidate boxes; the exact
test against the geometry is shapely's. R*Tree coordinates are 32-bit floats rounded
outwards, so the index only ever over-selects; the feature table keeps the exact doubles.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from citydata.geo.featurestore import LAYOUT, BuildStats, FeatureBatch

_GEOD = Geod(ellps="WGS84")
_local = threading.local()
SCHEMA = """
CREATE TABLE feature (fid INTEGER PRIMARY KEY, minx REAL, miny REAL, maxx REAL, maxy REAL,
                      point INTEGER, geom TEXT, wkb BLOB, props TEXT NOT NULL);
CREATE VIRTUAL TABLE feature_box USING rtree(fid, minx, maxx, miny, maxy);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
Box = tuple[float, float, float, float]


def store_path(root: Path, sha: str) -> Path:
    return root / "features" / f"{sha}.v{LAYOUT}.sqlite"


def build_sqlite(root: Path, sha: str, batches: Iterator[FeatureBatch],
                 stats: BuildStats) -> SqliteStore:
    target = store_path(root, sha)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    con = sqlite3.connect(tmp)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(SCHEMA)
        for b in batches:
            _write(con, b)
        con.execute("INSERT INTO meta VALUES ('stats', ?)", [json.dumps(stats.as_meta())])
        con.commit()
        con.close()
        os.replace(tmp, target)  # the store appears whole, or not at all
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    return SqliteStore(root, sha)


def _write(con: sqlite3.Connection, b: FeatureBatch) -> None:
    have = np.array([g is not None for g in b.geoms], dtype=bool)
    n = len(b.fids)
    bounds = np.full((n, 4), np.nan)
    geom_text: list[str | None] = [None] * n
    wkb: list[bytes | None] = [None] * n
    point = np.zeros(n, dtype=bool)
    if have.any():
        g = b.geoms[have]
        bounds[have] = shapely.bounds(g)
        point[have] = shapely.get_type_id(g) == 0
        for k, t, w in zip(np.flatnonzero(have).tolist(), shapely.to_geojson(g),
                           shapely.to_wkb(g), strict=True):
            geom_text[k], wkb[k] = t, w
    fids = b.fids.tolist()
    rows = []
    boxes = []
    for i in range(n):
        if have[i]:
            x1, y1, x2, y2 = bounds[i].tolist()
            rows.append((fids[i], x1, y1, x2, y2, int(point[i]), geom_text[i], wkb[i],
                         b.props[i]))
            boxes.append((fids[i], x1, x2, y1, y2))
        else:
            rows.append((fids[i], None, None, None, None, 0, None, None, b.props[i]))
    con.executemany("INSERT INTO feature VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT INTO feature_box VALUES (?,?,?,?,?)", boxes)


class SqliteStore:
    kind = "sqlite-rtree"

    def __init__(self, root: Path, sha: str) -> None:
        self.path = store_path(root, sha)
        self.key = str(self.path)
        self._meta: dict[str, Any] | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def _con(self) -> sqlite3.Connection:
        # One read-only connection per thread and store: opening costs more than a query.
        cache: dict[str, sqlite3.Connection] = _local.__dict__.setdefault("cons", {})
        con = cache.get(str(self.path))
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True,
                                  check_same_thread=False)
            if len(cache) > 64:
                for old in cache.values():
                    old.close()
                cache.clear()
            cache[str(self.path)] = con
        return con

    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            row = self._con().execute("SELECT value FROM meta WHERE key='stats'").fetchone()
            self._meta = json.loads(row[0]) if row else {}
        return self._meta

    # -- bbox -----------------------------------------------------------------------------
    # The R*Tree keeps 32-bit boxes rounded outwards, so an entry whose *index* box lies inside
    # the query box is surely a hit (counted without reading the feature), and only entries
    # whose index box crosses the query box's edge need the exact test.
    _INSIDE = "b.minx >= :x1 AND b.maxx <= :x2 AND b.miny >= :y1 AND b.maxy <= :y2"
    _EDGE = (
        "SELECT f.fid, f.point, f.minx, f.miny, f.maxx, f.maxy, f.wkb FROM feature_box b "
        "JOIN feature f ON f.fid = b.fid WHERE b.minx <= :x2 AND b.maxx >= :x1 "
        "AND b.miny <= :y2 AND b.maxy >= :y1 AND NOT (" + _INSIDE + ")"
    )

    @staticmethod
    def _args(bbox: Box) -> dict[str, float]:
        return dict(zip(("x1", "y1", "x2", "y2"), bbox, strict=True))

    def _edge_hits(self, bbox: Box) -> list[int]:
        """The exact test for entries crossing the box's edge: the stored doubles for points
        and boxes inside the query, shapely's ``intersects`` for the rest."""
        x1, y1, x2, y2 = bbox
        hits: list[int] = []
        maybe: list[tuple[int, bytes]] = []
        for fid, point, fx1, fy1, fx2, fy2, wkb in self._con().execute(self._EDGE,
                                                                       self._args(bbox)):
            if fx1 > x2 or fx2 < x1 or fy1 > y2 or fy2 < y1:
                continue  # only the rounded index box reached the query box
            if point or (fx1 >= x1 and fx2 <= x2 and fy1 >= y1 and fy2 <= y2):
                hits.append(fid)
            else:
                maybe.append((fid, wkb))
        if maybe:
            geoms = shapely.from_wkb([w for _, w in maybe])
            hit = shapely.intersects(geoms, shapely.box(x1, y1, x2, y2))
            hits.extend(fid for (fid, _), h in zip(maybe, hit.tolist(), strict=True) if h)
        return hits

    def count_bbox(self, bbox: Box) -> int:
        inside = self._con().execute(
            f"SELECT count(*) FROM feature_box b WHERE {self._INSIDE}", self._args(bbox))
        return int(inside.fetchone()[0]) + len(self._edge_hits(bbox))

    def search_bbox(self, bbox: Box | None, offset: int,
                    limit: int) -> tuple[int, list[int]]:
        if bbox is None:
            return int(self.meta().get("rows", 0)), self.page_bbox(None, offset, limit)
        count = self.count_bbox(bbox)
        rows = int(self.meta().get("rows", 0)) or 1
        points_only = set(self.meta().get("types", {})) <= {"Point"}
        # A dense box: walking the features in id order finds a page after reading about
        # (offset + limit) * rows / count of them, cheaper than sorting all `count` matches.
        if points_only and count and (offset + limit) * rows / count < count:
            found = self._con().execute(
                "SELECT fid FROM feature WHERE minx >= :x1 AND minx <= :x2 AND miny >= :y1 "
                "AND miny <= :y2 ORDER BY fid LIMIT :limit OFFSET :offset",
                {**self._args(bbox), "limit": limit, "offset": offset})
            return count, [r[0] for r in found]
        return count, self.page_bbox(bbox, offset, limit)

    def page_bbox(self, bbox: Box | None, offset: int, limit: int) -> list[int]:
        if bbox is None:
            rows = self._con().execute(
                "SELECT fid FROM feature ORDER BY fid LIMIT ? OFFSET ?", [limit, offset])
            return [r[0] for r in rows]
        rows = self._con().execute(
            f"SELECT b.fid FROM feature_box b WHERE {self._INSIDE} UNION ALL "
            "SELECT value FROM json_each(:edge) ORDER BY 1 LIMIT :limit OFFSET :offset",
            {**self._args(bbox), "edge": json.dumps(self._edge_hits(bbox)), "limit": limit,
             "offset": offset})
        return [r[0] for r in rows]

    def fids_bbox(self, bbox: Box) -> np.ndarray:
        inside = self._con().execute(f"SELECT b.fid FROM feature_box b WHERE {self._INSIDE}",
                                     self._args(bbox)).fetchall()
        out = np.array([r[0] for r in inside] + self._edge_hits(bbox), dtype=np.int64)
        out.sort()
        return out

    def count_all(self) -> int:
        return int(self._con().execute("SELECT count(*) FROM feature").fetchone()[0])

    # -- nearest --------------------------------------------------------------------------
    def nearest(self, lon: float, lat: float, k: int,
                among: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Search boxes of growing size until k features lie within a distance the box is
        sure to contain, then rank them by their geodesic distance."""
        extent = self.meta().get("extent")
        if not extent or k <= 0:
            return []
        allowed = None if among is None else set(among.tolist())
        coslat = max(math.cos(math.radians(lat)), 0.01)
        radius = 0.002  # degrees of latitude, about 220 m
        span = max(abs(extent[2] - lon), abs(extent[0] - lon), abs(extent[3] - lat),
                   abs(extent[1] - lat)) / coslat + 1
        while True:
            box = (lon - radius / coslat, lat - radius, lon + radius / coslat, lat + radius)
            fids, dists = self._distances(box, lon, lat, allowed)
            # Every feature within `sure` metres of the point is inside this box.
            sure = radius * 110_574.0
            within = dists <= sure
            if within.sum() >= k or radius > span:
                order = np.argsort(dists, kind="stable")[:k]
                return [(int(fids[i]), float(dists[i])) for i in order]
            radius *= 4

    def _distances(self, box: Box, lon: float, lat: float,
                   allowed: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
        x1, y1, x2, y2 = box
        rows = self._con().execute(
            "SELECT f.fid, f.point, f.minx, f.miny, f.wkb FROM feature_box b JOIN feature f "
            "ON f.fid = b.fid WHERE b.minx <= ? AND b.maxx >= ? AND b.miny <= ? AND b.maxy >= ?",
            [x2, x1, y2, y1]).fetchall()
        if allowed is not None:
            rows = [r for r in rows if r[0] in allowed]
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        fids = np.array([r[0] for r in rows], dtype=np.int64)
        px = np.array([r[2] for r in rows], dtype=float)
        py = np.array([r[3] for r in rows], dtype=float)
        not_point = np.array([not r[1] for r in rows], dtype=bool)
        if not_point.any():
            # The closest point of a line or polygon to the query point (planar in lon/lat,
            # then measured on the ellipsoid); inside a polygon the distance is 0.
            geoms = shapely.from_wkb([rows[i][4] for i in np.flatnonzero(not_point)])
            near = shapely.get_coordinates(
                shapely.shortest_line(geoms, shapely.points(lon, lat)))[::2]
            px[not_point], py[not_point] = near[:, 0], near[:, 1]
        _, _, dist = _GEOD.inv(np.full(len(px), lon), np.full(len(py), lat), px, py)
        return fids, np.asarray(dist, dtype=float)

    # -- bodies and tiles -------------------------------------------------------------------
    def bodies(self, fids: list[int]) -> dict[int, tuple[str | None, str]]:
        out: dict[int, tuple[str | None, str]] = {}
        con = self._con()
        for start in range(0, len(fids), 900):
            chunk = fids[start:start + 900]
            marks = ",".join("?" * len(chunk))
            for fid, geom, props in con.execute(
                    f"SELECT fid, geom, props FROM feature WHERE fid IN ({marks})", chunk):
                out[fid] = (geom, props)
        return out

    def tile(self, z: int, x: int, y: int, layer: str, max_features: int,
             hidden: frozenset[str] = frozenset()) -> bytes:
        from citydata.geo import mvt

        x1, y1, x2, y2 = mvt.tile_bounds_lonlat(z, x, y)
        pad_x, pad_y = (x2 - x1) / 64, (y2 - y1) / 64  # the encoder's 64-pixel buffer
        args = [x2 + pad_x, x1 - pad_x, y2 + pad_y, y1 - pad_y]
        con = self._con()
        where = "b.minx <= ? AND b.maxx >= ? AND b.miny <= ? AND b.maxy >= ?"
        total = con.execute(f"SELECT count(*) FROM feature_box b WHERE {where}", args).fetchone()
        step = max(1, math.ceil((total[0] or 0) / max_features)) if max_features else 1
        # Thinning by row position keeps a spread-out sample at low zoom, the same each time.
        rows = con.execute(
            f"SELECT f.fid, f.wkb, f.props FROM feature_box b JOIN feature f ON f.fid = b.fid "
            f"WHERE {where}" + (" AND b.fid % ? = 0" if step > 1 else ""),
            args + ([step] if step > 1 else [])).fetchall()
        geoms = shapely.from_wkb([r[1] for r in rows]) if rows else []
        features = [mvt.Feature(geometry=g, properties=_without(json.loads(r[2]), hidden),
                                id=r[0]) for g, r in zip(geoms, rows, strict=True)]
        return mvt.encode_tile([mvt.Layer(name=layer, features=features)], z, x, y)


def _without(props: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in hidden} if hidden else props

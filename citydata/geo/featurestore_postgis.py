"""The city-scale feature store: a PostGIS table per snapshot, queries pushed down.

Geometry in a ``geometry(Geometry, 4326)`` column with a GiST index for boxes and tiles, and a
GiST index on its ``geography`` for nearest-neighbour ordering on the ellipsoid; properties as
``json`` text in the column order (cast to ``jsonb``, which ``ST_AsMVT`` turns into tile
attributes). A table is built in one transaction
under an advisory lock, so concurrent first requests build it once and a crash leaves none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, text

from citydata.geo.featurestore import LAYOUT, BuildStats, FeatureBatch

Box = tuple[float, float, float, float]
#: The query box; ST_Envelope makes a point or a line of a degenerate box, which
#: ST_Intersects handles (a zero-area polygon it would not).
ENVELOPE = ("ST_SetSRID(ST_Envelope(ST_MakeLine(ST_MakePoint(:x1, :y1), "
            "ST_MakePoint(:x2, :y2))), 4326)")


def table_name(sha: str) -> str:
    return f"features_v{LAYOUT}_{sha[:40]}"


def build_postgis(engine: Engine, sha: str, batches: Iterator[FeatureBatch],
                  stats: BuildStats) -> PostgisStore:
    t = table_name(sha)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": t})
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": t}).scalar() is not None:
            return PostgisStore(engine, sha)  # another process built it meanwhile
        conn.exec_driver_sql(
            f'CREATE TABLE "{t}" (fid bigint PRIMARY KEY, geom geometry(Geometry, 4326), '
            "geom_json text, props json NOT NULL)"
        )
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f'COPY "{t}" (fid, geom, geom_json, props) FROM STDIN') as copy:
            for b in batches:
                for row in _rows(b):
                    copy.write_row(row)
        conn.exec_driver_sql(f'CREATE INDEX "{t}_g" ON "{t}" USING gist (geom)')
        conn.exec_driver_sql(f'CREATE INDEX "{t}_gg" ON "{t}" USING gist ((geom::geography))')
        # Rows were written in row order, which is spatially random: clustered on the GiST
        # index, the features of one box share a few pages (measured: a borough box over 1 M
        # points counts ~15x faster).
        conn.exec_driver_sql(f'CLUSTER "{t}" USING "{t}_g"')
        conn.exec_driver_sql(f'ANALYZE "{t}"')
        conn.execute(text(f"COMMENT ON TABLE \"{t}\" IS {_literal(json.dumps(stats.as_meta()))}"))
    return PostgisStore(engine, sha)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rows(b: FeatureBatch) -> Iterator[tuple[int, str | None, str | None, str]]:
    have = np.array([g is not None for g in b.geoms], dtype=bool)
    ewkb: list[str | None] = [None] * len(b.fids)
    gj: list[str | None] = [None] * len(b.fids)
    if have.any():
        g = shapely.set_srid(b.geoms[have], 4326)
        for k, w, j in zip(np.flatnonzero(have).tolist(),
                           shapely.to_wkb(g, hex=True, include_srid=True),
                           shapely.to_geojson(g), strict=True):
            ewkb[k], gj[k] = w, j
    for i, fid in enumerate(b.fids.tolist()):
        yield fid, ewkb[i], gj[i], b.props[i].replace("\\u0000", "")


class PostgisStore:
    kind = "postgis"

    def __init__(self, engine: Engine, sha: str) -> None:
        self.engine = engine
        self.table = table_name(sha)
        self.key = f"{engine.url.render_as_string(hide_password=True)}#{self.table}"
        self._meta: dict[str, Any] | None = None

    def exists(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT to_regclass(:t)"), {"t": self.table}).scalar() \
                is not None

    def _all(self, sql: str, args: dict[str, Any]) -> list[Any]:
        with self.engine.connect() as conn:
            # These are short index queries that PostgreSQL's cost model overrates: its JIT
            # compiler would spend longer compiling than the query runs.
            conn.exec_driver_sql("SET LOCAL jit = off")
            return list(conn.execute(text(sql.replace("{t}", f'"{self.table}"')), args))

    @property
    def _hits(self) -> str:
        """The box predicate: for points the GiST box test is already exact."""
        if set(self.meta().get("types", {})) <= {"Point"}:
            return f"geom && {ENVELOPE}"
        return f"geom && {ENVELOPE} AND ST_Intersects(geom, {ENVELOPE})"

    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            rows = self._all("SELECT obj_description(to_regclass(:t), 'pg_class')",
                             {"t": self.table})
            self._meta = json.loads(rows[0][0]) if rows and rows[0][0] else {}
        return self._meta

    @staticmethod
    def _box(bbox: Box) -> dict[str, float]:
        return dict(zip(("x1", "y1", "x2", "y2"), bbox, strict=True))

    def count_bbox(self, bbox: Box) -> int:
        rows = self._all(f"SELECT count(*) FROM {{t}} WHERE {self._hits}", self._box(bbox))
        return int(rows[0][0])

    def search_bbox(self, bbox: Box | None, offset: int,
                    limit: int) -> tuple[int, list[int]]:
        if bbox is None:
            return int(self.meta().get("rows", 0)), self.page_bbox(None, offset, limit)
        # One statement: the window count sees every match before the page is cut.
        # Two statements, so the page gets its own plan: for a dense box the planner walks the
        # primary key and stops after one page; for a sparse one it sorts the GiST matches.
        count = self.count_bbox(bbox)
        return count, (self.page_bbox(bbox, offset, limit) if offset < count else [])

    def page_bbox(self, bbox: Box | None, offset: int, limit: int) -> list[int]:
        if bbox is None:
            rows = self._all("SELECT fid FROM {t} ORDER BY fid LIMIT :l OFFSET :o",
                             {"l": limit, "o": offset})
        else:
            rows = self._all(f"SELECT fid FROM {{t}} WHERE {self._hits} ORDER BY fid "
                             "LIMIT :l OFFSET :o", {**self._box(bbox), "l": limit, "o": offset})
        return [r[0] for r in rows]

    def fids_bbox(self, bbox: Box) -> np.ndarray:
        rows = self._all(f"SELECT fid FROM {{t}} WHERE {self._hits} ORDER BY fid",
                         self._box(bbox))
        return np.array([r[0] for r in rows], dtype=np.int64)

    def count_all(self) -> int:
        return int(self._all("SELECT count(*) FROM {t}", {})[0][0])

    def nearest(self, lon: float, lat: float, k: int,
                among: np.ndarray | None = None) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        point = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"
        restrict = " AND fid = ANY(:among)" if among is not None else ""
        rows = self._all(
            f"SELECT fid, ST_Distance(geom::geography, {point}) FROM {{t}} "
            # One ORDER BY expression, or the planner cannot use the KNN index scan.
            f"WHERE geom IS NOT NULL{restrict} ORDER BY geom::geography <-> {point} "
            "LIMIT :k",
            {"lon": lon, "lat": lat, "k": k,
             **({"among": among.tolist()} if among is not None else {})})
        # The index orders by distance on the sphere; report (and order by) the spheroid's.
        return sorted(((int(f), float(d)) for f, d in rows), key=lambda r: r[1])

    def bodies(self, fids: list[int]) -> dict[int, tuple[str | None, str]]:
        rows = self._all("SELECT fid, geom_json, props::text FROM {t} WHERE fid = ANY(:f)",
                         {"f": fids})
        return {int(f): (g, p) for f, g, p in rows}

    def tile(self, z: int, x: int, y: int, layer: str, max_features: int,
             hidden: frozenset[str] = frozenset()) -> bytes:
        args: dict[str, Any] = {"z": z, "x": x, "y": y, "layer": layer,
                                "hidden": sorted(hidden)}
        where = ("geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 64.0 / 4096), "
                 "4326)")
        count = self._all(f"SELECT count(*) FROM {{t}} WHERE {where}", args)[0][0]
        step = max(1, -(-int(count) // max_features)) if max_features else 1
        thin = " AND fid % :step = 0" if step > 1 else ""
        rows = self._all(
            "SELECT ST_AsMVT(q, :layer, 4096, 'g', 'fid') FROM (SELECT fid, "
            + ("props::jsonb - CAST(:hidden AS text[]) AS props, " if hidden
               else "props::jsonb AS props, ")
            + "ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y), 4096, 64, "
            f"true) AS g FROM {{t}} WHERE {where}{thin}) q WHERE g IS NOT NULL",
            {**args, "step": step})
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""

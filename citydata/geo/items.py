"""OGC API – Features item queries: parameters in, a page of GeoJSON features out.

Spatial predicates (``bbox``, ``near``) are answered by the collection's feature store;
attribute predicates (property filters, ``datetime``, CQL2 ``filter``) and ``sortby`` by
DuckDB over the snapshot, restricted to the spatial matches when both are given. Features are
assembled from the store's stored GeoJSON text, so the common query (a box, a page) parses
no geometry at all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from citydata.datastore.engine import Timeout, quote_ident
from citydata.datastore.query import ROWNUM, explain_duckdb, snapshot_connection
from citydata.errors import NotFound, QueryError
from citydata.geo import cql2, crs
from citydata.geo.collections import Opened, queryable_columns

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
#: Parameters the items endpoint understands besides property names (the standard requires a
#: 400 for any other).
ITEM_PARAMS = frozenset({
    "f", "bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "sortby", "properties",
    "skipGeometry", "filter", "filter-lang", "filter-crs", "near", "_purpose", "_agreement",
})
FEATURE_PARAMS = frozenset({"f", "crs", "properties", "skipGeometry", "_purpose", "_agreement"})
DISTANCE_PROPERTY = "distance_m"
Box = tuple[float, float, float, float]


@dataclass
class ItemsQuery:
    bbox: Box | None = None
    near: tuple[float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    interval: tuple[datetime | None, datetime | None] | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)
    cql: cql2.Node | None = None
    sortby: list[tuple[str, bool]] = field(default_factory=list)
    properties: list[str] | None = None
    skip_geometry: bool = False
    crs: crs.Crs = field(default_factory=lambda: crs.SUPPORTED[crs.CRS84])

    @property
    def attribute_filtered(self) -> bool:
        return bool(self.filters or self.cql is not None or self.interval is not None)


@dataclass
class ItemsResult:
    features: list[str]  # GeoJSON Feature texts
    matched: int
    returned: int


def _int_param(value: str, name: str, low: int, high: int | None) -> int:
    try:
        n = int(value)
    except ValueError:
        raise QueryError(f"{name}: {value[:50]!r} is not a whole number",
                         fields={name: ["Whole number expected"]}) from None
    if n < low:
        raise QueryError(f"{name} must be at least {low}", fields={name: ["Too small"]})
    return min(n, high) if high is not None else n


def _bool_param(value: str, name: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise QueryError(f"{name}: give true or false", fields={name: ["true or false"]})


def check_params(params: list[tuple[str, str]], allowed: frozenset[str],
                 queryables: dict[str, str]) -> dict[str, str]:
    """One value per parameter, each one the endpoint knows; 400 otherwise."""
    seen: dict[str, str] = {}
    for key, value in params:
        if key not in allowed and key not in queryables:
            raise QueryError(
                f"Unknown query parameter {key[:100]!r}. Valid: {', '.join(sorted(allowed))}"
                + (f", or a property: {', '.join(sorted(queryables)[:30])}" if queryables else ""),
                fields={key[:100]: ["Unknown parameter"]},
            )
        if key in seen:
            raise QueryError(f"The parameter {key!r} was given more than once",
                             fields={key: ["Given more than once"]})
        seen[key] = value
    return seen


def parse_items_query(params: list[tuple[str, str]], opened: Opened) -> ItemsQuery:
    queryables = queryable_columns(opened.entry, opened.snap)
    p = check_params(params, ITEM_PARAMS, queryables)
    q = ItemsQuery()
    q.crs = crs.parse_crs(p.get("crs"), "crs")
    if "bbox" in p:
        q.bbox = crs.parse_bbox(p["bbox"], crs.parse_crs(p.get("bbox-crs"), "bbox-crs"))
    elif "bbox-crs" in p:
        crs.parse_crs(p["bbox-crs"], "bbox-crs")
    if "near" in p:
        q.near = crs.parse_point(p["near"])
    if "limit" in p:
        q.limit = _int_param(p["limit"], "limit", 1, MAX_LIMIT)
    if "offset" in p:
        q.offset = _int_param(p["offset"], "offset", 0, None)
        if q.offset > MAX_OFFSET:
            raise QueryError(f"offset must be at most {MAX_OFFSET:,}; narrow the query instead",
                             fields={"offset": ["Too large"]})
    if "datetime" in p:
        q.interval = parse_datetime(p["datetime"])
        if opened.entry.temporal_column is None:
            q.interval = None  # no temporal property: nothing to filter (documented)
    q.filters = [(k, v) for k, v in p.items() if k in queryables and k not in ITEM_PARAMS]
    if "filter" in p:
        lang = p.get("filter-lang", "cql2-text")
        if lang == "cql2-text":
            q.cql = cql2.parse_text(p["filter"])
        elif lang == "cql2-json":
            try:
                doc = json.loads(p["filter"])
            except ValueError:
                raise QueryError("filter: not valid JSON for filter-lang=cql2-json",
                                 fields={"filter": ["Invalid JSON"]}) from None
            q.cql = cql2.parse_json(doc)
        else:
            raise QueryError("filter-lang: use cql2-text or cql2-json",
                             fields={"filter-lang": ["Unsupported"]})
        if p.get("filter-crs") not in (None, "", crs.CRS84):
            raise QueryError(f"filter-crs: only {crs.CRS84} is supported",
                             fields={"filter-crs": ["Unsupported"]})
    elif "filter-lang" in p and p["filter-lang"] not in ("cql2-text", "cql2-json"):
        raise QueryError("filter-lang: use cql2-text or cql2-json",
                         fields={"filter-lang": ["Unsupported"]})
    if "sortby" in p:
        q.sortby = parse_sortby(p["sortby"], queryables)
        if q.near is not None:
            raise QueryError("near orders features by distance; it cannot be combined with "
                             "sortby", fields={"sortby": ["Not with near"]})
    if "properties" in p:
        q.properties = parse_properties(p["properties"], queryables)
    if "skipGeometry" in p:
        q.skip_geometry = _bool_param(p["skipGeometry"], "skipGeometry")
    return q


def parse_sortby(value: str, queryables: dict[str, str]) -> list[tuple[str, bool]]:
    out = []
    for raw in value.split(","):
        item = raw.strip()
        desc = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in queryables:
            raise QueryError(f"sortby: {name[:100]!r} is not a sortable property; use one of "
                             + ", ".join(sorted(queryables)[:30]),
                             fields={"sortby": ["Unknown property"]})
        out.append((name, desc))
    return out


def parse_properties(value: str, queryables: dict[str, str]) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in queryables]
    if unknown:
        raise QueryError(f"properties: unknown {', '.join(repr(n[:100]) for n in unknown[:5])}; "
                         "valid: " + ", ".join(sorted(queryables)[:30]),
                         fields={"properties": ["Unknown property"]})
    return names


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _instant(text: str) -> datetime | date:
    t = text.strip()
    try:
        if _DATE.match(t):
            return date.fromisoformat(t)
        dt = datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(f"datetime: {text[:60]!r} is not an RFC 3339 date or date-time "
                         "(e.g. 2024-05-01 or 2024-05-01T09:00:00Z)",
                         fields={"datetime": ["Not a date-time"]}) from None
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


def parse_datetime(value: str) -> tuple[datetime | None, datetime | None]:
    """An instant or an interval (``a/b``, ``../b``, ``a/..``) as inclusive UTC bounds."""
    if "/" not in value:
        one = _instant(value)
        if isinstance(one, datetime):
            return one, one
        return datetime.combine(one, time.min), datetime.combine(one, time.max)
    start_s, _, end_s = value.partition("/")
    start = None if start_s in ("..", "") else _instant(start_s)
    end = None if end_s in ("..", "") else _instant(end_s)
    if start is None and end is None:
        raise QueryError("datetime: an interval needs at least one end",
                         fields={"datetime": ["Open at both ends"]})
    lo = datetime.combine(start, time.min) if type(start) is date else start
    hi = datetime.combine(end, time.max) if type(end) is date else end
    if lo is not None and hi is not None and lo > hi:
        raise QueryError("datetime: the interval's start is after its end",
                         fields={"datetime": ["Start after end"]})
    return lo, hi  # type: ignore[return-value]


# -- running ---------------------------------------------------------------------------------
def _attribute_sql(opened: Opened, q: ItemsQuery) -> tuple[list[str], list[Any]]:
    queryables = queryable_columns(opened.entry, opened.snap)
    where: list[str] = []
    args: list[Any] = []
    for name, value in q.filters:
        node = cql2.parse_text(f"{_ident(name)} = {_literal(value, queryables[name])}")
        sql, vals = cql2.compile_duckdb(node, queryables)
        where.append(sql)
        args.extend(vals)
    if q.cql is not None:
        sql, vals = cql2.compile_duckdb(q.cql, queryables)
        where.append(f"({sql})")
        args.extend(vals)
    if q.interval is not None:
        column = quote_ident(opened.entry.temporal_column or "")
        lo, hi = q.interval
        if lo is not None:
            where.append(f"CAST({column} AS TIMESTAMP) >= ?")
            args.append(lo)
        if hi is not None:
            where.append(f"CAST({column} AS TIMESTAMP) <= ?")
            args.append(hi)
    return where, args


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str, kind: str) -> str:
    """A property filter's value as a CQL2 literal of the column's type."""
    base = kind.split("(")[0].strip()
    if base.endswith("INT") or base in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "HUGEINT"):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise QueryError(f"The property filter value {value[:60]!r} is not a number",
                             fields={"filter": ["Number expected"]})
        return value.strip()
    if base == "BOOLEAN":
        return "TRUE" if _bool_param(value, "property filter") else "FALSE"
    return "'" + value.replace("'", "''") + "'"


def _duck_fids(opened: Opened, q: ItemsQuery, spatial: np.ndarray | None, *, page: bool,
               timeout: float) -> tuple[list[int], int]:
    """Rows matching the attribute predicates (within ``spatial`` if given), in order: one
    page of fids and the total, or every fid when ``page`` is False."""
    where, args = _attribute_sql(opened, q)
    queryables = queryable_columns(opened.entry, opened.snap)
    with snapshot_connection(opened.snap) as con:
        source = "snap"
        if spatial is not None:
            con.register("spatial_fids", pa.table({"fid": pa.array(spatial, pa.int64())}))
            source = f"snap SEMI JOIN spatial_fids ON snap.{ROWNUM} = spatial_fids.fid"
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        order = ", ".join(f"{quote_ident(n)} {'DESC' if d else 'ASC'} NULLS LAST"
                          for n, d in q.sortby if n in queryables)
        order = (order + ", " if order else "") + ROWNUM
        try:
            with Timeout(con, timeout):
                total = int(con.execute(f"SELECT count(*) FROM {source}{clause}",
                                        args).fetchall()[0][0])
                sql = f"SELECT {ROWNUM} FROM {source}{clause} ORDER BY {order}"
                if page:
                    sql += f" LIMIT {int(q.limit)} OFFSET {int(q.offset)}"
                fids = [int(r[0]) for r in con.execute(sql, args).fetchall()]
        except duckdb.Error as exc:
            raise explain_duckdb(exc) from None
    return fids, total


def run_items(opened: Opened, q: ItemsQuery, *, timeout: float = 10.0) -> ItemsResult:
    store = opened.store
    distances: dict[int, float] = {}
    if q.near is not None:
        among: np.ndarray | None = store.fids_bbox(q.bbox) if q.bbox is not None else None
        if q.attribute_filtered:
            fids, _ = _duck_fids(opened, q, among, page=False, timeout=timeout)
            among = np.asarray(fids, dtype=np.int64)
        matched = (len(among) if among is not None
                   else int(store.meta().get("with_geometry", 0)))
        ranked = store.nearest(q.near[0], q.near[1], q.offset + q.limit, among)[q.offset:]
        page = [f for f, _ in ranked]
        distances = dict(ranked)
    elif q.attribute_filtered or q.sortby:
        spatial = store.fids_bbox(q.bbox) if q.bbox is not None else None
        page, matched = _duck_fids(opened, q, spatial, page=True, timeout=timeout)
    else:
        matched, page = store.search_bbox(q.bbox, q.offset, q.limit)
    bodies = store.bodies(page)
    render = FeatureRenderer(opened, q)
    features = [render(fid, *bodies[fid], distance=distances.get(fid))
                for fid in page if fid in bodies]
    return ItemsResult(features, matched, len(features))


def get_feature(opened: Opened, feature_id: str, q: ItemsQuery) -> str:
    if not feature_id.isdigit() or len(feature_id) > 18:
        raise NotFound(f"Feature {feature_id[:50]!r} was not found in this collection")
    fid = int(feature_id)
    body = opened.store.bodies([fid]).get(fid)
    if body is None:
        raise NotFound(f"Feature {feature_id!r} was not found in this collection")
    return FeatureRenderer(opened, q)(fid, *body)


class FeatureRenderer:
    """Turns stored (geometry text, properties text) into a Feature's JSON text, applying the
    reader's column restriction, ``properties``, ``skipGeometry`` and the output CRS."""

    def __init__(self, opened: Opened, q: ItemsQuery) -> None:
        snap = opened.snap
        keep: set[str] | None = {c.name for c in snap.columns} if snap.restricted else None
        if q.properties is not None:
            keep = set(q.properties) if keep is None else keep & set(q.properties)
        self.keep = keep
        self.order = q.properties
        self.skip_geometry = q.skip_geometry
        self.transform = None if q.crs.uri == crs.CRS84 else crs.from_lonlat(q.crs)

    def __call__(self, fid: int, geom: str | None, props: str, *,
                 distance: float | None = None) -> str:
        if self.keep is not None or distance is not None:
            data = json.loads(props)
            if self.keep is not None:
                names = self.order or list(data)
                data = {k: data.get(k) for k in names if k in self.keep}
            if distance is not None:
                data[DISTANCE_PROPERTY] = round(distance, 2)
            props = json.dumps(data, ensure_ascii=False)
        if self.skip_geometry or geom is None:
            geometry = "null"
        elif self.transform is not None:
            geometry = shapely.to_geojson(shapely.transform(shapely.from_geojson(geom),
                                                            self.transform))
        else:
            geometry = geom
        return f'{{"type":"Feature","id":{fid},"geometry":{geometry},"properties":{props}}}'

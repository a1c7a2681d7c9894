"""OGC API – Features collections: every spatial table in the catalog, as the reader may see it.

A collection is the current version of a resource whose table has a geometry source (a
geometry column, latitude/longitude, or easting/northing). Its id is the dataset's name for
the dataset's first spatial resource, and ``<dataset>.<resource id prefix>`` for any other.
Framework-free: functions return plain data; ``citydata.api.ogc`` turns it into responses.
Every read goes through the one policy path (``open_snapshot``): a collection the reader may
not read is not listed, and asking for it directly gets the same answer as the rows API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from citydata.access.policy import visible_datasets_clause
from citydata.catalog.context import Ctx
from citydata.catalog.resources import current
from citydata.datastore.query import Snapshot, snapshot_of
from citydata.errors import NotFound
from citydata.geo import crs
from citydata.geo.featurestore import FeatureStore, ensure_store, geometry_source, open_store
from citydata.geo.spatial_columns import GeometrySource
from citydata.storage.models import Dataset, Resource, ResourceVersion

TEMPORAL_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS",
                  "TIMESTAMP_MS", "TIMESTAMP_S")  # fmt: skip


@dataclass
class Entry:
    """A collection as listed: enough to describe it without reading any rows."""

    id: str
    dataset: Dataset
    resource: Resource
    version: ResourceVersion
    source: GeometrySource

    @property
    def columns(self) -> list[dict[str, str]]:
        return list(json.loads(self.version.columns or "[]"))

    @property
    def title(self) -> str:
        first = _spatial_resources(self.dataset)[:1]
        if first and first[0][0].id == self.resource.id:
            return self.dataset.title or self.dataset.name
        return f"{self.dataset.title or self.dataset.name}: {self.resource.name}"

    @property
    def temporal_column(self) -> str | None:
        for c in self.columns:
            if c["type"] in TEMPORAL_TYPES:
                return str(c["name"])
        return None


@dataclass
class Opened:
    """A collection opened for reading rows: the policy said yes."""

    entry: Entry
    snap: Snapshot
    store: FeatureStore


def _spatial_resources(ds: Dataset) -> list[tuple[Resource, ResourceVersion, GeometrySource]]:
    out = []
    for r in sorted(ds.resources, key=lambda r: r.position):
        v = current(r)
        if v is None or v.ingest_status != "ok" or not v.snapshot_sha256:
            continue
        source = geometry_source(v.columns)
        if source is not None:
            out.append((r, v, source))
    return out


def _entries(ds: Dataset) -> list[Entry]:
    found = _spatial_resources(ds)
    return [Entry(ds.name if i == 0 else f"{ds.name}.{r.id[:8]}", ds, r, v, source)
            for i, (r, v, source) in enumerate(found)]


def list_collections(ctx: Ctx) -> list[Entry]:
    """Every collection the reader may read, ordered by dataset name."""
    datasets = ctx.session.scalars(
        select(Dataset).where(visible_datasets_clause(ctx.actor))
        .options(selectinload(Dataset.resources).selectinload(Resource.versions))
        .order_by(Dataset.name)
    ).all()
    return [e for ds in datasets for e in _entries(ds)
            if ctx.access.allows(ds, "read", e.resource.id)]


def find_collection(ctx: Ctx, collection_id: str) -> Entry:
    """The collection by id if the reader may see its dataset; NotFound otherwise (the same
    answer whether it does not exist or is hidden)."""
    name = collection_id.split(".", 1)[0]
    ds = ctx.session.scalar(
        select(Dataset).where(Dataset.name == name, visible_datasets_clause(ctx.actor))
        .options(selectinload(Dataset.resources).selectinload(Resource.versions)))
    if ds is not None:
        for e in _entries(ds):
            if e.id == collection_id:
                return e
    raise NotFound(f"Collection {collection_id[:200]!r} was not found")


def open_collection(ctx: Ctx, collection_id: str) -> Opened:
    """The collection ready for item queries, after the policy decided (and staged the audit
    entry of a governed read); builds the spatial index on first use if it is missing."""
    entry = find_collection(ctx, collection_id)
    decision = ctx.access.decide(entry.dataset, "read", entry.resource.id)
    decision.note(version=entry.version.version)
    snap = snapshot_of(ctx, entry.dataset, entry.resource, entry.version, decision)
    sha = entry.version.snapshot_sha256 or ""
    store = open_store(ctx.session.get_bind(), ctx.files.root, sha)  # type: ignore[arg-type]
    if store is None:
        store, _ = ensure_store(ctx.session.get_bind(), ctx.files.root,  # type: ignore[arg-type]
                                snap.path, sha, entry.version.columns)
    if store is None:
        raise NotFound(f"Collection {collection_id!r} has no geometry")
    return Opened(entry, snap, store)


def extent(ctx: Ctx, entry: Entry) -> list[float] | None:
    store = open_store(ctx.session.get_bind(), ctx.files.root,  # type: ignore[arg-type]
                       entry.version.snapshot_sha256 or "")
    if store is not None and store.meta().get("extent"):
        return [round(v, 7) for v in store.meta()["extent"]]
    ds = entry.dataset
    if None not in (ds.bbox_west, ds.bbox_south, ds.bbox_east, ds.bbox_north):
        return [ds.bbox_west, ds.bbox_south, ds.bbox_east, ds.bbox_north]  # type: ignore[list-item]
    return None


# -- documents --------------------------------------------------------------------------------
def collection_doc(ctx: Ctx, entry: Entry, base: str) -> dict[str, Any]:
    """The collection's description (``/collections/{id}``), with its links."""
    url = f"{base}/collections/{entry.id}"
    doc: dict[str, Any] = {
        "id": entry.id,
        "title": entry.title,
        "description": (entry.resource.description or entry.dataset.notes or "")[:2000],
        "itemType": "feature",
        "crs": list(crs.SUPPORTED)[:3],
        "storageCrs": crs.CRS84,
        "links": [
            {"href": f"{url}?f=json", "rel": "self", "type": "application/json",
             "title": "This collection"},
            {"href": f"{url}?f=html", "rel": "alternate", "type": "text/html",
             "title": "This collection as HTML"},
            {"href": f"{url}/items?f=json", "rel": "items", "type": "application/geo+json",
             "title": "Items"},
            {"href": f"{url}/items?f=html", "rel": "items", "type": "text/html",
             "title": "Items as HTML"},
            {"href": f"{url}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "title": "Queryables"},
            {"href": f"{url}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
             "rel": "item", "type": "application/vnd.mapbox-vector-tile", "templated": True,
             "title": "Vector tiles (WebMercatorQuad: z/y/x)"},
            {"href": f"{ctx.site_url}/dataset/{entry.dataset.name}", "rel": "describedby",
             "type": "text/html", "title": "The dataset in the catalog"},
            {"href": f"{ctx.site_url}/api/v1/datasets/{entry.dataset.name}/dcat.jsonld",
             "rel": "describedby", "type": "application/ld+json", "title": "DCAT metadata"},
        ],
    }
    box = extent(ctx, entry)
    if box:
        doc["extent"] = {"spatial": {"bbox": [box], "crs": crs.CRS84}}
    temporal = entry.temporal_column
    if temporal:
        doc.setdefault("extent", {})["temporal"] = {
            "interval": [[entry.dataset.temporal_start or None,
                          entry.dataset.temporal_end or None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return doc


_JSON_TYPES = {"BOOLEAN": "boolean", "DOUBLE": "number", "FLOAT": "number", "REAL": "number"}


def _json_schema_type(duck: str) -> dict[str, Any]:
    base = duck.split("(")[0].strip()
    if base in _JSON_TYPES:
        return {"type": _JSON_TYPES[base]}
    if base.endswith("INT") or base in ("HUGEINT", "UHUGEINT"):
        return {"type": "integer"}
    if base == "DECIMAL":
        return {"type": "number"}
    if base == "DATE":
        return {"type": "string", "format": "date"}
    if base.startswith("TIMESTAMP"):
        return {"type": "string", "format": "date-time"}
    if base == "VARCHAR":
        return {"type": "string"}
    return {}


def queryable_columns(entry: Entry, snap: Snapshot | None = None) -> dict[str, str]:
    """Property name -> DuckDB type, for the columns a reader may filter on."""
    geometry = entry.source.geometry_column
    cols = snap.columns if snap is not None else None
    allowed = {c.name for c in cols} if cols is not None else None
    return {c["name"]: c["type"] for c in entry.columns
            if c["name"] != geometry and (allowed is None or c["name"] in allowed)
            and _json_schema_type(c["type"])}


def queryables_doc(entry: Entry, base: str, snap: Snapshot | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"geometry": {"format": "geometry-any",
                                          "x-ogc-role": "primary-geometry"}}
    for name, kind in queryable_columns(entry, snap).items():
        props[name] = {"title": name, **_json_schema_type(kind)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{entry.id}/queryables",
        "type": "object",
        "title": entry.title,
        "properties": props,
        "additionalProperties": False,
    }

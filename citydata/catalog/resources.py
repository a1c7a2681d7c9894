"""Resources: uploaded files (immutable versions) or links to external URLs."""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citydata.access.policy import Decision, can_see_clause, require_editor, require_visible
from citydata.catalog import search
from citydata.catalog.context import Ctx
from citydata.catalog.datasets import get_visible, iso
from citydata.catalog.names import Errors, check_text, check_url
from citydata.datastore.ingest import ingest as datastore_ingest
from citydata.datastore.ingest import is_tabular
from citydata.errors import Forbidden, NotFound, ValidationError
from citydata.faults import pause_point
from citydata.standards.validate import apply_standard
from citydata.storage.files import StagedFile
from citydata.storage.models import Dataset, Resource, ResourceVersion, utcnow

log = logging.getLogger(__name__)

FORMATS_BY_EXT = {
    "csv": "CSV",
    "tsv": "TSV",
    "txt": "TXT",
    "json": "JSON",
    "geojson": "GeoJSON",
    "ndjson": "NDJSON",
    "jsonl": "NDJSON",
    "xlsx": "XLSX",
    "xls": "XLS",
    "parquet": "Parquet",
    "geoparquet": "GeoParquet",
    "zip": "ZIP",
    "pdf": "PDF",
    "xml": "XML",
    "gpkg": "GeoPackage",
    "kml": "KML",
    "shp": "SHP",
    "html": "HTML",
    "ttl": "RDF",
    "rdf": "RDF",
    "ods": "ODS",
    "docx": "DOCX",
}
MIMETYPES = {
    "CSV": "text/csv",
    "TSV": "text/tab-separated-values",
    "JSON": "application/json",
    "GeoJSON": "application/geo+json",
    "NDJSON": "application/x-ndjson",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "Parquet": "application/vnd.apache.parquet",
    "ZIP": "application/zip",
    "PDF": "application/pdf",
    "GeoPackage": "application/geopackage+sqlite3",
    # A zipped Shapefile is served as the zip it is (application/x-shapefile names no
    # registered type and tells clients nothing about the archive).
    "Shapefile": "application/zip",
    "GeoParquet": "application/vnd.apache.parquet",
    "TXT": "text/plain",
    "XML": "application/xml",
    "HTML": "text/html",
}
SAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str) -> str:
    """A filename fit for URLs and Content-Disposition: no path, no odd characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = SAFE_FILENAME.sub("-", base).strip(".-")
    return base[:200] or "data"


def guess_format(filename: str, head: bytes = b"", url: str = "") -> str:
    source = filename or url.split("?", 1)[0]
    ext = source.rsplit(".", 1)[-1].lower() if "." in source else ""
    fmt = FORMATS_BY_EXT.get(ext, "")
    if fmt == "JSON" and b'"FeatureCollection"' in head[:4096]:
        return "GeoJSON"
    if fmt in ("ZIP", "") and _is_zipped_shapefile(source, head):
        return "Shapefile"
    if fmt in ("GeoPackage", "") and head[:16] == b"SQLite format 3\x00" and head[68:72] in (
        b"GPKG", b"GP10", b"GP11"
    ):  # the GeoPackage application_id in the SQLite header
        return "GeoPackage"
    if not fmt and head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if not fmt and head.startswith(b"PAR1"):
        return "Parquet"
    return fmt


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _is_zipped_shapefile(name: str, head: bytes) -> bool:
    """Whether a zip upload looks like a Shapefile. Only the first 8 KB are seen here, and the
    zip's directory is at its end, so this reads the local headers within them: a member named
    like a Shapefile part (zips often start with the .cpg/.dbf, the .shp past 8 KB) or a name
    like "roads.shp.zip", "roads_shp.zip" is enough; ingest opens the whole archive and reports
    clearly if it holds no .shp after all. Without head bytes (a link) only the name counts."""
    if head and not head.startswith(b"PK\x03\x04"):
        return False
    lower = name.lower()
    if lower.endswith((".shp.zip", "_shp.zip", "-shp.zip", "shapefile.zip")):
        return True
    pos = 0
    while (pos := head.find(b"PK\x03\x04", pos)) >= 0 and pos + 30 <= len(head):
        size = int.from_bytes(head[pos + 26 : pos + 28], "little")
        member = head[pos + 30 : pos + 30 + size].decode("utf-8", "replace").lower()
        if member.endswith(SHAPEFILE_PARTS) and "__macosx" not in member:
            return True
        pos += 30
    return False


def guess_mimetype(fmt: str, filename: str) -> str:
    return MIMETYPES.get(fmt) or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def current(r: Resource) -> ResourceVersion | None:
    for v in r.versions:
        if v.version == r.current_version:
            return v
    return None


def download_url(ctx: Ctx, ds: Dataset, r: Resource, v: ResourceVersion) -> str:
    return (
        f"{ctx.site_url}/dataset/{ds.name}/resource/{r.id}/download/{quote(v.filename or 'data')}"
    )


def resource_dict(ctx: Ctx, ds: Dataset, r: Resource) -> dict[str, Any]:
    v = current(r)
    return {
        "id": r.id,
        "package_id": ds.id,
        "name": r.name,
        "description": r.description,
        "format": r.format,
        "mimetype": r.mimetype,
        "url": download_url(ctx, ds, r, v) if v else r.url,
        "url_type": r.url_type,
        "size": v.size if v else None,
        "hash": v.sha256 if v else "",
        "position": r.position,
        "state": "active",
        "created": iso(r.created),
        "last_modified": iso(v.created) if v else None,
        "metadata_modified": iso(r.modified),
        "version": r.current_version if v else None,
        "datastore_active": bool(v and v.ingest_status == "ok"),
        "row_count": v.row_count if v else None,
        "versions": [version_dict(x) for x in r.versions],
    }


def shape_resource(
    rd: dict[str, Any], view: str, columns: frozenset[str] | None = None
) -> dict[str, Any]:
    """Cut a resource dict to the reader's metadata view. Below ``full``, ingest and validation
    reports go (they quote cell values) and so do hashes (a hash confirms a guessed file);
    ``columns`` keeps only those column names."""
    if view == "full":
        return rd
    out = {**rd, "hash": ""}
    out["versions"] = [
        {**v, "sha256": "", "report": {},
         "columns": [c for c in v["columns"] if columns is None or c["name"] in columns]}
        for v in rd["versions"]]
    out["synthetic_sample"] = view == "sample" and bool(rd.get("datastore_active"))
    return out


def version_dict(v: ResourceVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "sha256": v.sha256,
        "size": v.size,
        "filename": v.filename,
        "format": v.format,
        "created": iso(v.created),
        "ingest_status": v.ingest_status,
        "row_count": v.row_count,
        "columns": json.loads(v.columns or "[]"),
        "report": json.loads(v.report or "{}"),
    }


def get_resource(ctx: Ctx, resource_id: object) -> tuple[Dataset, Resource]:
    """The resource and its dataset, if the actor may see the dataset; else NotFound."""
    if not isinstance(resource_id, str) or not resource_id:
        raise ValidationError("id: Missing value", fields={"id": ["Missing value"]})
    # One statement finds the resource only if its dataset is visible to the actor, so a
    # private dataset's resource is "not found" exactly as a resource that does not exist.
    # Both come from that one statement: reads of rows and files start here on every request,
    # and the dataset's tags, themes and other resources are loaded only if a caller uses them.
    found = ctx.session.execute(
        select(Resource, Dataset).join(Dataset, Dataset.id == Resource.dataset_id)
        .where(Resource.id == resource_id, can_see_clause(ctx.actor))).first()
    if found is None:
        raise NotFound("Resource was not found.")
    r, ds = found
    return require_visible(ctx.actor, ds), r


def _apply(r: Resource, data: dict, errors: Errors) -> None:
    for field, limit in (("name", 500), ("description", 20000)):
        if field in data:
            setattr(r, field, check_text(errors, field, data[field], limit))
    if "format" in data and data["format"]:
        r.format = check_text(errors, "format", data["format"], 40)
    if "mimetype" in data and data["mimetype"]:
        r.mimetype = check_text(errors, "mimetype", data["mimetype"], 200)


def _add_version(ctx: Ctx, r: Resource, upload: StagedFile) -> ResourceVersion:
    # The file goes into place first; the row that points at it is written after, in the
    # caller's transaction. A crash in between leaves an unreferenced blob, never a dangling row.
    ctx.files.commit(upload)
    pause_point("upload-stored")
    latest = ctx.session.scalar(
        select(func.max(ResourceVersion.version)).where(ResourceVersion.resource_id == r.id)
    )
    number = (latest or 0) + 1
    filename = safe_filename(upload.filename or r.name or "data")
    if "." not in filename and r.versions:
        # A nameless stream (e.g. an in-memory upload) keeps the resource's known filename.
        filename = r.versions[-1].filename
    fmt = guess_format(filename, upload.head) or r.format
    v = ResourceVersion(
        resource_id=r.id,
        version=number,
        sha256=upload.sha256,
        size=upload.size,
        filename=filename,
        format=fmt,
        mimetype=guess_mimetype(fmt, filename),
        created_by=ctx.actor.user_id,
    )
    if is_tabular(fmt):
        snapshot = datastore_ingest(ctx.files, upload.sha256, fmt, work_dir=ctx.files.tmp_dir)
        v.ingest_status = snapshot.status
        v.snapshot_sha256 = snapshot.snapshot_sha256
        v.row_count = snapshot.row_count
        v.columns = json.dumps(snapshot.columns)
        v.report = json.dumps(snapshot.report())
        dataset = ctx.session.get(Dataset, r.dataset_id)
        if dataset is not None:
            apply_standard(ctx, dataset, v)  # sets "invalid" + report when rows break it
            if v.ingest_status == "ok":
                index_features(ctx, dataset, v)
    # Appended before it is added: loading a not-yet-loaded ``versions`` would flush ``v``
    # first and then hold it twice.
    r.versions.append(v)
    ctx.session.add(v)
    # Only a version that was read (or needs no reading) replaces a good one: a broken or
    # invalid upload is kept with its report, and the previous good version stays live.
    if v.ingest_status in ("", "ok") or r.current_version == 0:
        r.current_version = number
    r.url = ""
    r.url_type = "upload"
    if not r.format or r.format == "":
        r.format = fmt
    r.mimetype = guess_mimetype(r.format, filename)
    if not r.name:
        r.name = filename
    return v


def index_features(ctx: Ctx, ds: Dataset, v: ResourceVersion) -> None:
    """Build the spatial index of a table with geometry (see ``citydata.geo.featurestore``);
    its repairs go in the ingest report, and its extent becomes the dataset's coverage when
    the publisher gave none. A failure here is logged and retried on first use, never lost."""
    from citydata.geo.featurestore import ensure_store

    sha = v.snapshot_sha256 or ""
    try:
        store, stats = ensure_store(ctx.session.get_bind(), ctx.files.root,  # type: ignore[arg-type]
                                    ctx.files.blob_path(sha), sha, v.columns)
    except Exception:
        log.exception("building the spatial index of snapshot %s failed", sha[:12])
        return
    if store is None:
        return
    if stats is not None and stats.warnings():
        report = json.loads(v.report or "{}")
        report.setdefault("warnings", []).extend(stats.warnings())
        v.report = json.dumps(report)
    extent = store.meta().get("extent")
    if extent and ds.bbox_west is None:
        ds.bbox_west, ds.bbox_south, ds.bbox_east, ds.bbox_north = (round(x, 6) for x in extent)


def create_resource(ctx: Ctx, data: dict, upload: StagedFile | None = None) -> dict:
    """resource_create: either an upload (a staged file) or an external ``url``."""
    errors = Errors()
    ds = get_visible(ctx, data.get("package_id"))
    require_editor(ctx.actor, ds.owner_org)
    r = Resource(dataset_id=ds.id, name="", description="", format="", mimetype="", url="")
    _apply(r, data, errors)
    if upload is None:
        url = check_url(errors, "url", data.get("url"))
        if not url:
            errors.add("url", "Give a URL or upload a file")
        r.url = url
        if not r.format:
            r.format = guess_format("", url=url)
        if not r.name:
            r.name = url.rsplit("/", 1)[-1][:500]
    errors.raise_if_any("Cannot create the resource")
    r.position = len(ds.resources)
    ctx.session.add(r)
    ctx.session.flush()
    if upload is not None:
        _add_version(ctx, r, upload)
        if data.get("format"):
            r.format = data["format"]
    ds.resources.append(r)
    ds.modified = utcnow()
    ctx.session.flush()
    search.index_dataset(ctx.session, ds)
    return resource_dict(ctx, ds, r)


def update_resource(
    ctx: Ctx, data: dict, upload: StagedFile | None = None, *, partial: bool = False
) -> dict:
    """resource_update / resource_patch; a new upload adds a version, old ones stay."""
    ds, r = get_resource(ctx, data.get("id"))
    require_editor(ctx.actor, ds.owner_org)
    errors = Errors()
    _apply(r, data, errors)
    if upload is None and data.get("url") and r.url_type != "upload":
        r.url = check_url(errors, "url", data["url"])
    errors.raise_if_any("Cannot update the resource")
    if upload is not None:
        _add_version(ctx, r, upload)
    r.modified = ds.modified = utcnow()
    ctx.session.flush()
    search.index_dataset(ctx.session, ds)
    pause_point("resource-update-written")  # the new version is written, not yet committed
    return resource_dict(ctx, ds, r)


def delete_resource(ctx: Ctx, resource_id: object) -> None:
    ds, r = get_resource(ctx, resource_id)
    require_editor(ctx.actor, ds.owner_org)
    ds.resources.remove(r)
    ctx.session.delete(r)
    ds.modified = utcnow()
    ctx.session.flush()
    search.index_dataset(ctx.session, ds)


def show_resource(ctx: Ctx, resource_id: object) -> dict:
    ds, r = get_resource(ctx, resource_id)
    view = ctx.access.metadata_view(ds)
    if view == "existence":
        raise NotFound("Resource was not found.")
    return shape_resource(resource_dict(ctx, ds, r), view, ctx.access.visible_columns(ds, r.id))


def version_for_download(
    ctx: Ctx, resource_id: str, version: int | None = None, *, action: str = "download",
    whole_file: bool = True,
) -> tuple[Dataset, Resource, ResourceVersion, Decision]:
    """The stored version behind a read, after the access policy said yes to ``action``.

    By default this is a download of the original file (``whole_file``: it cannot honour a
    column restriction); the datastore passes ``whole_file=False`` with ``read``, ``query``,
    ``aggregate`` or ``download`` (exports) and enforces the conditions itself."""
    ds, r = get_resource(ctx, resource_id)
    decision = ctx.access.decide(ds, action, r.id, whole_file=whole_file and action == "download")
    wanted = version if version is not None else r.current_version
    for v in r.versions:
        if v.version == wanted:
            decision.note(version=v.version)
            return ds, r, v, decision
    if version is not None:
        raise NotFound(f"Version {version} of this resource does not exist")
    raise NotFound("This resource has no uploaded file")


def version_for_description(
    ctx: Ctx, resource_id: str, version: int | None = None, *, need: str = "schema"
) -> tuple[Dataset, Resource, ResourceVersion]:
    """The version behind a *description* of a resource — its columns (``need="schema"``) or
    a synthetic sample (``"sample"``) — when the reader's metadata view includes it. No rows
    reach the reader, so this is not a data read and is not audited."""
    ds, r = get_resource(ctx, resource_id)
    view = ctx.access.metadata_view(ds)
    allowed = {"schema": ("schema", "sample", "full"), "sample": ("sample", "full")}[need]
    if view == "existence":
        raise NotFound("Resource was not found.")
    if view not in allowed:
        raise Forbidden("The publisher does not offer a synthetic sample of this dataset")
    wanted = version if version is not None else r.current_version
    for v in r.versions:
        if v.version == wanted:
            return ds, r, v
    raise NotFound(f"Version {wanted} of this resource does not exist")


def referenced_blobs(session: Session) -> set[str]:
    """Every stored file some version points at: originals and their snapshots."""
    originals = set(session.scalars(select(ResourceVersion.sha256)))
    snapshots = set(
        session.scalars(
            select(ResourceVersion.snapshot_sha256).where(
                ResourceVersion.snapshot_sha256.is_not(None)
            )
        )
    )
    return originals | {s for s in snapshots if s}


def create_linked_resources(ctx: Ctx, ds: Dataset, items: list) -> None:
    errors = Errors()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.add("resources", f"Item {i} must be an object")
            continue
        r = Resource(
            dataset_id=ds.id,
            position=len(ds.resources),
            name="",
            description="",
            format="",
            mimetype="",
            url="",
            versions=[],  # linked: no uploads (and no query to find that out)
        )
        _apply(r, item, errors)
        r.url = check_url(errors, "resources", item.get("url"))
        if not r.url:
            errors.add("resources", f"Item {i} needs a url (upload files with resource_create)")
        r.format = r.format or guess_format("", url=r.url)
        r.name = r.name or r.url.rsplit("/", 1)[-1][:500]
        ds.resources.append(r)
    errors.raise_if_any("Cannot create the resources")


def sync_resources(ctx: Ctx, ds: Dataset, items: list) -> None:
    """package_update with a ``resources`` list: keep listed ones (updated), drop the rest."""
    errors = Errors()
    by_id = {r.id: r for r in ds.resources}
    keep: list[Resource] = []
    new_items = []
    for item in items:
        if not isinstance(item, dict):
            errors.add("resources", "Each resource must be an object")
            continue
        rid = item.get("id")
        if rid in by_id:
            _apply(by_id[rid], item, errors)
            keep.append(by_id[rid])
        else:
            new_items.append(item)
    errors.raise_if_any("Cannot update the resources")
    for r in list(ds.resources):
        if r not in keep:
            ds.resources.remove(r)
            ctx.session.delete(r)
    for pos, r in enumerate(keep):
        r.position = pos
    if new_items:
        create_linked_resources(ctx, ds, new_items)


__all__ = [
    "create_resource",
    "update_resource",
    "delete_resource",
    "show_resource",
    "get_resource",
    "version_for_download",
    "resource_dict",
    "shape_resource",
]

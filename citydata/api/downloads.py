"""File downloads: the current or any earlier version of an uploaded resource, streamed."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from citydata.access.guard import guarded
from citydata.api.deps import request_ctx
from citydata.api.openapi import errors, ok
from citydata.catalog.resources import version_for_download
from citydata.errors import NotFound

router = APIRouter(tags=["Downloads"])

#: Types a download keeps: data formats no browser runs. Anything else (HTML, SVG, XML,
#: JavaScript, or whatever a file's name suggested) is sent as opaque bytes, so an uploaded
#: file can never act as a page or a script of this site, even when linked from one.
SAFE_DOWNLOAD_TYPES = frozenset({
    "text/csv", "text/tab-separated-values", "text/plain", "application/json",
    "application/geo+json", "application/x-ndjson", "application/vnd.apache.parquet",
    "application/zip", "application/pdf", "application/geopackage+sqlite3",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/octet-stream",
})
#: Should a browser open a download anyway, it runs nothing and loads nothing.
DOWNLOAD_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def download_media_type(mimetype: str) -> str:
    """The Content-Type a stored file is served with (see :data:`SAFE_DOWNLOAD_TYPES`)."""
    base = (mimetype or "").split(";", 1)[0].strip().lower()
    return base if base in SAFE_DOWNLOAD_TYPES else "application/octet-stream"


#: Any media type: the file's own (a JSON or GeoJSON upload is served as such).
DOWNLOAD_RESPONSES = {**ok(media={"*/*": {"schema": {}}},
                         description="The file as uploaded, in its own media type"),
                      **errors(400, 401, 403, 404)}


@router.get("/dataset/{name}/resource/{resource_id}/download/{filename}",
            response_class=StreamingResponse, responses=DOWNLOAD_RESPONSES)
@router.get("/dataset/{name}/resource/{resource_id}/download",
            response_class=StreamingResponse, responses=DOWNLOAD_RESPONSES)
async def download(
    request: Request,
    name: str,
    resource_id: str,
    filename: str = "",
    version: int | None = Query(None, ge=1, description="Version number; default the newest"),
) -> StreamingResponse:
    """Download a resource's file; ``?version=N`` returns an earlier upload unchanged."""

    def lookup():
        with request_ctx(request) as ctx:
            ds, r, v, decision = version_for_download(ctx, resource_id, version)
            if ds.name != name:  # checked before the audit entry commits
                raise NotFound("Resource was not found.")
            decision.note(bytes=v.size, file=v.filename)
            # opened now (fetched first, with a bucket): a lost file is a 404, not a cut stream
            return v, ctx.files.iter_bytes(v.sha256), ctx.actor, decision

    v, chunks, actor, decision = await run_in_threadpool(lookup)
    headers = {
        "Content-Disposition": f'attachment; filename="{v.filename}"',
        "Content-Length": str(v.size),
        "ETag": f'"{v.sha256}"',
        "X-Citydata-Version": str(v.version),
        "Digest": f"sha-256={v.sha256}",
        "Content-Security-Policy": DOWNLOAD_CSP,
    }
    platform = request.app.state.platform
    body = guarded(platform.db, actor, decision, chunks,
                   every=platform.settings.stream_recheck_seconds)
    return StreamingResponse(body, media_type=download_media_type(v.mimetype), headers=headers)

"""File downloads: the current or any earlier version of an uploaded resource, streamed."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from citydata.access.guard import guarded
from citydata.api.deps import request_ctx
from citydata.catalog.resources import version_for_download
from citydata.errors import NotFound

router = APIRouter(tags=["Downloads"])


@router.get("/dataset/{name}/resource/{resource_id}/download/{filename}")
@router.get("/dataset/{name}/resource/{resource_id}/download")
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
            return v, ctx.files, ctx.actor, decision

    v, files, actor, decision = await run_in_threadpool(lookup)
    headers = {
        "Content-Disposition": f'attachment; filename="{v.filename}"',
        "Content-Length": str(v.size),
        "ETag": f'"{v.sha256}"',
        "X-Citydata-Version": str(v.version),
        "Digest": f"sha-256={v.sha256}",
    }
    platform = request.app.state.platform
    body = guarded(platform.db, actor, decision, files.iter_bytes(v.sha256),
                   every=platform.settings.stream_recheck_seconds)
    return StreamingResponse(body, media_type=v.mimetype, headers=headers)

"""The London reference boundaries as GeoJSON: the offline basemap of every map."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.storage.models import RefBorough

router = APIRouter(prefix="/api/v1/reference", tags=["Places"])


@router.get("/boroughs.geojson", summary="The 33 London borough boundaries (GeoJSON)",
            response_class=Response)
async def boroughs_geojson(request: Request) -> Response:
    """One feature per borough (GSS code and name), WGS84 — what maps draw beneath the data
    when there is no internet. Cached by the client for a day."""

    def run() -> bytes:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            rows = ctx.session.execute(select(RefBorough.gss_code, RefBorough.name,
                                              RefBorough.geometry)
                                       .order_by(RefBorough.gss_code)).all()
        features: list[dict[str, Any]] = [
            {"type": "Feature", "id": gss, "properties": {"gss_code": gss, "name": name},
             "geometry": json.loads(geometry)} for gss, name, geometry in rows]
        return json.dumps({"type": "FeatureCollection", "features": features},
                          separators=(",", ":")).encode()

    body = await run_in_threadpool(run)
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=86400"})

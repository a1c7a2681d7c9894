"""The London reference boundaries as GeoJSON: the offline basemap of every map (boroughs,
and LSOAs once zoomed in)."""

from __future__ import annotations

import json
from typing import Any

import shapely
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.api.openapi import FEATURE_COLLECTION, errors, ok
from citydata.errors import QueryError
from citydata.geo.crs import CRS84, SUPPORTED, parse_bbox
from citydata.storage.models import RefBorough, RefLsoa

router = APIRouter(prefix="/api/v1/reference", tags=["Places"])
GEOJSON = ok(media={"application/geo+json": {"schema": FEATURE_COLLECTION}})


@router.get("/boroughs.geojson", summary="The 33 London borough boundaries (GeoJSON)",
            response_class=Response, responses=GEOJSON)
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


#: The most LSOAs one request returns (a view at zoom 13 over central London holds ~400).
MAX_LSOAS = 1500


@router.get("/lsoas.geojson", summary="London LSOA boundaries in a box (GeoJSON)",
            response_class=Response, responses={**GEOJSON, **errors(400)})
async def lsoas_geojson(request: Request,
                        bbox: str = Query(..., max_length=200,
                                          description="minlon,minlat,maxlon,maxlat")) -> Response:
    """The LSOAs (2011) whose boundary meets the box: code, name, borough — the detail maps
    draw beneath the data once zoomed in. 400 for a box holding too many of them."""
    west, south, east, north = parse_bbox(bbox, SUPPORTED[CRS84])

    def run() -> bytes:
        # An LSOA is at most a few km across: look for centres a little beyond the box, then
        # keep the boundaries that really meet it.
        pad = 0.03
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            rows = ctx.session.execute(
                select(RefLsoa.code, RefLsoa.name, RefLsoa.borough_gss, RefLsoa.geometry)
                .where(RefLsoa.lon.between(west - pad, east + pad),
                       RefLsoa.lat.between(south - pad, north + pad))
                .order_by(RefLsoa.code).limit(MAX_LSOAS * 4 + 1)).all()
        box = shapely.box(west, south, east, north)
        shapes = shapely.from_geojson([r[3] for r in rows]) if rows else []
        hits = [(r, g) for r, g in zip(rows, shapes, strict=True)
                if g is not None and shapely.intersects(g, box)]
        if len(hits) > MAX_LSOAS or len(rows) > MAX_LSOAS * 4:
            raise QueryError(f"bbox: more than {MAX_LSOAS:,} LSOAs in this box; zoom in",
                             fields={"bbox": ["Too many LSOAs"]})
        features = [{"type": "Feature", "id": r[0],
                     "properties": {"code": r[0], "name": r[1], "borough_gss": r[2]},
                     "geometry": json.loads(r[3])} for r, _ in hits]
        return json.dumps({"type": "FeatureCollection", "features": features},
                          separators=(",", ":")).encode()

    body = await run_in_threadpool(run)
    return Response(body, media_type="application/geo+json",
                    headers={"Cache-Control": "public, max-age=86400"})

"""Answers by place: ``GET /api/v1/places/lookup?postcode=`` or ``?lat=&lon=``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.api.openapi import errors, ok
from citydata.geo.places import council_services, lookup

router = APIRouter(prefix="/api/v1/places", tags=["Places"])


class Point(BaseModel):
    lat: float
    lon: float
    easting: float
    northing: float


class Publisher(BaseModel):
    name: str
    title: str


class Borough(BaseModel):
    gss_code: str
    name: str
    publisher: Publisher | None


class Lsoa(BaseModel):
    code: str
    name: str


class Place(BaseModel):
    postcode: str | None
    point: Point
    borough: Borough
    lsoa: Lsoa | None
    attribution: str


class PlaceServices(Place):
    services: list[dict[str, Any]]


PLACE_ERRORS = errors(400, 404)


@router.get("/lookup", summary="Which borough and LSOA a postcode or point is in",
            responses={**ok(Place), **PLACE_ERRORS})
async def place_lookup(
    request: Request,
    postcode: str = Query("", max_length=20, description="A UK postcode, e.g. SE10 9NN"),
    lat: str = Query("", max_length=30, description="Latitude (WGS84), with lon"),
    lon: str = Query("", max_length=30, description="Longitude (WGS84), with lat"),
) -> dict[str, Any]:
    """The borough (GSS code, name, its council's publisher), the LSOA and the point (WGS84 and
    British National Grid), from the reference data. 404 outside London or for a postcode the
    gazetteer does not hold; 400 for a malformed postcode or coordinate."""

    def run() -> dict[str, Any]:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            return lookup(ctx.session, postcode=postcode or None, lat=lat or None,
                          lon=lon or None)

    return await run_in_threadpool(run)


@router.get("/council-services", summary="A council's service pages, by postcode or point",
            responses={**ok(PlaceServices), **PLACE_ERRORS})
async def council_service_pages(
    request: Request,
    postcode: str = Query("", max_length=20, description="A UK postcode"),
    lat: str = Query("", max_length=30), lon: str = Query("", max_length=30),
) -> dict[str, Any]:
    """Where to report fly-tipping, a pothole, a missed bin... for the council of the place:
    the place (as ``/lookup``) and ``services`` from datasets following the council-services
    standard."""

    def run() -> dict[str, Any]:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            place = lookup(ctx.session, postcode=postcode or None, lat=lat or None,
                           lon=lon or None)
            return {**place, "services": council_services(ctx, place["borough"]["gss_code"])}

    return await run_in_threadpool(run)

"""Native REST API of the Planning Datahub (``/api/v1/planning``). Thin: each route is one call
into the service's modules. Errors use the native shape ``{"error": {"code", "message",
"fields"}}``; planning data is open, so reading needs no sign-in."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import get_platform, request_ctx
from citydata.api.openapi import FEATURE_COLLECTION, TEXT, Listing, errors, ok
from citydata.errors import NotFound, ValidationError, field_error
from citydata.services.planning import history, query, stats
from citydata.services.planning.ingest import STANDARD_FIELDS
from citydata.services.planning.stream import FILTERS as STREAM_FILTERS
from citydata.services.planning.stream import STREAM
from citydata.storage.models_planning import PlanningFeed

router = APIRouter(prefix="/api/v1/planning", tags=["Planning Datahub"])

SEARCH_PARAMS = (*query.FILTERS, "sort", "limit", "offset", "format")
EXPORT_CAP = 1_000_000


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ApplicationPage(BaseModel):
    count: int
    offset: int
    limit: int
    results: list[dict[str, Any]]


class Application(_Open):
    """An application in the London planning application standard, with where each value
    came from and its history."""

    id: str
    provenance: dict[str, Any]
    history: list[dict[str, Any]]


class Dashboard(_Open):
    feed: str | None
    applications: int
    by_status: dict[str, int]
    by_type: dict[str, int]
    approval_rate: float | None


class Scorecard(_Open):
    feed: str
    lpa_name: str | None
    applications: int
    completeness: dict[str, float | None]


class Run(_Open):
    id: str
    issues: list[dict[str, Any]]


READ = errors(400, 404)


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    params = dict(request.query_params)
    query.check_params(params, allowed)
    return params


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise field_error(name, "a whole number")
    return int(raw)


def _feature(app: dict[str, Any]) -> dict[str, Any]:
    geometry = None
    if app.get("lon") is not None:
        geometry = {"type": "Point", "coordinates": [app["lon"], app["lat"]]}
    props = {k: v for k, v in app.items() if k not in ("lon", "lat", "site_geometry")}
    return {"type": "Feature", "id": app["id"], "geometry": geometry, "properties": props}


def _export(request: Request, f: query.Filter, sort: str, fmt: str, cap: int
            ) -> StreamingResponse:
    platform = get_platform(request)

    def rows() -> Iterator[dict[str, Any]]:
        with platform.db.session() as session:
            yield from query.iterate(session, f, sort=sort, cap=cap)

    if fmt == "csv":
        columns = [*STANDARD_FIELDS, "lon", "lat"]

        def body() -> Iterator[str]:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(columns)
            for i, app in enumerate(rows()):
                writer.writerow(["" if app.get(c) is None else app.get(c) for c in columns])
                if i % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="planning-applications.csv"'})

    def geojson() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":['
        for i, app in enumerate(rows()):
            yield ("," if i else "") + json.dumps(_feature(app), default=str)
        yield "]}"

    return StreamingResponse(geojson(), media_type="application/geo+json", headers={
        "Content-Disposition": 'attachment; filename="planning-applications.geojson"'})


@router.get("/applications", summary="Search planning applications", responses={
    **ok(ApplicationPage, media={"text/csv; charset=utf-8": {"schema": TEXT},
                                 "application/geo+json": {"schema": FEATURE_COLLECTION}},
         description="A page of applications (JSON), or every match as CSV or GeoJSON"),
    **READ})
async def search_applications(
    request: Request,
    lpa: str | None = Query(None, description="Authority: feed slug or GSS code, comma list"),
    ward: str | None = Query(None), status: str | None = Query(None),
    decision: str | None = Query(None),
    type: str | None = Query(None, description="Application type code(s)"),
    postcode: str | None = Query(None, description="Full postcode or outward code"),
    received_from: str | None = Query(None), received_to: str | None = Query(None),
    decided_from: str | None = Query(None), decided_to: str | None = Query(None),
    min_units: str | None = Query(None), max_units: str | None = Query(None),
    bbox: str | None = Query(None, description="min lon,min lat,max lon,max lat (WGS 84)"),
    intersects: str | None = Query(None, description="WKT polygon (WGS 84)"),
    q: str | None = Query(None, description="Words in the description, street or reference"),
    sort: str = Query("-received_date", description=", ".join(query.SORTS)),
    limit: str | None = Query(None, description=f"1-{query.MAX_LIMIT}, default 50"),
    offset: str | None = Query(None),
    format: str = Query("json", description="json, csv or geojson (csv/geojson: every match)"),
) -> Any:
    """Applications in the London planning application standard, filtered; the newest first.
    ``format=csv`` or ``geojson`` downloads every match (up to a million, or ``limit``)."""
    params = _params(request, SEARCH_PARAMS)
    f = query.parse_filters(params)
    fmt = params.get("format", "json")
    if fmt not in ("json", "csv", "geojson"):
        raise field_error("format", "json, csv or geojson")
    if sort not in query.SORTS:
        raise field_error("sort", f"one of {', '.join(query.SORTS)}")
    if fmt != "json":
        cap = _int(params, "limit", EXPORT_CAP)
        if not 1 <= cap <= EXPORT_CAP:
            raise field_error("limit", f"1 to {EXPORT_CAP} for a download")
        return _export(request, f, sort, fmt, cap)
    size, start = _int(params, "limit", 50), _int(params, "offset", 0)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            total, results = query.search(ctx.session, f, sort=sort, limit=size, offset=start)
        return {"count": total, "offset": start, "limit": size, "results": results}

    return await run_in_threadpool(run)


@router.get("/applications/{app_id}", summary="One planning application, with its history",
            responses={**ok(Application), **READ})
async def show_application(request: Request, app_id: str) -> dict[str, Any]:
    """The application, where each of its values came from (feed, run, export hash, row,
    source value) and every change to it, oldest first."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            app = query.get(ctx.session, app_id)
            events = history.events_of(ctx.session, app_id)
            return {**app, "provenance": history.provenance(app, events),
                    "history": [history.change_dict(e) for e in events]}

    return await run_in_threadpool(run)


@router.get("/authorities", summary="The planning authorities and their feeds",
            responses=ok(Listing))
async def list_authorities(request: Request) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = stats.overview(ctx.session)
        return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.get("/authorities/{slug}", summary="An authority's dashboard figures",
            responses={**ok(Dashboard), **READ})
async def authority_dashboard(request: Request, slug: str) -> dict[str, Any]:
    """Volumes by month, decision times, approval rate, housing units in the pipeline."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            if ctx.session.get(PlanningFeed, slug) is None:
                raise NotFound(f"No planning authority {slug!r}")
            return stats.dashboard(ctx.session, slug)

    return await run_in_threadpool(run)


@router.get("/quality", summary="The data quality scorecard of every authority",
            responses=ok(Listing))
async def quality(request: Request) -> dict[str, Any]:
    """Completeness per field, validity, timeliness (decision to publication) and open
    issues, per authority."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            cards = stats.scorecards(ctx.session)
        return {"count": len(cards), "results": cards}

    return await run_in_threadpool(run)


@router.get("/quality/{slug}", summary="One authority's data quality scorecard",
            responses={**ok(Scorecard), **READ})
async def quality_of(request: Request, slug: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            if ctx.session.get(PlanningFeed, slug) is None:
                raise NotFound(f"No planning authority {slug!r}")
            return stats.scorecard(ctx.session, slug)

    return await run_in_threadpool(run)


@router.get("/issues", summary="The issue log", responses={**ok(Listing), **READ})
async def list_issues(
    request: Request, lpa: str | None = Query(None), code: str | None = Query(None),
    open: str = Query("true", description="true: open issues only; false: every issue"),
    limit: str | None = Query(None), offset: str | None = Query(None),
) -> dict[str, Any]:
    """Values and rows the pipeline could not take, with the source value and the reason."""
    params = _params(request, ("lpa", "code", "open", "limit", "offset"))
    if params.get("open", "true") not in ("true", "false"):
        raise field_error("open", "true or false")
    size, start = min(_int(params, "limit", 100), 1000), _int(params, "offset", 0)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return history.issues(ctx.session, feed=params.get("lpa"), code=params.get("code"),
                                  open_only=params.get("open", "true") == "true",
                                  limit=size, offset=start)

    return await run_in_threadpool(run)


@router.get("/runs", summary="Ingest runs, newest first", responses={**ok(Listing), **READ})
async def list_runs(request: Request, lpa: str | None = Query(None),
                    limit: str | None = Query(None)) -> dict[str, Any]:
    params = _params(request, ("lpa", "limit"))
    size = min(_int(params, "limit", 50), 500)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = history.runs(ctx.session, feed=params.get("lpa"), limit=size)
        return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.get("/runs/{run_id}", summary="One ingest run's report",
            responses={**ok(Run), **READ})
async def show_run(request: Request, run_id: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return history.run_report(ctx.session, run_id)

    return await run_in_threadpool(run)


@router.get("/events", summary="Live feed of planning events (Server-Sent Events)",
            response_class=StreamingResponse, responses={
                **ok(media={"text/event-stream": {"schema": TEXT}},
                     description="Server-Sent Events: `id`, `event` and `data` (JSON) each"),
                **READ})
async def planning_events(
    request: Request,
    lpa: str | None = Query(None, description="Authority slug(s) or GSS code(s)"),
    ward: str | None = Query(None), bbox: str | None = Query(None),
    type: str | None = Query(None, description="Event type(s): received, decided, ..."),
    application_type: str | None = Query(None),
    last_event_id: str | None = Query(None, description="Resume after this event id (or "
                                      "send the Last-Event-ID header)"),
) -> Any:
    """``text/event-stream`` of ``application.*`` events, each with the application and the
    provenance of what changed. Reconnect with ``Last-Event-ID`` to miss nothing."""
    from citydata.api.events import sse_response

    params = _params(request, (*STREAM_FILTERS, "last_event_id"))
    resume = request.headers.get("last-event-id") or params.pop("last_event_id", None)
    params.pop("last_event_id", None)
    if resume is not None and (not resume.isdigit() or len(resume) > 18):
        raise ValidationError("Last-Event-ID must be an event id (a whole number)",
                              fields={"last_event_id": ["a whole number"]})
    match = STREAM.parse_filters(params)
    return sse_response(request, get_platform(request), STREAM, match,
                        int(resume) if resume is not None else None)

"""Native rows API (Datasette-style) and streaming exports of a resource's table.

``GET /api/v1/resources/{id}/rows`` filters with ``col__op=value`` parameters, sorts with
``_sort``/``_sort_desc``, pages with an opaque keyset ``_next`` token, facets with ``_facet``
and projects with ``_col``. ``/rows.csv|.json|.ndjson|.parquet|.geojson`` stream every matching
row. Errors use the native shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from citydata.access.actors import Actor
from citydata.access.guard import guarded
from citydata.api.deps import DECLARATION_PARAMS, request_ctx
from citydata.api.openapi import BINARY, FEATURE_COLLECTION, TEXT, errors, ok
from citydata.datastore import aggregate
from citydata.datastore import query as rows
from citydata.datastore.export import FORMATS as EXPORT_MEDIA
from citydata.datastore.export import Export, prepare_export
from citydata.datastore.query import (
    OPERATORS,
    Filter,
    RowQuery,
    Snapshot,
    describe_snapshot,
    open_snapshot,
)
from citydata.datastore.synthetic import synthetic_sample
from citydata.errors import QueryError

router = APIRouter(prefix="/api/v1", tags=["Rows"])

SIZE_DEFAULT = 100
SIZE_MAX = 1000
RESERVED = ("_sort", "_sort_desc", "_size", "_facet", "_next", "_shape", "_col", "version",
            *DECLARATION_PARAMS)
SHAPES = ("objects", "arrays", "array")
FILTER_HELP = (
    "Filter with `column__op=value` (or `column=value` for exact). Operators: "
    + ", ".join(f"`{o}`" for o in OPERATORS)
    + ". `__in`/`__notin` take comma-separated values; `__isnull=1` matches empty cells, "
    "`__isnull=0` non-empty ones; `__contains`/`__startswith` ignore case."
)


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    ndjson = "ndjson"
    parquet = "parquet"
    geojson = "geojson"


AGGREGATE_RESERVED = ("_group", "_measure", "_size", "version", *DECLARATION_PARAMS)


class ColumnInfo(BaseModel):
    name: str
    type: str = Field(description="The CKAN type: text, numeric, int, timestamp, ...")


class RowsPage(BaseModel):
    """A page of rows (``_shape=objects`` or ``arrays``)."""

    rows: list[dict[str, Any]] | list[list[Any]]
    next: str | None = Field(description="The keyset token of the next page; null at the end")
    next_url: str | None
    total: int | None
    facets: dict[str, Any]
    columns: list[ColumnInfo]


class AggregateResult(BaseModel):
    resource_id: str
    version: int
    group_by: list[str]
    measures: list[str]
    groups: list[dict[str, Any]] = Field(description="Each group's values, ``count`` and "
                                         "``<fn>_<column>`` measures, largest first")
    truncated: bool
    min_cell_count: int | None
    suppressed_groups: int


class SyntheticSample(BaseModel):
    resource_id: str
    version: int
    synthetic: bool
    columns: list[ColumnInfo]
    rows: list[dict[str, Any]]
    note: str


READ_ERRORS = errors(400, 401, 403, 404)


def parse_rows_params(
    request: Request, snap: Snapshot, *, export: bool = False,
    reserved: tuple[str, ...] = RESERVED,
) -> RowQuery:
    """Turn the query string into a RowQuery; every name is checked against the snapshot."""
    q = RowQuery()
    names = {c.name for c in snap.columns}
    for key, value in request.query_params.multi_items():
        if key.startswith("_") and key not in names or key == "version":
            if key not in reserved:
                raise QueryError(
                    f"Unknown parameter {key!r}; valid: {', '.join(reserved)}",
                    fields={key: ["Unknown parameter"]},
                )
            continue
        column, op = key, "exact"
        if key not in names and "__" in key:
            column, op = key.rsplit("__", 1)
            if op not in OPERATORS:
                raise QueryError(
                    f"Unknown operator {op!r} in {key!r}; valid operators: {', '.join(OPERATORS)}",
                    fields={key: [f"Valid operators: {', '.join(OPERATORS)}"]},
                )
        snap.column(column, param=key)
        parsed: Any = value
        if op in ("in", "notin"):
            parsed = [v for v in value.split(",")] if value != "" else []
        elif op == "isnull":
            parsed = value.lower() in ("1", "true", "yes", "on")
        q.filters.append(Filter(column, op, parsed, key))
    if reserved is AGGREGATE_RESERVED:
        return q
    sorts = request.query_params.getlist("_sort")
    sorts_desc = request.query_params.getlist("_sort_desc")
    if len(sorts) + len(sorts_desc) > 1:
        raise QueryError("Sort by one column: give _sort or _sort_desc once")
    if sorts:
        q.sort = [(sorts[0], False)]
    elif sorts_desc:
        q.sort = [(sorts_desc[0], True)]
    cols = request.query_params.getlist("_col")
    q.columns = cols or None
    if not export:
        size_raw = request.query_params.get("_size", "")
        try:
            size = int(size_raw) if size_raw else SIZE_DEFAULT
        except ValueError:
            raise QueryError(
                "_size: a whole number", fields={"_size": ["Invalid integer"]}
            ) from None
        if size < 1 or size > SIZE_MAX:
            raise QueryError(
                f"_size: between 1 and {SIZE_MAX}", fields={"_size": [f"1 to {SIZE_MAX}"]}
            )
        q.limit = size
        q.after = request.query_params.get("_next") or None
        q.facets = request.query_params.getlist("_facet")
    return q


def _timeout(request: Request) -> float:
    settings = request.app.state.platform.settings
    return float(getattr(settings, "query_timeout_seconds", rows.DEFAULT_TIMEOUT_S))


@router.get(
    "/resources/{resource_id}/rows",
    summary="Query a resource's rows",
    description=FILTER_HELP,
    response_model=None,
    responses={**ok(RowsPage | list[dict[str, Any]],  # type: ignore[arg-type]
                    description="A page of rows; a bare list of rows with _shape=array"),
               **READ_ERRORS},
)
async def get_rows(
    request: Request,
    resource_id: str,
    version: int | None = Query(None, ge=1, description="Version number; default the newest"),
    _sort: str | None = Query(None, description="Sort ascending by this column"),
    _sort_desc: str | None = Query(None, description="Sort descending by this column"),
    _size: int = Query(SIZE_DEFAULT, ge=1, le=SIZE_MAX, description="Rows per page"),
    _facet: list[str] = Query([], description="Count the top 30 values of these columns"),
    _next: str | None = Query(None, description="The `next` token of the previous page"),
    _shape: str = Query("objects", description="objects, arrays, or array (a bare list)"),
    _col: list[str] = Query([], description="Return only these columns"),
) -> Any:
    """Rows of a tabular resource with filters, sort, keyset paging, facets and projection."""
    if _shape not in SHAPES:
        raise QueryError(f"_shape: one of {', '.join(SHAPES)}", fields={"_shape": list(SHAPES)})

    def work() -> rows.Page:
        # One transaction: the policy decides, the query runs, the audit entry (with the rows
        # returned) commits — and only then does the response go out.
        with request_ctx(request) as ctx:
            snap = open_snapshot(ctx, resource_id, version)
            q = parse_rows_params(request, snap)
            page = rows.run_page(snap, q, keyset=True, timeout=_timeout(request))
            if snap.decision is not None:
                snap.decision.note(rows=len(page.rows), query=_query_note(request))
            return page

    page = await run_in_threadpool(work)
    names = [c.name for c in page.columns]
    objects = [dict(zip(names, r, strict=True)) for r in page.rows]
    if _shape == "array":
        return JSONResponse(objects)
    next_url = None
    if page.next:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "_next"]
        params.append(("_next", page.next))
        next_url = f"{str(request.base_url).rstrip('/')}{request.url.path}?{urlencode(params)}"
    return JSONResponse(
        {
            "rows": objects if _shape == "objects" else page.rows,
            "next": page.next,
            "next_url": next_url,
            "total": page.total,
            "facets": page.facets,
            "columns": [{"name": c.name, "type": c.ckan_type} for c in page.columns],
        }
    )


@router.get(
    "/resources/{resource_id}/rows.{fmt}",
    summary="Export a resource's rows (streamed)",
    description="Every row matching the same filters, sort and `_col` as `/rows`. " + FILTER_HELP,
    response_class=StreamingResponse,
    responses={**ok(media={
        EXPORT_MEDIA["csv"]: {"schema": TEXT},
        EXPORT_MEDIA["json"]: {"schema": {"type": "array", "items": {"type": "object"}}},
        EXPORT_MEDIA["ndjson"]: {"schema": TEXT},
        EXPORT_MEDIA["parquet"]: {"schema": BINARY},
        EXPORT_MEDIA["geojson"]: {"schema": FEATURE_COLLECTION},
    }, description="Every matching row in the format asked for"),
               **READ_ERRORS},
)
async def export_rows(
    request: Request,
    resource_id: str,
    fmt: ExportFormat,
    version: int | None = Query(None, ge=1, description="Version number; default the newest"),
    _sort: str | None = Query(None),
    _sort_desc: str | None = Query(None),
    _col: list[str] = Query([]),
) -> StreamingResponse:
    """Stream a query's rows as CSV (formula-safe), JSON, NDJSON, Parquet or GeoJSON."""

    def work() -> tuple[Export, Actor]:
        with request_ctx(request) as ctx:
            snap = open_snapshot(ctx, resource_id, version, action="download")
            export = prepare_export(snap, parse_rows_params(request, snap, export=True),
                                    fmt.value)
            if snap.decision is not None:
                snap.decision.note(export=fmt.value, query=_query_note(request))
            return export, ctx.actor

    export, actor = await run_in_threadpool(work)
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-Citydata-Version": str(export.snap.version),
    }
    platform = request.app.state.platform
    body = guarded(platform.db, actor, export.snap.decision, export.iter_bytes(),
                   every=platform.settings.stream_recheck_seconds)
    return StreamingResponse(body, media_type=export.media_type, headers=headers)


def _query_note(request: Request) -> str:
    """The query string as the audit log records it (what was asked, not the answer)."""
    return str(request.url.query)[:1000]


@router.get(
    "/resources/{resource_id}/aggregate",
    summary="Grouped counts of a resource's rows",
    description=(
        "Counts (and `sum:`/`avg:`/`min:`/`max:` of numeric columns) per group of `_group` "
        "columns, over rows selected with the same filters as `/rows`. Under an "
        "aggregate-only agreement, groups smaller than its minimum cell count are suppressed, "
        "filters are not accepted and min/max are not offered."
    ),
    response_model=None,
    responses={**ok(AggregateResult), **READ_ERRORS},
)
async def aggregate_rows(
    request: Request,
    resource_id: str,
    version: int | None = Query(None, ge=1, description="Version number; default the newest"),
    _group: list[str] = Query([], description="Group by these columns (up to 4)"),
    _measure: list[str] = Query([], description="function:column, e.g. sum:cost (up to 5)"),
    _size: int = Query(aggregate.GROUPS_DEFAULT, ge=1, le=aggregate.GROUPS_MAX,
                       description="Largest groups first, at most this many"),
) -> Any:
    """Grouped counts with small-cell suppression: the only way to use aggregate-only data."""
    agg = aggregate.Aggregate(_group, [aggregate.parse_measure(m) for m in _measure], _size)

    def work() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            snap = open_snapshot(ctx, resource_id, version, action="aggregate")
            decision = snap.decision
            q = parse_rows_params(request, snap, reserved=AGGREGATE_RESERVED)
            min_cells = decision.min_cell_count if decision else 0
            if min_cells and q.filters:
                raise QueryError("Filters are not available under aggregate-only access: they "
                                 "would let small groups be worked out by difference",
                                 fields={"filters": ["Not available"]})
            result = aggregate.run_aggregate(snap, q, agg, min_cell_count=min_cells,
                                             timeout=_timeout(request))
            if decision is not None:
                decision.note(groups=len(result["groups"]), query=_query_note(request))
            return result

    return JSONResponse(await run_in_threadpool(work))


@router.get(
    "/resources/{resource_id}/sample",
    summary="A synthetic sample of a resource's table",
    description="Made-up rows with the real columns and types, for restricted data whose "
    "publisher offers one (and for anyone who may read the data). Never real records.",
    response_model=None,
    responses={**ok(SyntheticSample), **READ_ERRORS},
)
async def sample_rows(
    request: Request,
    resource_id: str,
    version: int | None = Query(None, ge=1, description="Version number; default the newest"),
) -> Any:
    """A synthetic sample: each column drawn on its own, categories only when common."""

    def work() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            snap = describe_snapshot(ctx, resource_id, version, need="sample")
            seed = f"{snap.path.name}:{snap.version}"
        return {"resource_id": snap.resource_id, "version": snap.version,
                **synthetic_sample(snap, seed)}

    return JSONResponse(await run_in_threadpool(work))

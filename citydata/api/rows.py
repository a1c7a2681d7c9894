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
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.datastore import query as rows
from citydata.datastore.export import Export, prepare_export
from citydata.datastore.query import OPERATORS, Filter, RowQuery, Snapshot, open_snapshot
from citydata.errors import QueryError

router = APIRouter(prefix="/api/v1", tags=["Rows"])

SIZE_DEFAULT = 100
SIZE_MAX = 1000
RESERVED = ("_sort", "_sort_desc", "_size", "_facet", "_next", "_shape", "_col", "version")
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


def parse_rows_params(request: Request, snap: Snapshot, *, export: bool = False) -> RowQuery:
    """Turn the query string into a RowQuery; every name is checked against the snapshot."""
    q = RowQuery()
    names = {c.name for c in snap.columns}
    for key, value in request.query_params.multi_items():
        if key.startswith("_") and key not in names or key == "version":
            if key not in RESERVED:
                raise QueryError(
                    f"Unknown parameter {key!r}; valid: {', '.join(RESERVED)}",
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


def _snapshot(request: Request, resource_id: str, version: int | None) -> Snapshot:
    with request_ctx(request) as ctx:
        return open_snapshot(ctx, resource_id, version)


def _timeout(request: Request) -> float:
    settings = request.app.state.platform.settings
    return float(getattr(settings, "query_timeout_seconds", rows.DEFAULT_TIMEOUT_S))


@router.get(
    "/resources/{resource_id}/rows",
    summary="Query a resource's rows",
    description=FILTER_HELP,
    response_model=None,
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
        snap = _snapshot(request, resource_id, version)
        q = parse_rows_params(request, snap)
        return rows.run_page(snap, q, keyset=True, timeout=_timeout(request))

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

    def work() -> Export:
        snap = _snapshot(request, resource_id, version)
        return prepare_export(snap, parse_rows_params(request, snap, export=True), fmt.value)

    export = await run_in_threadpool(work)
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-Citydata-Version": str(export.snap.version),
    }
    return StreamingResponse(export.iter_bytes(), media_type=export.media_type, headers=headers)

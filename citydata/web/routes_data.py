"""Data pages: the rows explorer of a tabular file, column profiles, and the data standards.

The explorer is a GET form that works without JavaScript. Its filter rows (column, operator,
value) are turned into the native rows API's query string (``col__op=value``, ``_sort``,
``_size``, ``_facet``), which is then parsed by the API's own parser — so the page, its
"download this query" links and the API URL it shows always mean exactly the same rows.
Every snapshot is opened through :func:`citydata.datastore.query.open_snapshot`, i.e. the
download access policy (private → 404 for outsiders, registered → sign in).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request as StarletteRequest

from citydata.api.deps import request_ctx
from citydata.api.rows import parse_rows_params
from citydata.catalog import datasets
from citydata.catalog.context import Ctx
from citydata.datastore import query as rows
from citydata.datastore.export import prepare_export
from citydata.datastore.profile import profile_snapshot
from citydata.datastore.query import RowQuery, Snapshot, open_snapshot
from citydata.errors import CitydataError, NotFound, QueryError
from citydata.standards.registry import Registry, build_registry
from citydata.web.render import actor_context, render_page

router = APIRouter(include_in_schema=False)

FILTER_ROWS = 3
FACET_SLOTS = 3
PAGE_SIZES = (10, 25, 50, 100, 250)
DEFAULT_SIZE = 25
#: Profiles read whole snapshots; a dataset with many tables profiles only the first few.
MAX_PROFILES = 5
PROFILE_TIMEOUT_S = 5.0
#: The rows API's operators, in the order and words the form shows them.
OPERATOR_LABELS: dict[str, str] = {
    "exact": "is",
    "not": "is not",
    "contains": "contains",
    "startswith": "starts with",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of (separate with commas)",
    "notin": "is none of (separate with commas)",
    "isnull": "is empty (value 1) or filled (value 0)",
}
EXPORT_FORMATS = ("csv", "json", "ndjson", "parquet", "geojson")
EXPORT_LABELS = {"csv": "CSV", "json": "JSON", "ndjson": "NDJSON", "parquet": "Parquet",
                 "geojson": "GeoJSON"}


# -- column profiles on the dataset page --------------------------------------------------------
def add_profiles(ctx: Ctx, ds: dict[str, Any], views: list[dict[str, Any]]) -> None:
    """Give each queryable resource view a ``profile`` (or ``profile_error``), where allowed.

    Called by the dataset page with its resource views; ``view["readable"]`` is the policy's
    answer for this reader and resource, and ``open_snapshot`` decides again (and records the
    read: a profile's top values and ranges come from the data)."""
    done = 0
    for view in views:
        view.setdefault("profile", None)
        view.setdefault("profile_error", "")
        if not (view.get("readable") and view.get("datastore_active")) or done >= MAX_PROFILES:
            continue
        done += 1
        try:
            snap = open_snapshot(ctx, view["id"])
            view["profile"] = profile_snapshot(snap.path, snap.columns,
                                               timeout=PROFILE_TIMEOUT_S)
        except CitydataError as exc:
            view["profile_error"] = exc.message


# -- the rows explorer --------------------------------------------------------------------------
def explorer_pairs(params: QueryParams) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The explorer's form fields → the rows API's (name, value) pairs, and the form state.

    Filter rows with no column, or no value (except "is empty"), are left out."""
    cols, ops, values = (params.getlist(k) for k in ("column", "op", "value"))
    filters = []
    pairs: list[tuple[str, str]] = []
    for i in range(min(len(cols), FILTER_ROWS)):
        col = cols[i].strip()
        op = ops[i] if i < len(ops) else "exact"
        value = values[i] if i < len(values) else ""
        filters.append({"column": col, "op": op, "value": value})
        if not col or (value == "" and op != "isnull"):
            continue
        pairs.append((f"{col}__{op}", value if value != "" else "1"))
    while len(filters) < FILTER_ROWS:
        filters.append({"column": "", "op": "exact", "value": ""})
    sort = params.get("sort", "")
    direction = "desc" if params.get("dir") == "desc" else "asc"
    if sort:
        pairs.append(("_sort_desc" if direction == "desc" else "_sort", sort))
    size = params.get("size", "") or str(DEFAULT_SIZE)
    pairs.append(("_size", size))
    facets = list(dict.fromkeys(f for f in params.getlist("facet")[:FACET_SLOTS] if f))
    pairs.extend(("_facet", f) for f in facets)
    if params.get("version"):
        pairs.append(("version", params["version"]))
    state = {"filters": filters, "sort": sort, "dir": direction, "size": size,
             "facets": facets + [""] * (FACET_SLOTS - len(facets)),
             "version": params.get("version", "")}
    return pairs, state


def _row_query(snap: Snapshot, pairs: list[tuple[str, str]], after: str | None) -> RowQuery:
    """Parse the pairs with the API's own parser: the page and the API cannot drift apart."""
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [],
             "query_string": urlencode(pairs).encode()}
    q = parse_rows_params(StarletteRequest(scope), snap)
    q.after = after
    return q


def _links(resource_id: str, snap: Snapshot, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Exports of exactly this query (every row: no size, facets or cursor) and the API URL."""
    base = f"/api/v1/resources/{quote(resource_id)}/rows"
    export = [(k, v) for k, v in pairs if k not in ("_size", "_facet")]
    query = urlencode(export)
    exports = []
    for fmt in EXPORT_FORMATS:
        if fmt == "geojson":
            try:
                prepare_export(snap, RowQuery(), "geojson")
            except QueryError:
                continue  # no geometry or latitude/longitude columns
        exports.append({"format": fmt, "label": EXPORT_LABELS[fmt],
                        "url": f"{base}.{fmt}" + (f"?{query}" if query else "")})
    api = base + (f"?{urlencode(pairs)}" if pairs else "")
    return {"exports": exports, "api": api}


def _field_errors(exc: QueryError, pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The query error as error-summary items, each linked to the form field it concerns."""
    out = []
    filter_keys = [k for k, _ in pairs if not k.startswith("_") and k != "version"]
    for key, messages in (exc.fields or {}).items():
        anchor = "filter-column-1"
        if key in filter_keys:
            anchor = f"filter-value-{filter_keys.index(key) + 1}"
        elif key in ("_sort", "_sort_desc", "sort"):
            anchor = "sort"
        elif key == "_size":
            anchor = "size"
        elif key == "_facet":
            anchor = "facet-1"
        elif key == "_next":
            anchor = "results"
        text = exc.message if len(exc.fields) == 1 else f"{key}: {' '.join(messages)}"
        out.append({"anchor": anchor, "text": text.removeprefix(f"{key}: ")})
    return out or [{"anchor": "filter-column-1", "text": exc.message}]


@router.get("/dataset/{name}/resource/{resource_id}/rows", response_class=HTMLResponse)
async def rows_explorer(request: Request, name: str, resource_id: str) -> Response:
    """Filter, sort, facet and page through a table; download exactly what is shown."""
    params = request.query_params
    pairs, state = explorer_pairs(params)

    def work() -> Response:
        with request_ctx(request) as ctx:
            ds = datasets.show_dataset(ctx, name)
            resource = next((r for r in ds["resources"] if r["id"] == resource_id), None)
            if resource is None:
                raise NotFound("Resource was not found.")
            version = params.get("version")
            try:
                number = int(version) if version else None
            except ValueError:
                raise NotFound(f"Version {version} of this resource does not exist") from None
            snap = open_snapshot(ctx, resource_id, number)  # the access policy decides here
            context: dict[str, Any] = {
                **actor_context(ctx), "ds": ds, "resource": resource, "snap": snap,
                "state": state, "operators": list(OPERATOR_LABELS.items()),
                "page_sizes": PAGE_SIZES, "errors": [], "page": None,
                "base": request.url.path, "site_url": ctx.site_url,
                "facetable": [c for c in snap.columns if c.simple],
                "declared": ctx.actor.agreement or "",
                "can_export": snap.decision is None or not snap.decision.audited
                or ctx.access.allows(datasets.get_visible(ctx, name), "download", resource_id),
            }
            try:
                q = _row_query(snap, pairs, params.get("next") or None)
                timeout = float(getattr(ctx.settings, "query_timeout_seconds",
                                        rows.DEFAULT_TIMEOUT_S))
                page = rows.run_page(snap, q, keyset=True, timeout=timeout)
                if snap.decision is not None:
                    snap.decision.note(rows=len(page.rows), query=str(request.url.query)[:1000])
            except QueryError as exc:
                context["errors"] = _field_errors(exc, pairs)
                return render_page(request, "data_explorer.html", context, status_code=400)
            form = [(k, v) for k, v in params.multi_items() if k != "next"]
            context.update(
                page=page,
                **_links(resource_id, snap, pairs + (
                    [("_agreement", ctx.actor.agreement)] if ctx.actor.agreement else [])),
                next_url=(f"{request.url.path}?{urlencode([*form, ('next', page.next)])}"
                          if page.next else ""),
                first_url=(f"{request.url.path}?{urlencode(form)}"
                           if params.get("next") else ""),
                facet_links=_facet_links(request.url.path, params, page),
            )
            return render_page(request, "data_explorer.html", context)

    return await run_in_threadpool(work)


def _facet_links(path: str, params: QueryParams, page: rows.Page) -> dict[str, list[dict]]:
    """Each facet value with a link that adds "column is value" as a filter (page 1)."""
    base = [(k, v) for k, v in params.multi_items() if k not in ("next",)]
    cols = params.getlist("column")
    used = sum(1 for c, v, o in zip(cols, params.getlist("value"), params.getlist("op"),
                                    strict=False) if c and (v or o == "isnull"))
    out: dict[str, list[dict]] = {}
    for name, facet in page.facets.items():
        items = []
        for item in facet["results"]:
            link = ""
            if item["value"] is not None and used < FILTER_ROWS:
                # Keep the filled filter rows, then add this value in the next row.
                kept = [(k, v) for k, v in base if k not in ("column", "op", "value")]
                rows_ = [(c, o, v) for c, o, v in zip(cols, params.getlist("op"),
                                                      params.getlist("value"), strict=False)
                         if c and (v or o == "isnull")]
                rows_.append((name, "exact", _text(item["value"])))
                filled = [p for c, o, v in rows_ for p in (("column", c), ("op", o),
                                                               ("value", v))]
                link = f"{path}?{urlencode(filled + kept)}"
            items.append({**item, "label": "(empty)" if item["value"] is None
                          else _text(item["value"]), "url": link})
        out[name] = items
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- data standards -----------------------------------------------------------------------------
def _registry(request: Request) -> Registry:
    # The same registry the standards API keeps on app.state (this application's plugins).
    registry = getattr(request.app.state, "standards", None)
    if registry is None:
        registry = build_registry(request.app.state.platform.plugins)
        request.app.state.standards = registry
    return registry


def standard_options(request: Request) -> list[tuple[str, str]]:
    """(conforms_to value, label) for the publish form's "Data standard" select."""
    return [("", "None")] + [
        (s["name"], f"{s['title'] or s['name']} ({s['name']}, version {s['latest']})")
        for s in _registry(request).summaries()
    ]


@router.get("/standards", response_class=HTMLResponse)
def standards_page(request: Request) -> Response:
    """Every registered data standard."""
    with request_ctx(request) as ctx:
        return render_page(request, "standards.html", {
            **actor_context(ctx), "standards": _registry(request).summaries()})


@router.get("/standards/{name}", response_class=HTMLResponse)
def standard_page(request: Request, name: str, version: str = "") -> Response:
    """One standard's fields and primary key (newest version unless ``?version=``)."""
    registry = _registry(request)
    with request_ctx(request) as ctx:
        schema = registry.get(name, version or None)  # NotFound → the 404 page
        fields = [{**f, "constraints": {k: v for k, v in (f.get("constraints") or {}).items()
                                        if k != "required"},
                   "required": bool((f.get("constraints") or {}).get("required"))
                   or f["name"] in (schema.get("primaryKey") or [])}
                  for f in schema.get("fields", [])]
        return render_page(request, "standard.html", {
            **actor_context(ctx), "schema": schema, "fields": fields,
            "versions": list(registry.standards.get(name, {})),
        })

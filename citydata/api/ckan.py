"""CKAN Action API adapter: ``/api/3/action/{name}`` so existing CKAN clients work unchanged.

Each action turns CKAN's parameters into one catalog call. Errors use CKAN's envelope and its
status codes: Validation Error 409, Search Query Error 400, Authorization Error 403,
Not Found Error 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from citydata import __version__
from citydata.access import throttle
from citydata.api.deps import DECLARATION_PARAMS, client_address, get_platform, request_ctx
from citydata.api.openapi import errors, ok
from citydata.api.uploads import ParsedForm, parse_multipart
from citydata.catalog import datasets, licenses, organizations, resources, search, users
from citydata.catalog.context import Ctx
from citydata.errors import NotFound, QueryError, ValidationError
from citydata.storage.files import StagedFile

router = APIRouter(prefix="/api", tags=["CKAN Action API"])

HELP = "{base}/api/3/action/help_show?name={name}"
ROWS_MAX = 1000
SEARCH_PARAMS = {
    "q",
    "fq",
    "fq_list",
    "rows",
    "start",
    "sort",
    "facet",
    "facet.mincount",
    "facet.limit",
    "facet.field",
    "include_private",
    "include_drafts",
    "include_deleted",
    "use_default_schema",
    "fl",
    "defType",
    "qf",
    "wt",
    "mm",
    "tie",
    "bf",
    "boost",
    "df",
    "callback",
    "_",
}
ERROR_TYPES = {
    403: "Authorization Error",
    401: "Authorization Error",
    404: "Not Found Error",
    400: "Bad request",
}

Action = Callable[[Ctx, dict, dict[str, StagedFile]], Any]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register


def ckan_error_response(status: int, code: str, message: str, fields: dict) -> JSONResponse:
    if code == "query_error":
        error: dict[str, Any] = {
            "__type": "Search Query Error",
            "message": f"Search Query is invalid: {message}",
        }
    elif status in (409, 413) or code in ("validation_error", "conflict"):
        status = 409 if status == 400 else status
        error = {"__type": "Validation Error", "message": message, **fields}
    else:
        error = {"__type": ERROR_TYPES.get(status, "Error"), "message": message}
        if status == 401:
            status = 403  # CKAN answers missing or bad credentials with 403
    return JSONResponse({"help": "", "success": False, "error": error}, status_code=status)


# -- parameter helpers -------------------------------------------------------------------------
#: The largest integer parameter (offsets, starts) the CKAN API takes without a cap of its own.
MAX_INT = 1_000_000_000


def _int(
    data: dict,
    key: str,
    default: int,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    query: bool = False,
) -> int:
    raw = data.get(key, default)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        err = QueryError if query else ValidationError
        raise err(f"{key}: Invalid integer", fields={key: ["Invalid integer"]}) from None
    if value < minimum:
        err = QueryError if query else ValidationError
        raise err(f"{key}: Must be a natural number", fields={key: ["Must be a natural number"]})
    if maximum is None and value > MAX_INT:
        # Offsets and counts beyond this are mistakes, and overflow SQLite's 64-bit integers.
        err = QueryError if query else ValidationError
        message = f"Must be at most {MAX_INT:,}"
        raise err(f"{key}: {message}", fields={key: [message]})
    return min(value, maximum) if maximum is not None else value


def _bool(data: dict, key: str, default: bool = False) -> bool:
    raw = data.get(key, default)
    if isinstance(raw, bool):
        return raw
    return str(raw).lower() in ("true", "1", "yes", "on")


def _require(data: dict, key: str) -> Any:
    value = data.get(key)
    if value in (None, ""):
        raise ValidationError(f"{key}: Missing value", fields={key: ["Missing value"]})
    return value


# -- actions -----------------------------------------------------------------------------------
@action("status_show")
def status_show(ctx: Ctx, data: dict, files: dict) -> dict:
    return {
        "site_title": ctx.settings.site_title,
        "site_description": "London's open city data platform",
        "site_url": ctx.site_url,
        "ckan_version": "2.10.0",
        "citydata_version": __version__,
        "locale_default": "en_GB",
        "extensions": ["citydata", "dcat", "datastore"],
    }


@action("package_list")
def package_list(ctx: Ctx, data: dict, files: dict) -> list[str]:
    limit = _int(data, "limit", -1, minimum=-1) if "limit" in data else None
    offset = _int(data, "offset", 0)
    return datasets.list_names(ctx, limit=None if limit in (None, -1) else limit, offset=offset)


@action("package_search")
def package_search(ctx: Ctx, data: dict, files: dict) -> dict:
    unknown = sorted(k for k in data if k not in SEARCH_PARAMS and not k.startswith("ext_"))
    if unknown:
        raise QueryError(f"Invalid search parameters: {unknown}")
    facet_fields: list[str] = []
    if "facet.field" in data:
        raw = data["facet.field"]
        try:
            facet_fields = json.loads(raw) if isinstance(raw, str) else list(raw)
        except (ValueError, TypeError):
            raise QueryError('facet.field must be a JSON list, e.g. ["tags"]') from None
        if not isinstance(facet_fields, list) or not all(isinstance(f, str) for f in facet_fields):
            raise QueryError("facet.field must be a JSON list of field names")
    if not _bool(data, "facet", True):
        facet_fields = []
    fq = data.get("fq") or ""
    if isinstance(data.get("fq_list"), list):
        fq = " ".join([fq, *[str(x) for x in data["fq_list"]]])
    if not isinstance(fq, str) or not isinstance(data.get("q", ""), str):
        raise QueryError("q and fq must be strings")
    rows = _int(data, "rows", 10, maximum=ROWS_MAX, query=True)
    start = _int(data, "start", 0, query=True)
    facet_limit = _int(data, "facet.limit", 50, minimum=-1, query=True)
    found = search.search_datasets(
        ctx.session,
        ctx.actor,
        q=data.get("q", ""),
        fq=fq,
        sort=data.get("sort"),
        rows=rows,
        start=start,
        facet_fields=facet_fields,
        facet_limit=10_000 if facet_limit == -1 else facet_limit,
        include_private=_bool(data, "include_private", False),
        bbox=search.parse_bbox(data.get("ext_bbox")),
    )
    return package_search_result(ctx, found, data.get("sort"))


def package_search_result(ctx: Ctx, found: dict, sort: str | None) -> dict:
    results = datasets.dataset_dicts(ctx, found["ids"])
    facets = {name: dict(items) for name, items in found["facets"].items()}
    search_facets = {
        name: {
            "title": name,
            "items": [{"name": v, "display_name": v, "count": c} for v, c in items],
        }
        for name, items in found["facets"].items()
    }
    return {
        "count": found["count"],
        "sort": sort or "score desc, metadata_modified desc",
        "facets": facets,
        "search_facets": search_facets,
        "results": results,
    }


@action("package_show")
def package_show(ctx: Ctx, data: dict, files: dict) -> dict:
    return datasets.show_dataset(ctx, _require(data, "id"))


@action("package_create")
def package_create(ctx: Ctx, data: dict, files: dict) -> dict:
    return datasets.create_dataset(ctx, data)


@action("package_update")
def package_update(ctx: Ctx, data: dict, files: dict) -> dict:
    return datasets.update_dataset(ctx, _require(data, "id"), data)


@action("package_patch")
def package_patch(ctx: Ctx, data: dict, files: dict) -> dict:
    return datasets.update_dataset(ctx, _require(data, "id"), data, partial=True)


@action("package_delete")
def package_delete(ctx: Ctx, data: dict, files: dict) -> None:
    datasets.delete_dataset(ctx, _require(data, "id"))
    return None


def _upload(files: dict[str, StagedFile]) -> StagedFile | None:
    return files.get("upload")


@action("resource_create")
def resource_create(ctx: Ctx, data: dict, files: dict) -> dict:
    _require(data, "package_id")
    return resources.create_resource(ctx, data, _upload(files))


@action("resource_update")
def resource_update(ctx: Ctx, data: dict, files: dict) -> dict:
    _require(data, "id")
    return resources.update_resource(ctx, data, _upload(files))


@action("resource_patch")
def resource_patch(ctx: Ctx, data: dict, files: dict) -> dict:
    _require(data, "id")
    return resources.update_resource(ctx, data, _upload(files), partial=True)


@action("resource_show")
def resource_show(ctx: Ctx, data: dict, files: dict) -> dict:
    return resources.show_resource(ctx, _require(data, "id"))


@action("resource_delete")
def resource_delete(ctx: Ctx, data: dict, files: dict) -> None:
    resources.delete_resource(ctx, _require(data, "id"))
    return None


@action("organization_list")
def organization_list(ctx: Ctx, data: dict, files: dict) -> list:
    return organizations.list_organizations(
        ctx.session,
        ctx.actor,
        all_fields=_bool(data, "all_fields"),
        limit=_int(data, "limit", 1000, maximum=1000),
        offset=_int(data, "offset", 0),
    )


@action("organization_show")
def organization_show(ctx: Ctx, data: dict, files: dict) -> dict:
    org = organizations.get_organization(ctx.session, _require(data, "id"))
    out = organizations.organization_dict(ctx.session, org, ctx.actor)
    if _bool(data, "include_datasets", False):
        found = search.search_datasets(
            ctx.session, ctx.actor, fq=f'owner_org:"{org.id}"', rows=1000, include_private=True
        )
        out["packages"] = package_search_result(ctx, found, None)["results"]
    out["users"] = (
        [{"name": n, "capacity": r} for n, r in organizations.members(ctx.session, org)]
        if ctx.actor.sysadmin or ctx.actor.role_in(org.id)
        else []
    )
    return out


@action("organization_create")
def organization_create(ctx: Ctx, data: dict, files: dict) -> dict:
    return organizations.create_organization(ctx.session, ctx.actor, data)


@action("organization_member_create")
def organization_member_create(ctx: Ctx, data: dict, files: dict) -> dict:
    org = _require(data, "id")
    user = _require(data, "username")
    role = data.get("role") or "member"
    organizations.add_member(ctx.session, ctx.actor, org, user, role)
    return {"organization": org, "username": user, "role": role}


@action("tag_list")
def tag_list(ctx: Ctx, data: dict, files: dict) -> list:
    return search.tag_names(ctx.session, ctx.actor, query=data.get("query") or data.get("q"))


@action("license_list")
def license_list(ctx: Ctx, data: dict, files: dict) -> list:
    return licenses.license_list()


@action("api_token_create")
def api_token_create(ctx: Ctx, data: dict, files: dict) -> dict:
    """Create an API token: ``user``, ``name``, ``expires_in`` with ``unit`` (seconds, as
    CKAN); citydata adds ``scope`` (read | write | admin) and ``agreement`` (bind it to one)."""
    user = _require(data, "user")
    name = data.get("name") or ""
    expires = data.get("expires_in")
    days = None
    if expires not in (None, ""):
        try:
            seconds = int(expires) * int(data.get("unit", 86400))
        except (TypeError, ValueError):
            raise ValidationError("expires_in and unit: whole numbers",
                                  fields={"expires_in": ["Invalid integer"]}) from None
        days = max(1, round(seconds / 86400))
    token = users.create_token(
        ctx.session, ctx.actor, user, name=name, expires_days=days,
        scope=str(data.get("scope") or "admin"), agreement=data.get("agreement") or None)
    return {"token": token}


@action("help_show")
def help_show(ctx: Ctx, data: dict, files: dict) -> str:
    name = _require(data, "name")
    fn = ACTIONS.get(name)
    if fn is None:
        raise NotFound(f"Action {name!r} not found")
    return (fn.__doc__ or f"CKAN action {name}").strip()


# -- routing ---------------------------------------------------------------------------------
class CkanSuccess(BaseModel):
    """CKAN's success envelope; ``result`` is the action's answer (see the action's help)."""

    help: str = Field(description="Where the action's documentation is")
    success: Literal[True]
    result: Any = Field(description="The action's answer: a dict, a list, a string or null")


ACTION_RESPONSES = {**ok(CkanSuccess),
                    **errors(400, 403, 404, 409, 413, 415, 429, family="ckan")}


async def _read_params(request: Request, platform: Any) -> tuple[dict, ParsedForm | None]:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key not in DECLARATION_PARAMS:  # read by resolve_actor, not an action parameter
            params[key] = value
    if request.method != "POST":
        return params, None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await parse_multipart(request, platform.files, platform.settings.max_upload_bytes)
        for key, value in form.fields.items():
            params[key] = _maybe_json(value)
        return params, form
    if ctype == "application/x-www-form-urlencoded":
        form_data = await request.form()
        params.update({k: _maybe_json(str(v)) for k, v in form_data.items()})
        return params, None
    body = await request.body()
    if body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            raise ValidationError("Bad request - JSON Error: could not parse the body") from None
        if not isinstance(parsed, dict):
            raise ValidationError("Bad request - JSON Error: the body must be a JSON object")
        params.update(parsed)
    return params, None


def _maybe_json(value: str) -> Any:
    # ckanapi sends nested values (tags, extras) of multipart requests as JSON strings.
    v = value.strip()
    if v[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except ValueError:
            return value
    return value


# GET and POST as routes of their own, so each has its own OpenAPI operation id.
@router.get("/3/action/{name}", responses=ACTION_RESPONSES)
@router.post("/3/action/{name}", responses=ACTION_RESPONSES)
@router.api_route("/action/{name}", methods=["GET", "POST"], include_in_schema=False)
async def call_action(name: str, request: Request) -> JSONResponse:
    """Call a CKAN action: GET with query parameters, or POST with JSON or multipart."""
    fn = ACTIONS.get(name)
    if fn is None:
        return JSONResponse(
            {
                "help": "",
                "success": False,
                "error": {"__type": "Bad request", "message": f"Action name not known: {name}"},
            },
            status_code=400,
        )
    platform = get_platform(request)
    params, form = await _read_params(request, platform)
    files = form.files if form else {}
    try:
        result = await _run(request, fn, params, files, name)
    finally:
        if form:  # staged files not committed by the action are removed
            form.discard(platform.files)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {"help": HELP.format(base=base, name=name), "success": True, "result": result}
    )


#: Actions that hand out a credential, counted per user and per client (``access.throttle``).
THROTTLED_ACTIONS = {"api_token_create": "token_create"}


async def _run(request: Request, fn: Action, params: dict, files: dict, name: str) -> Any:
    from starlette.concurrency import run_in_threadpool

    kind = THROTTLED_ACTIONS.get(name)
    client = client_address(request)

    def work() -> Any:
        # A bad or expired token is an error even on read actions, as in CKAN.
        with request_ctx(request) as ctx:
            if kind is None:
                return fn(ctx, params, files)
            throttle.check(ctx.session, ctx.settings, ctx.actor.name, client, kind=kind)
            result = fn(ctx, params, files)
            throttle.failed(ctx.session, ctx.settings, ctx.actor.name, client, kind=kind)
            return result

    return await run_in_threadpool(work)

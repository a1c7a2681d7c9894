"""Native REST API of federation: harvest sources and jobs, nodes, live federated search,
access to data held at owner nodes. Thin: each route is one call into
:mod:`citydata.federation`.

Node-to-node routes (``/federation/nodes`` registration, ``/federation/inbox/...``) accept
only requests signed by a registered node (RFC 9421, see :mod:`citydata.federation.signing`).
Errors use the native shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from citydata.access import throttle
from citydata.access.policy import require_sysadmin
from citydata.api.deps import body_doc, client_address, get_platform, json_body, request_ctx
from citydata.api.openapi import Listing, errors, ok
from citydata.errors import NotAuthenticated, ValidationError
from citydata.federation import harvest, nodes, sharing
from citydata.federation.search import federated_search
from citydata.storage.models_federation import FederationNode

router = APIRouter(prefix="/api/v1", tags=["Federation"])


SOURCE_BODY = body_doc({
    "name": {"type": "string", "pattern": "^[a-z0-9_-]{2,100}$"},
    "kind": {"type": "string", "enum": ["ckan", "dcat"]},
    "url": {"type": "string", "format": "uri"},
    "organization": {"type": "string", "description": "Where harvested datasets go"},
    "schedule": {"type": "string", "enum": list(harvest.SCHEDULES), "default": "manual"},
    "title": {"type": "string", "maxLength": 300},
    "api_key": {"type": "string", "maxLength": 500},
    "include_private": {"type": "boolean", "default": False},
}, ["name", "kind", "url", "organization"])
INVITE_BODY = body_doc({"node": {"type": "string"}, "organization": {"type": "string"}},
                        ["node", "organization"])
REGISTRATION_BODY = body_doc({
    "name": {"type": "string"}, "title": {"type": "string"},
    "url": {"type": "string", "format": "uri"},
    "public_key": {"type": "string", "description": "Base64 of the raw Ed25519 public key"},
    "code": {"type": "string", "description": "The one-time registration code"},
}, ["name", "url", "public_key", "code"])
FORWARD_BODY = body_doc({
    "dataset": {"type": "string", "description": "A dataset harvested from another node"},
    "purpose": {"type": "string"}, "purpose_detail": {"type": "string", "minLength": 20},
    "lawful_basis": {"type": "string"}, "special_category_condition": {"type": "string"},
    "dpia_reference": {"type": "string"}, "dpia_url": {"type": "string", "format": "uri"},
    "duration_days": {"type": "integer", "minimum": 1},
    "actions": {"type": "array", "items": {"type": "string"}},
    "columns": {"type": "array", "items": {"type": "string"}},
}, ["dataset", "purpose", "purpose_detail", "lawful_basis"])
TOKEN_BODY = body_doc({"assertion": {"type": "string", "description": "From the registry"}},
                       ["assertion"])


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class HarvestSource(_Open):
    name: str
    title: str
    kind: str
    url: str
    schedule: str
    state: str
    failures: int
    include_private: bool


class HarvestJob(_Open):
    """A harvest job's report: what it added, updated, withdrew, left alone, skipped."""

    id: str
    status: str
    stage: str | None
    incremental: bool
    started: str
    finished: str | None
    added: int
    updated: int
    withdrawn: int
    unchanged: int
    skipped: int
    errors: Any = Field(description="The records that failed")
    message: str | None


class SourceRemoved(BaseModel):
    removed: str
    withdrawn: int


class NodeInfo(_Open):
    federated: bool
    name: str | None


class Node(_Open):
    name: str
    title: str | None
    url: str
    role: str
    status: str
    key_id: str | None


class Invite(BaseModel):
    node: Any
    code: str


class ForwardedRequest(_Open):
    id: str
    node: str | None
    dataset: str | None
    status: str
    purpose: str | None
    created: str


class Assertion(BaseModel):
    assertion: str
    token_url: str
    expires_in: int
    agreement: str | None
    node: str


class AgreementToken(BaseModel):
    token: str
    user: str
    agreement: str
    scope: str
    expires_days: int | None
    datasets: list[str]


class FederatedSearch(_Open):
    q: str
    count: int
    results: list[dict[str, Any]]
    index: dict[str, Any]
    nodes: list[dict[str, Any]]
    deadline_ms: int
    took_ms: int


READ = errors(400, 401, 403, 404)
CHANGE = errors(400, 401, 403, 404, 409)
#: Node-to-node routes: an unsigned or badly signed request is a 401.
SIGNED = errors(400, 401, 403, 404, 409)


def _require_signed_in(ctx: Any) -> None:
    if not ctx.actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token)")


# ---------------------------------------------------------------- harvesting


@router.get("/harvest/sources", summary="Harvest sources",
    responses={**ok(Listing), **READ})
async def list_sources(request: Request) -> dict[str, Any]:
    """Every harvest source with its schedule, last job and how fresh its copy is."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = [harvest.source_dict(s, last_job=j) | {
                "datasets": harvest.harvested_count(ctx.session, s)}
                for s, j in harvest.list_sources(ctx.session)]
            return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.post("/harvest/sources", status_code=201, summary="Add a harvest source",
             openapi_extra=SOURCE_BODY,
    responses={**ok(HarvestSource, status=201), **CHANGE})
async def add_source(request: Request) -> Response:
    """``name``, ``kind`` (ckan or dcat), ``url``, ``organization`` (where harvested datasets
    go; you must administer it), ``schedule`` (manual, hourly, daily, weekly), ``title``,
    ``api_key`` and ``include_private`` (CKAN: private records, when the key allows)."""
    data = await json_body(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            return harvest.source_dict(harvest.add_source(ctx, data), with_config=True)

    return JSONResponse(await run_in_threadpool(run), status_code=201)


@router.get("/harvest/sources/{name}", summary="One harvest source and its recent jobs",
    responses={**ok(HarvestSource), **READ})
async def show_source(request: Request, name: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            source = harvest.get_source(ctx.session, name)
            out = harvest.source_dict(source)
            out["datasets"] = harvest.harvested_count(ctx.session, source)
            out["jobs"] = [harvest.job_dict(j) for j in harvest.jobs_of(ctx.session, source)]
            return out

    return await run_in_threadpool(run)


@router.delete("/harvest/sources/{name}", summary="Remove a harvest source",
    responses={**ok(SourceRemoved), **CHANGE})
async def remove_source(request: Request, name: str,
                        keep_datasets: bool = Query(False, description="Keep what it "
                                                    "harvested (default: withdraw it)")
                        ) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            gone = harvest.remove_source(ctx, name, withdraw_datasets=not keep_datasets)
            return {"removed": name, "withdrawn": gone}

    return await run_in_threadpool(run)


@router.patch("/harvest/sources/{name}", summary="Change a harvest source",
              openapi_extra=body_doc({k: v for k, v in SOURCE_BODY["requestBody"]["content"][
                  "application/json"]["schema"]["properties"].items()
                  if k in harvest.EDITABLE}, []),
    responses={**ok(HarvestSource), **CHANGE})
async def update_source(request: Request, name: str) -> dict[str, Any]:
    """``title``, ``url`` (a new URL makes the next run a full one), ``schedule``, ``api_key``,
    ``include_private``."""
    data = await json_body(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            return harvest.source_dict(harvest.update_source(ctx, name, data),
                                       with_config=True)

    return await run_in_threadpool(run)


@router.post("/harvest/sources/{name}/run", summary="Harvest now",
    responses={**ok(HarvestJob), **CHANGE})
async def run_source(request: Request, name: str,
                     full: bool = Query(False, description="Ignore the high-water mark")
                     ) -> dict[str, Any]:
    """Runs the harvest and answers with its job report (gather, fetch, import)."""
    platform = get_platform(request)

    def check() -> None:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            source = harvest.get_source(ctx.session, name)
            from citydata.access.policy import require_org_admin

            require_org_admin(ctx.actor, source.organization_id)

    await run_in_threadpool(check)
    return await run_in_threadpool(harvest.run_harvest, platform, name, full=full)


@router.get("/harvest/jobs/{job_id}", summary="A harvest job's report",
    responses={**ok(HarvestJob), **READ})
async def job_report(request: Request, job_id: str) -> dict[str, Any]:
    """Counts (added, updated, withdrawn, unchanged, skipped, errors) and each error with the
    source record it came from."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return harvest.job_report(ctx.session, job_id)

    return await run_in_threadpool(run)


# ---------------------------------------------------------------- nodes


@router.get("/federation/node", summary="This node's identity",
    responses=ok(NodeInfo))
async def this_node(request: Request) -> dict[str, Any]:
    """Name, URL and Ed25519 public key (with its key id) of this node."""
    return nodes.node_info(get_platform(request).settings)


@router.get("/federation/nodes", summary="Nodes this node knows",
    responses={**ok(Listing), **READ})
async def known_nodes(request: Request) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = [nodes.node_dict(n) for n in nodes.list_nodes(ctx.session)]
            return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.post("/federation/nodes", status_code=201, summary="Register a node (signed)",
             openapi_extra=REGISTRATION_BODY,
    responses={**ok(Node, status=201), **SIGNED})
async def register_node(request: Request) -> Response:
    """An owner node registers with a one-time code, signed with the key it registers."""
    platform = get_platform(request)
    body = await request.body()
    result = await run_in_threadpool(
        nodes.accept_registration, platform.db, platform.settings, path=_raw_path(request),
        query=request.url.query, headers=dict(request.headers), body=body)
    return JSONResponse(result, status_code=201)


@router.post("/federation/invites", status_code=201, summary="Invite a node (sysadmin)",
             openapi_extra=INVITE_BODY,
    responses={**ok(Invite, status=201), **CHANGE})
async def invite_node(request: Request) -> Response:
    """``node`` (its name) and ``organization`` (where its datasets are catalogued here):
    answers with a one-time registration code, valid for 7 days."""
    data = await json_body(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            require_sysadmin(ctx.actor)
            code = nodes.invite(ctx, str(data.get("node") or ""),
                                str(data.get("organization") or ""))
            return {"node": data.get("node"), "code": code}

    return JSONResponse(await run_in_threadpool(run), status_code=201)


def _raw_path(request: Request) -> str:
    """The path as sent (still percent-encoded), which is what RFC 9421's @path covers."""
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) and raw else request.url.path


@router.post("/federation/nodes/{name}/suspend", summary="Suspend a node (sysadmin)",
    responses={**ok(Node), **CHANGE})
async def suspend_node(request: Request, name: str) -> dict[str, Any]:
    """Its signed requests are refused and it is neither harvested nor searched."""
    return await _set_status(request, name, "suspended")


@router.post("/federation/nodes/{name}/resume", summary="Make a suspended node active",
    responses={**ok(Node), **CHANGE})
async def resume_node(request: Request, name: str) -> dict[str, Any]:
    return await _set_status(request, name, "active")


async def _set_status(request: Request, name: str, status: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            return nodes.node_dict(nodes.set_status(ctx, name, status))

    return await run_in_threadpool(run)


async def _signed(request: Request, role: str | None = None) -> tuple[FederationNode, bytes]:
    platform = get_platform(request)
    body = await request.body()
    node = await run_in_threadpool(
        nodes.verify_request, platform.db, platform.settings, method=request.method,
        path=_raw_path(request), query=request.url.query, headers=dict(request.headers),
        body=body, role=role)
    return node, body


@router.post("/federation/inbox/requests", status_code=201,
             summary="An access request forwarded by the registry (signed)",
    responses={**ok(_Open, status=201), **SIGNED})
async def inbox_request(request: Request) -> Response:
    node, body = await _signed(request, role="registry")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationError("The body must be a JSON object") from None
    result = await run_in_threadpool(sharing.receive, get_platform(request), node, payload)
    return JSONResponse(result, status_code=201)


@router.get("/federation/inbox/requests/{reference}",
            summary="What became of a forwarded request (signed)",
    responses={**ok(_Open), **SIGNED})
async def inbox_status(request: Request, reference: str) -> dict[str, Any]:
    node, _ = await _signed(request, role="registry")
    return await run_in_threadpool(sharing.inbox_status, get_platform(request), node,
                                   reference)


@router.post("/federation/token", summary="Exchange a registry assertion for a token",
             openapi_extra=TOKEN_BODY,
    responses={**ok(AgreementToken), **CHANGE})
async def exchange_token(request: Request) -> dict[str, Any]:
    """``assertion``: what the registry gave you for an approved request. Answers with an API
    token bound to that agreement, to query this node's data under it."""
    data = await json_body(request)
    platform = get_platform(request)
    client = client_address(request)

    def run() -> dict[str, Any]:
        # Failed exchanges per client are throttled like failed sign-ins (access.throttle).
        with platform.db.session() as session:
            throttle.check(session, platform.settings, "", client, kind="assertion")
        try:
            return sharing.exchange(platform, data.get("assertion"))
        except NotAuthenticated:
            with platform.db.session() as session:
                throttle.failed(session, platform.settings, "", client, kind="assertion")
            raise

    return await run_in_threadpool(run)


# ---------------------------------------------------------------- registry: search, requests


@router.get("/federation/search", summary="Live search across the registry and its nodes",
    responses={**ok(FederatedSearch), **READ})
async def search(request: Request, q: str = Query("", description="Words to look for"),
                 rows: int = Query(20, description="At most this many results (1–50)"),
                 deadline_ms: int | None = Query(None, description="Wait at most this long "
                                                 "for the nodes (100–30000 ms)")
                 ) -> dict[str, Any]:
    """The harvested index and every member node at once; says which nodes answered."""
    if deadline_ms is not None and not 100 <= deadline_ms <= 30000:
        raise ValidationError("deadline_ms must be between 100 and 30000",
                              fields={"deadline_ms": ["Out of range"]})
    return await federated_search(
        get_platform(request), lambda: request_ctx(request, anonymous_on_bad_token=False), q,
        rows=rows, deadline=deadline_ms / 1000 if deadline_ms else None)


@router.post("/federation/access-requests", status_code=201,
             summary="Request access to a dataset held at another node",
             openapi_extra=FORWARD_BODY,
    responses={**ok(ForwardedRequest, status=201), **errors(400, 401, 403, 404, 409, 503)})
async def forward_request(request: Request) -> Response:
    """``dataset`` and the purpose form of ``POST /api/v1/agreements``; forwarded, signed, to
    the node holding the data, whose owner decides it."""
    data = await json_body(request)
    platform = get_platform(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return sharing.forward(platform, ctx, data.get("dataset"), data)

    return JSONResponse(await run_in_threadpool(run), status_code=201)


@router.get("/federation/access-requests", summary="Your requests forwarded to other nodes",
    responses={**ok(Listing), **READ})
async def my_requests(request: Request) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = sharing.my_requests(ctx)
            return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.get("/federation/access-requests/{request_id}", summary="One forwarded request",
    responses={**ok(ForwardedRequest), **READ})
async def show_request(request: Request, request_id: str) -> dict[str, Any]:
    platform = get_platform(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            return sharing.show_request(platform, ctx, request_id)

    return await run_in_threadpool(run)


@router.post("/federation/access-requests/{request_id}/assertion",
             summary="A short-lived assertion to exchange at the owner node",
    responses={**ok(Assertion), **CHANGE})
async def get_assertion(request: Request, request_id: str) -> dict[str, Any]:
    platform = get_platform(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            _require_signed_in(ctx)
            return sharing.assertion(platform, ctx, request_id)

    return await run_in_threadpool(run)

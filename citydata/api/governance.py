"""Native REST API of governed sharing: agreements, the public register, the owners' access log,
notifications and the vocabularies. Thin: each route is one call into :mod:`citydata.access`.

Errors use the native shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from citydata.access import agreements, notify, vocabulary
from citydata.access.access_log import LogFilter, access_log, access_log_csv
from citydata.access.agreement_views import agreement_dict, list_mine, register, register_entry
from citydata.access.odrl import to_odrl
from citydata.api.deps import body_doc, get_platform, json_body, request_ctx
from citydata.api.openapi import TEXT, Listing, errors, ok
from citydata.catalog.context import Ctx

router = APIRouter(prefix="/api/v1", tags=["Governed sharing"])


def _codes(vocabulary: dict[str, str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(vocabulary)}


_LIST = {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}
_DATE = {"type": "string", "format": "date"}
REQUEST_BODY = body_doc({
    "datasets": {**_LIST, "description": "Dataset names or ids (one publisher)"},
    "resources": {**_LIST, "description": "Only these resources of them (optional)"},
    "purpose": _codes(vocabulary.PURPOSES),
    "purpose_detail": {"type": "string", "minLength": 20, "maxLength": 5000,
                       "description": "How the data will be used; published if approved"},
    "lawful_basis": _codes(vocabulary.LAWFUL_BASES),
    "special_category_condition": _codes(vocabulary.SPECIAL_CATEGORY_CONDITIONS),
    "dpia_reference": {"type": "string", "maxLength": 200},
    "dpia_url": {"type": "string", "format": "uri"},
    "duration_days": {"type": "integer", "minimum": 1, "maximum": 1825},
    "start_date": _DATE, "end_date": _DATE,
    "actions": {"type": "array", "items": _codes(vocabulary.ACTIONS)},
    "columns": {**_LIST, "description": "Columns asked for (the owner decides)"},
    "organization": {"type": "string", "description": "On whose behalf (you are a member)"},
    "submit": {"type": "boolean", "default": True, "description": "false keeps a draft"},
    "recipients": {"type": "array", "items": {"type": "object", "properties": {
        "organization": {"type": "string"}, "user": {"type": "string"}}},
        "description": "Data owners drafting an agreement name its recipients"},
}, ["datasets", "purpose", "purpose_detail", "lawful_basis"])
APPROVE_BODY = body_doc({
    "actions": {"type": "array", "items": _codes(vocabulary.ACTIONS)},
    "columns": {**_LIST, "description": "Allowed columns; empty or absent: all"},
    "min_cell_count": {"type": "integer", "minimum": 1, "maximum": 1000},
    "retention_days": {"type": "integer", "minimum": 1},
    "start_date": _DATE, "end_date": _DATE,
    "no_onward_sharing": {"type": "boolean"},
    "note": {"type": "string"},
})
NOTE_BODY = body_doc({"note": {"type": "string", "maxLength": 5000}}, ["note"])


class AgreementPublic(BaseModel):
    """An agreement as a party sees it (the register shows the public part of the same)."""

    model_config = ConfigDict(extra="allow")

    id: str
    reference: str
    title: str
    status: str
    status_label: str
    provider: dict[str, Any] | None
    recipients: list[dict[str, Any]]
    datasets: list[dict[str, Any]]
    purpose: str
    lawful_basis: str
    conditions: dict[str, Any]
    links: dict[str, str]


class AccessLog(BaseModel):
    organization: str
    count: int
    results: list[dict[str, Any]]
    summary: dict[str, list[dict[str, Any]]]


class Notifications(BaseModel):
    unread: int
    results: list[dict[str, Any]]


class Marked(BaseModel):
    marked: int


class Vocabularies(BaseModel):
    purposes: dict[str, str]
    lawful_bases: dict[str, str]
    special_category_conditions: dict[str, str]
    restriction_reasons: dict[str, str]
    discovery: dict[str, str]
    actions: dict[str, str]
    statuses: dict[str, str]


#: Beyond any real list, and within what every database's OFFSET takes (SQLite: 64 bits).
MAX_OFFSET = 1_000_000_000
#: Reading needs a sign-in (401); a party's view of someone else's agreement is a 404.
READ = errors(400, 401, 403, 404)
#: Changes also meet the agreement's state (409) and the form's checks (400).
CHANGE = errors(400, 401, 403, 404, 409)


def _deliver(request: Request) -> BackgroundTask:
    """Send the notices a governance action queued, after the response (and its commit)."""
    platform = get_platform(request)
    return BackgroundTask(notify.deliver_pending, platform.db, platform.settings)


async def _change(request: Request, work: Callable[[Ctx], Any], status: int = 200) -> Response:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return agreement_dict(ctx, work(ctx))

    result = await run_in_threadpool(run)
    return JSONResponse(result, status_code=status, background=_deliver(request))


@router.get("/agreements", summary="Agreements you are party to",
            responses={**ok(Listing), **READ})
async def list_agreements(
    request: Request,
    role: str = Query("all", description="all, recipient or provider"),
    status: str = Query("", description="Only this status (draft, requested, active, ...)"),
) -> dict[str, Any]:
    """Your agreements and requests: as a recipient, as the provider's member, or both."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = list_mine(ctx, role=role, status=status)
            return {"count": len(items), "results": items}

    return await run_in_threadpool(run)


@router.post("/agreements", status_code=201, summary="Request access (or draft an agreement)",
             openapi_extra=REQUEST_BODY, responses={**ok(AgreementPublic, status=201), **CHANGE})
async def create_agreement(request: Request) -> Response:
    """Request access to shared or restricted datasets: ``datasets``, ``purpose`` (a code),
    ``purpose_detail``, ``lawful_basis``, ``special_category_condition`` (special category
    data), ``dpia_reference``, ``dpia_url``, ``duration_days``, ``actions``, ``columns``,
    ``organization`` (on whose behalf), ``submit`` (false keeps a draft). A data owner of the
    publisher may instead give ``recipients`` to draft an agreement for them."""
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.create(ctx, data), status=201)


@router.get("/agreements/{ref}", summary="One agreement, with its history",
            responses={**ok(AgreementPublic), **READ})
async def show_agreement(request: Request, ref: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return agreement_dict(ctx, agreements.get_for(ctx, ref))

    return await run_in_threadpool(run)


@router.patch("/agreements/{ref}", summary="Edit a draft request",
              responses={**ok(AgreementPublic), **CHANGE})
async def edit_agreement(request: Request, ref: str) -> Response:
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.update_draft(ctx, ref, data))


@router.post("/agreements/{ref}/submit", summary="Submit a draft request",
             responses={**ok(AgreementPublic), **CHANGE})
async def submit_agreement(request: Request, ref: str) -> Response:
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.submit(ctx, ref, str(data.get("note")
                                                                               or "")))


@router.post("/agreements/{ref}/approve", summary="Approve, setting the conditions",
             openapi_extra=APPROVE_BODY, responses={**ok(AgreementPublic), **CHANGE})
async def approve_agreement(request: Request, ref: str) -> Response:
    """The publisher's data owners approve: ``actions``, ``columns``, ``min_cell_count``,
    ``retention_days``, ``start_date``, ``end_date``, ``no_onward_sharing``, ``note``."""
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.approve(ctx, ref, data))


@router.post("/agreements/{ref}/refuse", summary="Refuse a request (note required)",
             openapi_extra=NOTE_BODY, responses={**ok(AgreementPublic), **CHANGE})
async def refuse_agreement(request: Request, ref: str) -> Response:
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.refuse(ctx, ref, data.get("note")))


@router.post("/agreements/{ref}/request-info", summary="Ask the requester for more information",
             openapi_extra=NOTE_BODY, responses={**ok(AgreementPublic), **CHANGE})
async def request_info(request: Request, ref: str) -> Response:
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.request_info(ctx, ref, data.get("note")))


@router.post("/agreements/{ref}/revoke", summary="Revoke an agreement now (note required)",
             openapi_extra=NOTE_BODY, responses={**ok(AgreementPublic), **CHANGE})
async def revoke_agreement(request: Request, ref: str) -> Response:
    """Ends the agreement at once: the next request under it is refused, open streams stop."""
    data = await json_body(request)
    return await _change(request, lambda ctx: agreements.revoke(ctx, ref, data.get("note")))


@router.get("/agreements/{ref}/odrl", summary="The agreement as an ODRL 2.2 policy (JSON-LD)",
            response_class=JSONResponse, responses={
                **ok(media={"application/ld+json": {"schema": {
                    "type": "object", "required": ["@context", "@type", "uid"]}}}),
                **READ})
async def agreement_odrl(request: Request, ref: str) -> Response:
    """Parties get every agreement; anyone gets those in the public register."""

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            ag = agreements.find(ctx.session, ref)
            if ag is None or not agreements.can_view(ctx.session, ctx.actor, ag):
                register_entry(ctx, ref)  # NotFound unless it is public
                ag = agreements.find(ctx.session, ref)
            assert ag is not None
            return to_odrl(ctx, ag)

    policy = await run_in_threadpool(run)
    return JSONResponse(policy, media_type="application/ld+json")


# -- the public register -------------------------------------------------------------------------
@router.get("/register", summary="The public register of data sharing agreements",
            responses={**ok(Listing), **errors(400, 404)})
async def public_register(
    request: Request,
    status: str = Query("", description="active, approved, expired or revoked"),
    provider: str = Query("", description="Publisher (organisation name)"),
    purpose: str = Query("", description="Purpose code"),
    q: str = Query("", description="Words in the title or purpose"),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    """Approved, active, expired and revoked agreements: parties, datasets, purpose, lawful
    basis, dates and DPIA — never the data, never the names of individual people."""

    def run() -> dict[str, Any]:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            items, total = register(ctx, status=status, provider=provider, purpose=purpose,
                                    q=q, limit=limit, offset=offset)
            return {"count": total, "results": items}

    return await run_in_threadpool(run)


@router.get("/register/{ref}", summary="One agreement in the public register",
            responses={**ok(AgreementPublic), **errors(400, 404)})
async def public_register_entry(request: Request, ref: str) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request, anonymous_on_bad_token=True) as ctx:
            return register_entry(ctx, ref)

    return await run_in_threadpool(run)


# -- the data owners' access log -----------------------------------------------------------------
def _log_filter(dataset: str, user: str, agreement: str, kind: str, since: str,
                until: str) -> LogFilter:
    return LogFilter(dataset=dataset, user=user, agreement=agreement, kind=kind, since=since,
                     until=until)


@router.get("/organizations/{name}/access-log", summary="Who used this publisher's data",
            responses={**ok(AccessLog), **READ})
async def organization_access_log(
    request: Request, name: str,
    dataset: str = Query(""), user: str = Query(""), agreement: str = Query(""),
    kind: str = Query("", description="data (reads), governance, or both"),
    since: str = Query(""), until: str = Query(""),
    limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict[str, Any]:
    """The publisher's audit entries, newest first, with totals by user, dataset, agreement
    and purpose. Its data owners (organisation admins) only."""
    f = _log_filter(dataset, user, agreement, kind, since, until)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return access_log(ctx, name, f, limit=limit, offset=offset)

    return await run_in_threadpool(run)


@router.get("/organizations/{name}/access-log.csv", summary="The access log as CSV",
            response_class=StreamingResponse,
            responses={**ok(media={"text/csv": {"schema": TEXT}}), **READ})
async def organization_access_log_csv(
    request: Request, name: str,
    dataset: str = Query(""), user: str = Query(""), agreement: str = Query(""),
    kind: str = Query(""), since: str = Query(""), until: str = Query(""),
) -> StreamingResponse:
    f = _log_filter(dataset, user, agreement, kind, since, until)
    platform = get_platform(request)

    def check() -> Any:
        with request_ctx(request) as ctx:
            first = next(access_log_csv(ctx, name, f))  # raises if not allowed
            return ctx.actor, ctx.site_url, first

    actor, site, header = await run_in_threadpool(check)

    def rows() -> Iterator[str]:
        yield header
        with platform.db.session() as session:
            ctx = Ctx(session, actor, platform.settings, platform.files, site)
            lines = access_log_csv(ctx, name, f)
            next(lines)
            yield from lines

    return StreamingResponse(rows(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}-access-log.csv"'})


# -- notifications and vocabularies ----------------------------------------------------------
@router.get("/notifications", summary="Your notifications",
            responses={**ok(Notifications), **errors(401)})
async def my_notifications(request: Request) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            items = notify.list_notifications(ctx.session, ctx.actor)
            return {"unread": sum(1 for n in items if not n["read"]), "results": items}

    return await run_in_threadpool(run)


@router.post("/notifications/read", summary="Mark notifications read",
             responses={**ok(Marked), **errors(400, 401)})
async def read_notifications(request: Request) -> dict[str, Any]:
    """``{"id": ...}`` marks one; an empty body marks them all."""
    data = await json_body(request)

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return {"marked": notify.mark_read(ctx.session, ctx.actor, data.get("id"))}

    return await run_in_threadpool(run)


@router.get("/vocabularies/governance", summary="Purposes, lawful bases and other codes",
            responses=ok(Vocabularies))
def governance_vocabularies() -> dict[str, Any]:
    """The controlled vocabularies agreements use, code → label."""
    return {
        "purposes": vocabulary.PURPOSES,
        "lawful_bases": vocabulary.LAWFUL_BASES,
        "special_category_conditions": vocabulary.SPECIAL_CATEGORY_CONDITIONS,
        "restriction_reasons": vocabulary.REASONS,
        "discovery": vocabulary.DISCOVERY,
        "actions": vocabulary.ACTIONS,
        "statuses": vocabulary.STATUSES,
    }

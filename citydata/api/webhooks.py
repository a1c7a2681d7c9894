"""Native REST API of webhooks: subscribe a URL to an event stream, see how its deliveries are
going, pause, resume, replay, unsubscribe. Thin: each route is one call into
:mod:`citydata.events.webhooks`.

Only callers with an API token (``Authorization: Bearer <token>``) may use it; each sees their
own subscriptions (sysadmins everyone's), and anyone else's is a 404. Errors use the native
shape ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import body_doc, get_platform, json_body, request_ctx
from citydata.api.openapi import errors
from citydata.catalog.context import Ctx
from citydata.errors import NotAuthenticated
from citydata.events import webhooks

router = APIRouter(prefix="/api/v1", tags=["Webhooks"])


# ---------------------------------------------------------------- documented shapes


class WebhookPublic(BaseModel):
    """A subscription as its owner sees it (never its secret)."""

    id: str
    stream: str = Field(description="The event stream it follows")
    url: str = Field(description="Where each matching event is POSTed")
    filters: dict[str, str] = Field(description="The stream's filters, as given")
    description: str
    owner: str | None = Field(description="Its owner's user name (None: made by the system)")
    status: str = Field(description="active, or paused (nothing is sent; events wait)")
    created: str | None
    cursor: int = Field(description="The last event id handed over (delivered, filtered "
                        "out, or queued for retry)")
    delivered: int = Field(description="Deliveries that succeeded, all time")
    failed: int = Field(description="Attempts that failed, all time")
    retrying: int = Field(description="Deliveries waiting for their next attempt")
    dead: int = Field(description="Deliveries given up on (see /deliveries?status=dead)")
    last_error: str | None
    last_error_at: str | None
    last_success_at: str | None


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="The signing secret (whsec_...), shown only this once: "
                        "verify each delivery's Citydata-Signature with it")


class WebhookList(BaseModel):
    count: int
    results: list[WebhookPublic]


class DeliveryPublic(BaseModel):
    """An event that did not arrive at its first attempt."""

    event_id: int
    event_type: str
    status: str = Field(description="retrying, dead (given up on), or delivered (later)")
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None = Field(description="The receiver's last HTTP status, if "
                                         "it answered")
    last_error: str | None
    created: str | None
    updated: str | None


class DeliveryList(BaseModel):
    count: int
    results: list[DeliveryPublic]


class Deleted(BaseModel):
    deleted: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Every route here needs a token; bad parameters are 400s in the native shape.
    return errors(*sorted({400, 401, *statuses}))


CREATE_BODY = body_doc({
    "stream": {"type": "string", "description": "An event stream (GET /api/v1/events)",
               "examples": ["planning"]},
    "url": {"type": "string", "format": "uri", "maxLength": 2000,
            "description": "http or https, no user name or password in it; in production "
            "not a loopback or private address"},
    "filters": {"type": "object", "additionalProperties": {"type": "string"},
                "description": "The stream's filters, as for GET /api/v1/events/{stream} "
                "(e.g. {\"type\": \"application.decided\"}); none: every event"},
    "description": {"type": "string", "maxLength": 500},
}, ["stream", "url"])
REPLAY_BODY = body_doc({
    "from_event_id": {"type": "integer", "minimum": 0,
                      "description": "Re-send every matching event with an id above this"},
}, ["from_event_id"])


# ---------------------------------------------------------------- routes


def _require_token(ctx: Ctx) -> None:
    if ctx.actor.token_id is None:
        raise NotAuthenticated("Webhooks are managed with an API token: send it as "
                               "Authorization: Bearer <token>")


async def _run(request: Request, work: Callable[[Ctx], Any]) -> Any:
    def run() -> Any:
        with request_ctx(request) as ctx:
            _require_token(ctx)
            return work(ctx)

    return await run_in_threadpool(run)


@router.post("/webhooks", status_code=201, summary="Subscribe a URL to an event stream",
             response_model=WebhookCreated, responses=_errors(400, 401, 403),
             openapi_extra=CREATE_BODY)
async def create_webhook(request: Request) -> dict[str, Any]:
    """Each event of ``stream`` that matches ``filters`` will be POSTed to ``url`` as JSON,
    signed (``Citydata-Signature``) with the ``secret`` in this answer, which is shown only
    now. Events from the next one on; replay to get earlier ones."""
    data = await json_body(request)
    platform = get_platform(request)
    return await _run(request, lambda ctx: webhooks.subscription_dict(
        ctx.session, webhooks.create(platform, ctx, data), with_secret=True))


@router.get("/webhooks", summary="Your webhooks", response_model=WebhookList,
            responses=_errors(401))
async def list_webhooks(request: Request) -> dict[str, Any]:
    """Your subscriptions, oldest first (a sysadmin's: everyone's), with their cursor and
    delivery counts."""

    def work(ctx: Ctx) -> dict[str, Any]:
        items = webhooks.subscription_dicts(ctx.session, webhooks.list_subscriptions(ctx))
        return {"count": len(items), "results": items}

    return await _run(request, work)


@router.get("/webhooks/{webhook_id}", summary="One webhook: status, cursor, counts, last error",
            response_model=WebhookPublic, responses=_errors(401, 404))
async def show_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    return await _run(request, lambda ctx: webhooks.subscription_dict(
        ctx.session, webhooks.get(ctx, webhook_id)))


@router.delete("/webhooks/{webhook_id}", summary="Unsubscribe", response_model=Deleted,
               responses=_errors(401, 403, 404))
async def delete_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    """Nothing more is sent; its retries and dead letters go too."""

    def work(ctx: Ctx) -> dict[str, Any]:
        webhooks.delete(ctx, webhook_id)
        return {"deleted": webhook_id}

    return await _run(request, work)


@router.post("/webhooks/{webhook_id}/pause", summary="Pause a webhook",
             response_model=WebhookPublic, responses=_errors(401, 403, 404))
async def pause_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    """Nothing is sent, retries included; events wait and go out after resuming."""
    return await _run(request, lambda ctx: webhooks.subscription_dict(
        ctx.session, webhooks.set_status(ctx, webhook_id, "paused")))


@router.post("/webhooks/{webhook_id}/resume", summary="Resume a paused webhook",
             response_model=WebhookPublic, responses=_errors(401, 403, 404))
async def resume_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    """Delivery goes on from the cursor: what happened meanwhile is sent."""
    return await _run(request, lambda ctx: webhooks.subscription_dict(
        ctx.session, webhooks.set_status(ctx, webhook_id, "active")))


@router.post("/webhooks/{webhook_id}/replay", summary="Send events again",
             response_model=WebhookPublic, responses=_errors(400, 401, 403, 404),
             openapi_extra=REPLAY_BODY)
async def replay_webhook(request: Request, webhook_id: str) -> dict[str, Any]:
    """Every matching event with an id above ``from_event_id`` is sent again, whether it was
    delivered before or not (dead letters included): the cursor moves back to it."""
    data = await json_body(request)
    return await _run(request, lambda ctx: webhooks.subscription_dict(
        ctx.session, webhooks.replay(ctx, webhook_id, data.get("from_event_id"))))


@router.get("/webhooks/{webhook_id}/deliveries", summary="Retries and dead letters",
            response_model=DeliveryList, responses=_errors(400, 401, 404))
async def list_deliveries(
    request: Request, webhook_id: str,
    status: str = Query("", description="retrying, dead or delivered (default: all)"),
    after: int = Query(0, ge=0, le=2**63 - 1,
                       description="Only events after this id (for paging)"),
    limit: int = Query(100, ge=1, le=1000, description="At most this many"),
) -> dict[str, Any]:
    """Events that did not arrive at the first attempt, by event id. Deliveries that
    succeeded first time are not listed (the cursor and ``delivered`` count them)."""

    def work(ctx: Ctx) -> dict[str, Any]:
        items = [webhooks.delivery_dict(d) for d in
                 webhooks.deliveries(ctx, webhook_id, status, after, limit)]
        return {"count": len(items), "results": items}

    return await _run(request, work)

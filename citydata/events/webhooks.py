"""Signed webhooks for the event streams: subscriptions, replays, and what failed to arrive.

A subscription names a stream, the stream's filters and an http(s) URL. Each matching event is
POSTed there as JSON (the event's ``as_dict()``), signed with the subscription's secret (see
:mod:`citydata.events.webhook_signing`), by the dispatcher in every server process
(:mod:`citydata.events.webhook_dispatch`). The secret is returned once, when the subscription
is made; the server keeps it in its database like any shared key, because it needs it to sign.

Everyone signed in may subscribe; people see and manage their own subscriptions (sysadmins and
the system all of them), and somebody else's is simply not found. The functions here take a
catalog context (its session and actor) and the platform (for the streams its plugins publish).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from citydata.catalog.context import Ctx
from citydata.errors import (
    CitydataError,
    Forbidden,
    NotAuthenticated,
    NotFound,
    ValidationError,
    field_error,
)
from citydata.events import log as event_log
from citydata.events.webhook_dispatch import (
    BATCH_SIZE,
    backoff_seconds,
    dispatch_once,
    dispatch_once_sync,
    make_client,
    run,
)
from citydata.events.webhook_signing import SIGNATURE_HEADER, USER_AGENT, verify_signature
from citydata.platform import Platform
from citydata.storage.models import User, utcnow
from citydata.storage.models_webhooks import WebhookDelivery, WebhookSubscription

SECRET_PREFIX = "whsec_"
STATUSES = ("active", "paused")
DELIVERY_STATUSES = ("retrying", "dead", "delivered")
FIELDS = ("stream", "url", "filters", "description")
#: Subscriptions one person may hold (sysadmins and the system: no limit).
MAX_PER_OWNER = 100
MAX_DESCRIPTION = 500


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# -- input ----------------------------------------------------------------------------------------


def check_stream_and_filters(platform: Platform, stream: object,
                             filters: object) -> tuple[str, dict[str, str]]:
    """The stream's name and the filters as stored, or a 400 with the stream's own message."""
    from citydata.events.streams import all_streams, get_stream

    if not isinstance(stream, str) or not stream.strip():
        raise field_error("stream", "Give the name of an event stream")
    try:
        found = get_stream(platform, stream.strip())
    except NotFound:
        known = ", ".join(sorted(all_streams(platform))) or "none yet"
        raise field_error("stream", f'There is no event stream "{stream.strip()[:100]}" '
                          f"(streams: {known})") from None
    if filters is None:
        filters = {}
    if not isinstance(filters, dict):
        raise field_error("filters", "Must be an object of filter names and values")
    clean: dict[str, str] = {}
    for key, value in filters.items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise field_error("filters", f"The value of {str(key)[:100]!r} must be a string")
        clean[str(key)] = str(value)
    try:
        found.parse_filters(clean)
    except CitydataError as exc:
        raise ValidationError(exc.message, fields={"filters": [exc.message]}) from None
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"filters: {exc}", fields={"filters": [str(exc)]}) from None
    return found.name, clean


def _require_user(ctx: Ctx, scope: str = "read") -> None:
    if not ctx.actor.is_authenticated:
        raise NotAuthenticated("Sign in (send an API token) to manage webhooks")
    if not ctx.actor.scope_at_least(scope):
        raise Forbidden(f"This API token's scope is {ctx.actor.scope}; this needs a {scope} "
                        "token")


def _sees_all(ctx: Ctx) -> bool:
    return ctx.actor.is_system or ctx.actor.sysadmin


# -- subscriptions --------------------------------------------------------------------------------


def create(platform: Platform, ctx: Ctx, data: dict[str, Any]) -> WebhookSubscription:
    """Subscribe ``url`` to the events of ``stream`` that match ``filters``, from the next
    event on (replay to get earlier ones). The answer's ``secret`` is shown only now."""
    from citydata.events.webhook_signing import check_url

    _require_user(ctx, "write")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(map(str, unknown))[:200]}; "
                              f"known: {', '.join(FIELDS)}",
                              fields={k: ["Unknown field"] for k in map(str, unknown)})
    url = check_url(data.get("url"), ctx.settings)
    stream, filters = check_stream_and_filters(platform, data.get("stream"), data.get("filters"))
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise field_error("description", f"A text of at most {MAX_DESCRIPTION} characters")
    owner = ctx.actor.user_id
    if owner is not None and not _sees_all(ctx):
        held = ctx.session.scalar(select(func.count()).select_from(WebhookSubscription)
                                  .where(WebhookSubscription.owner_id == owner)) or 0
        if held >= MAX_PER_OWNER:
            raise ValidationError(f"You have {held} webhooks, the most one person may have; "
                                  "delete one first")
    sub = WebhookSubscription(
        stream=stream, url=url, secret=new_secret(), owner_id=owner, status="active",
        filters=json.dumps(filters, sort_keys=True, separators=(",", ":")),
        description=description.strip(), cursor=event_log.last_id(ctx.session, stream),
        delivered=0, failed=0, last_error="", lease_owner="", created=utcnow())
    ctx.session.add(sub)
    ctx.session.flush()
    return sub


def list_subscriptions(ctx: Ctx) -> list[WebhookSubscription]:
    """The caller's subscriptions (a sysadmin's or the system's: everyone's), oldest first."""
    _require_user(ctx)
    query = select(WebhookSubscription).order_by(WebhookSubscription.created,
                                                 WebhookSubscription.id)
    if not _sees_all(ctx):
        query = query.where(WebhookSubscription.owner_id == ctx.actor.user_id)
    return list(ctx.session.scalars(query))


def get(ctx: Ctx, sub_id: str) -> WebhookSubscription:
    """One subscription the caller may see; anyone else's is not found."""
    _require_user(ctx)
    sub = ctx.session.get(WebhookSubscription, str(sub_id)[:36])
    if sub is None or not (_sees_all(ctx) or sub.owner_id == ctx.actor.user_id):
        raise NotFound(f'No webhook "{str(sub_id)[:36]}"')
    return sub


def delete(ctx: Ctx, sub_id: str) -> None:
    """Stop and forget a subscription, with its retries and dead letters."""
    _require_user(ctx, "write")
    ctx.session.delete(get(ctx, sub_id))
    ctx.session.flush()


def set_status(ctx: Ctx, sub_id: str, status: str) -> WebhookSubscription:
    """Pause (nothing is sent; events wait) or resume (they are sent from the cursor on)."""
    _require_user(ctx, "write")
    if status not in STATUSES:
        raise field_error("status", f"One of {', '.join(STATUSES)}")
    sub = get(ctx, sub_id)
    sub.status = status
    if status == "active":
        sub.last_error = "" if sub.last_error.startswith("Paused") else sub.last_error
    ctx.session.flush()
    return sub


def replay(ctx: Ctx, sub_id: str, from_event_id: object) -> WebhookSubscription:
    """Send again every matching event with an id above ``from_event_id``, delivered before or
    not: the cursor moves back (never forward) and due-later retries in that range are due
    now. A batch being sent meanwhile is still sent; its cursor move is dropped."""
    _require_user(ctx, "write")
    if isinstance(from_event_id, bool) or not isinstance(from_event_id, int) or (
            from_event_id < 0):
        raise field_error("from_event_id", "A whole number of 0 or more (0: from the start)")
    sub = get(ctx, sub_id)
    Sub, D = WebhookSubscription, WebhookDelivery
    ctx.session.execute(update(Sub).where(Sub.id == sub.id, Sub.cursor > from_event_id)
                        .values(cursor=from_event_id, lease_owner="", lease_until=None)
                        .execution_options(synchronize_session=False))
    ctx.session.execute(update(D).where(D.subscription_id == sub.id, D.status == "retrying",
                                        D.event_id > from_event_id)
                        .values(next_attempt_at=utcnow())
                        .execution_options(synchronize_session=False))
    ctx.session.refresh(sub)
    return sub


def deliveries(ctx: Ctx, sub_id: str, status: str = "", after: int = 0,
               limit: int = 100) -> list[WebhookDelivery]:
    """Deliveries that did not arrive at the first attempt, by event id: ``retrying``,
    ``dead`` (given up on) or ``delivered`` (at a later attempt); all of them by default."""
    sub = get(ctx, sub_id)
    if status and status not in DELIVERY_STATUSES:
        raise field_error("status", f"One of {', '.join(DELIVERY_STATUSES)}")
    if not 1 <= limit <= 1000:
        raise field_error("limit", "Between 1 and 1000")
    D = WebhookDelivery
    query = select(D).where(D.subscription_id == sub.id, D.event_id > after)
    if status:
        query = query.where(D.status == status)
    return list(ctx.session.scalars(query.order_by(D.event_id).limit(limit)))


# -- output ---------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value is not None else None


def subscription_dicts(session: Any, subs: list[WebhookSubscription]) -> list[dict[str, Any]]:
    """Subscriptions as the API shows them (never their secret), with their queue counts."""
    D = WebhookDelivery
    counts: dict[tuple[str, str], int] = {}
    owners: dict[str, str] = {}
    ids = [s.id for s in subs]
    if ids:
        for sid, status, n in session.execute(
                select(D.subscription_id, D.status, func.count()).where(
                    D.subscription_id.in_(ids), D.status.in_(("retrying", "dead")))
                .group_by(D.subscription_id, D.status)):
            counts[(sid, status)] = int(n)
        owner_ids = {s.owner_id for s in subs if s.owner_id}
        if owner_ids:
            owners = {uid: name for uid, name in session.execute(
                select(User.id, User.name).where(User.id.in_(owner_ids)))}
    return [{
        "id": s.id, "stream": s.stream, "url": s.url, "filters": json.loads(s.filters or "{}"),
        "description": s.description, "owner": owners.get(s.owner_id or ""),
        "status": s.status, "created": _iso(s.created), "cursor": s.cursor,
        "delivered": s.delivered, "failed": s.failed,
        "retrying": counts.get((s.id, "retrying"), 0), "dead": counts.get((s.id, "dead"), 0),
        "last_error": s.last_error or None, "last_error_at": _iso(s.last_error_at),
        "last_success_at": _iso(s.last_success_at),
    } for s in subs]


def subscription_dict(session: Any, sub: WebhookSubscription,
                      with_secret: bool = False) -> dict[str, Any]:
    out = subscription_dicts(session, [sub])[0]
    if with_secret:
        out["secret"] = sub.secret
    return out


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "event_id": d.event_id, "event_type": d.event_type, "status": d.status,
        "attempts": d.attempts, "next_attempt_at": _iso(d.next_attempt_at),
        "last_status_code": d.last_status_code, "last_error": d.last_error or None,
        "created": _iso(d.created), "updated": _iso(d.updated),
    }


__all__ = [
    "BATCH_SIZE",
    "DELIVERY_STATUSES",
    "SIGNATURE_HEADER",
    "STATUSES",
    "USER_AGENT",
    "backoff_seconds",
    "check_stream_and_filters",
    "create",
    "delete",
    "deliveries",
    "delivery_dict",
    "dispatch_once",
    "dispatch_once_sync",
    "get",
    "list_subscriptions",
    "make_client",
    "replay",
    "run",
    "set_status",
    "subscription_dict",
    "subscription_dicts",
    "verify_signature",
]

"""Agreements as the outside world sees them: the parties' record, the public register entry.

The public register lists approved, active, expired and revoked agreements — parties,
datasets, purpose, lawful basis, dates, DPIA reference — never data, never drafts, requests or
refusals, and never the names of individual people (they appear as "a named individual").
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from citydata.access.agreements import (
    dataset_summaries,
    effective_status,
    get_for,
    is_provider,
    is_recipient,
)
from citydata.access.policy import party_clause
from citydata.access.vocabulary import (
    ACTIONS,
    LAWFUL_BASES,
    PURPOSES,
    REGISTER_STATUSES,
    SPECIAL_CATEGORY_CONDITIONS,
    STATUSES,
)
from citydata.catalog.context import Ctx
from citydata.errors import NotFound, QueryError
from citydata.storage.models import Organization, User, utcnow
from citydata.storage.models_access import Agreement, AgreementRecipient

REGISTER_PAGE_MAX = 500


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(timespec="seconds") if dt else None


def _org(session: Session, org_id: str | None) -> dict[str, str] | None:
    if not org_id:
        return None
    org = session.get(Organization, org_id)
    return {"id": org.id, "name": org.name, "title": org.title or org.name} if org else None


def _user_name(session: Session, user_id: str | None) -> str:
    if not user_id:
        return ""
    user = session.get(User, user_id)
    return user.name if user else ""


def conditions(ag: Agreement) -> dict[str, Any]:
    actions = json.loads(ag.actions or "[]")
    return {
        "actions": actions,
        "actions_labels": [ACTIONS.get(a, a) for a in actions],
        "aggregate_only": actions == ["aggregate"],
        "columns": json.loads(ag.allowed_columns) if ag.allowed_columns else None,
        "min_cell_count": ag.min_cell_count if actions == ["aggregate"] else None,
        "no_onward_sharing": ag.no_onward_sharing,
        "retention_days": ag.retention_days,
    }


def agreement_dict(ctx: Ctx, ag: Agreement, *, public: bool = False) -> dict[str, Any]:
    """The agreement record; ``public`` gives the register's view (no people, no history)."""
    session = ctx.session
    status = effective_status(ag)
    recipients = []
    for r in ag.recipients:
        entry: dict[str, Any] = {"organization": _org(session, r.org_id)}
        if public:
            entry["named_individual"] = r.user_id is not None
        else:
            entry["user"] = _user_name(session, r.user_id) or None
        recipients.append(entry)
    base = ctx.site_url
    out: dict[str, Any] = {
        "id": ag.id,
        "reference": ag.reference,
        "title": ag.title,
        "status": status,
        "status_label": STATUSES.get(status, status),
        "provider": _org(session, ag.provider_org_id),
        "recipients": recipients,
        "datasets": dataset_summaries(session, ag),
        "purpose": ag.purpose,
        "purpose_label": PURPOSES.get(ag.purpose, ag.purpose),
        "purpose_detail": ag.purpose_detail,
        "lawful_basis": ag.lawful_basis,
        "lawful_basis_label": LAWFUL_BASES.get(ag.lawful_basis, ag.lawful_basis),
        "special_category_condition": ag.special_category_condition or None,
        "special_category_condition_label": SPECIAL_CATEGORY_CONDITIONS.get(
            ag.special_category_condition
        )
        if ag.special_category_condition
        else None,
        "dpia_reference": ag.dpia_reference,
        "dpia_url": ag.dpia_url,
        "conditions": conditions(ag),
        "start": _iso(ag.start_at),
        "end": _iso(ag.end_at),
        "duration_days": ag.duration_days,
        "decided_at": _iso(ag.decided_at),
        "ended_reason": ag.ended_reason if status in ("revoked", "expired", "refused") else "",
        "created": _iso(ag.created),
        "links": {
            "html": f"{base}/agreements/{ag.reference}",
            "api": f"{base}/api/v1/agreements/{ag.reference}",
            "odrl": f"{base}/api/v1/agreements/{ag.reference}/odrl",
            "register": f"{base}/register/{ag.reference}",
        },
    }
    if public:
        out.pop("id")
        # A dataset made private since the agreement was made is not named publicly.
        out["datasets"] = [
            d
            if d["access_level"] != "private"
            else {
                "title": "A dataset that is not listed publicly",
                "name": None,
                "id": None,
                "access_level": "private",
                "resource_id": None,
            }
            for d in out["datasets"]
        ]
        out["links"] = {k: v for k, v in out["links"].items() if k in ("register", "odrl")}
        return out
    out.update(
        requested_by=_user_name(session, ag.requested_by),
        decided_by=_user_name(session, ag.decided_by),
        modified=_iso(ag.modified),
        ended_reason=ag.ended_reason,
        history=[
            {
                "at": _iso(e.at),
                "actor": e.actor_name,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
            }
            for e in ag.events
        ],
        you={
            "provider": is_provider(ctx.actor, ag),
            "data_owner": ctx.actor.role_in(ag.provider_org_id) == "admin",
            "recipient": is_recipient(session, ctx.actor, ag),
            "requester": ctx.actor.user_id is not None and ctx.actor.user_id == ag.requested_by,
        },
    )
    return out


def show(ctx: Ctx, ref: str) -> dict[str, Any]:
    return agreement_dict(ctx, get_for(ctx, ref))


def list_mine(ctx: Ctx, *, role: str = "all", status: str = "") -> list[dict[str, Any]]:
    """Agreements the actor is party to: as a ``recipient``, as a ``provider`` (member of the
    publishing organisation) or ``all``; newest first."""
    actor = ctx.actor
    if not actor.user_id:
        return []
    if role not in ("all", "recipient", "provider"):
        raise QueryError("role: one of all, recipient, provider", fields={"role": ["Invalid"]})
    if status and status not in STATUSES:
        raise QueryError(f"status: one of {', '.join(STATUSES)}", fields={"status": ["Invalid"]})
    as_recipient = or_(
        Agreement.id.in_(select(AgreementRecipient.agreement_id).where(party_clause(actor))),
        Agreement.requested_by == actor.user_id,
    )
    as_provider = Agreement.provider_org_id.in_(list(actor.roles))
    cond = {
        "recipient": as_recipient,
        "provider": as_provider,
        "all": or_(as_recipient, as_provider),
    }[role]
    rows = ctx.session.scalars(
        select(Agreement).where(cond).order_by(Agreement.created.desc()).limit(1000)
    ).all()
    items = [agreement_dict(ctx, ag) for ag in rows]
    return [a for a in items if not status or a["status"] == status]


def register(
    ctx: Ctx,
    *,
    status: str = "",
    provider: str = "",
    purpose: str = "",
    q: str = "",
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """The public transparency register, newest first, with a total for paging."""
    if status and status not in REGISTER_STATUSES:
        raise QueryError(
            f"status: one of {', '.join(REGISTER_STATUSES)}", fields={"status": ["Invalid"]}
        )
    if purpose and purpose not in PURPOSES:
        raise QueryError(f"purpose: one of {', '.join(PURPOSES)}", fields={"purpose": ["Invalid"]})
    if not 1 <= limit <= REGISTER_PAGE_MAX or offset < 0:
        raise QueryError(f"limit: 1 to {REGISTER_PAGE_MAX}; offset: 0 or more")
    cond: list[ColumnElement[bool]] = [Agreement.status.in_(REGISTER_STATUSES)]
    now = utcnow()
    if status == "active":
        cond += [
            Agreement.status.in_(("approved", "active")),
            or_(Agreement.start_at.is_(None), Agreement.start_at <= now),
            or_(Agreement.end_at.is_(None), Agreement.end_at > now),
        ]
    elif status == "approved":
        cond += [Agreement.status.in_(("approved", "active")), Agreement.start_at > now]
    elif status == "expired":
        cond += [
            or_(
                Agreement.status == "expired",
                Agreement.status.in_(("approved", "active")) & (Agreement.end_at <= now),
            )
        ]
    elif status == "revoked":
        cond.append(Agreement.status == "revoked")
    if provider:
        org = ctx.session.scalar(
            select(Organization).where(
                (Organization.name == provider) | (Organization.id == provider)
            )
        )
        if org is None:
            raise NotFound(f"Organization {provider!r} not found")
        cond.append(Agreement.provider_org_id == org.id)
    if purpose:
        cond.append(Agreement.purpose == purpose)
    if q:
        like = f"%{q.strip()[:100]}%"
        cond.append(
            or_(
                Agreement.title.ilike(like),
                Agreement.reference.ilike(like),
                Agreement.purpose_detail.ilike(like),
            )
        )
    total = int(ctx.session.scalar(select(func.count()).select_from(Agreement).where(*cond)) or 0)
    rows = ctx.session.scalars(
        select(Agreement)
        .where(*cond)
        .order_by(Agreement.created.desc(), Agreement.reference)
        .offset(offset)
        .limit(limit)
    ).all()
    return [agreement_dict(ctx, ag, public=True) for ag in rows], total


def register_entry(ctx: Ctx, ref: str) -> dict[str, Any]:
    ag = ctx.session.scalar(select(Agreement).where(Agreement.reference == ref.upper()))
    if ag is None or ag.status not in REGISTER_STATUSES:
        raise NotFound(f"Agreement {ref!r} is not in the register")
    return agreement_dict(ctx, ag, public=True)

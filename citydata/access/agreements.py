"""Data sharing agreements: requests, decisions, revocation and expiry.

The lifecycle is ``draft → requested → approved → active → expired | revoked | refused``:

* a recipient **requests** access (or saves a draft first); a provider may also draft an
  agreement naming its recipients itself;
* the provider's data owners (its organisation admins) **approve** it — setting the conditions
  — **refuse** it, or **ask for more information** (it returns to draft for the requester);
* it is **active** between its start and end dates, and **expired** after; either side may
  **revoke** it. The policy checks the dates on every read, so an agreement stops working the
  moment it ends, before :func:`sweep` records the expiry.

Every step records an event (the agreement's history), an audit entry and notifications to the
people concerned, all in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citydata.access import audit, notify
from citydata.access.actors import Actor
from citydata.access.policy import in_force, require_data_owner
from citydata.access.vocabulary import (
    ACTIONS,
    AGREEMENT_LEVELS,
    DEFAULT_MIN_CELL_COUNT,
    LAWFUL_BASES,
    PERSONAL_REASONS,
    PURPOSES,
    SPECIAL_CATEGORY_CONDITIONS,
)
from citydata.catalog.context import Ctx
from citydata.catalog.names import Errors, check_text, check_url
from citydata.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from citydata.storage.models import Dataset, Organization, Resource, User, utcnow
from citydata.storage.models_access import (
    Agreement,
    AgreementDataset,
    AgreementEvent,
    AgreementRecipient,
    Counter,
)

MAX_DAYS = 5 * 365
DEFAULT_DAYS = 365
MIN_PURPOSE_DETAIL = 20
MAX_DATASETS = 50


def effective_status(ag: Agreement, now: datetime | None = None) -> str:
    """The status as it stands now: an approved agreement is active from its start date and
    expired from its end date, whatever was last recorded."""
    now = now or utcnow()
    if ag.status not in ("approved", "active"):
        return ag.status
    if ag.end_at is not None and ag.end_at <= now:
        return "expired"
    if in_force(ag.status, ag.start_at, ag.end_at, now):
        return "active"
    return "approved"


def find(session: Session, ref_or_id: object) -> Agreement | None:
    if not isinstance(ref_or_id, str) or not ref_or_id:
        return None
    return session.scalar(
        select(Agreement).where(
            (Agreement.reference == ref_or_id.upper()) | (Agreement.id == ref_or_id)
        )
    )


# -- who is who ----------------------------------------------------------------------------------
def is_recipient(session: Session, actor: Actor, ag: Agreement) -> bool:
    if not actor.user_id:
        return False
    for r in ag.recipients:
        if r.user_id == actor.user_id and (r.org_id is None or r.org_id in actor.roles):
            return True
        if r.user_id is None and r.org_id in actor.roles:
            return True
    return False


def is_provider(actor: Actor, ag: Agreement) -> bool:
    return actor.role_in(ag.provider_org_id) is not None


def can_view(session: Session, actor: Actor, ag: Agreement) -> bool:
    """The whole record (history, drafts): the parties, and sysadmins."""
    return (
        actor.sysadmin
        or is_provider(actor, ag)
        or is_recipient(session, actor, ag)
        or (actor.user_id is not None and actor.user_id == ag.requested_by)
    )


def get_for(ctx: Ctx, ref: object) -> Agreement:
    """An agreement the actor may see in full; anyone else gets NotFound (drafts and requests
    are nobody else's business; the register shows the public part of the rest)."""
    ag = find(ctx.session, ref)
    if ag is None or not can_view(ctx.session, ctx.actor, ag):
        raise NotFound(f"Agreement {ref!r} not found")
    return ag


def _recipient_users(session: Session, ag: Agreement) -> list[User]:
    """People to tell about a decision: the requester, named users and recipient org admins."""
    users: list[User] = []
    if ag.requested_by:
        u = session.get(User, ag.requested_by)
        if u:
            users.append(u)
    for r in ag.recipients:
        if r.user_id:
            u = session.get(User, r.user_id)
            if u:
                users.append(u)
        elif r.org_id:
            users.extend(notify.org_admins(session, r.org_id))
    return users


# -- input ---------------------------------------------------------------------------------------
def _next_reference(session: Session, now: datetime) -> str:
    name = f"agreement-{now.year}"
    # Bump first, then read: the UPDATE's lock hands out numbers one writer at a time.
    done = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
    )
    if not getattr(done, "rowcount", 0):
        session.add(Counter(name=name, value=1))
        session.flush()
    value = session.scalar(select(Counter.value).where(Counter.name == name))
    return f"DSA-{now.year}-{int(value or 1):04d}"


def _date(errors: Errors, field: str, value: object) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        text = str(value).strip().replace("Z", "")
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.add(field, "Must be a date in the form YYYY-MM-DD")
        return None
    return parsed.replace(tzinfo=None)


def _int(errors: Errors, field: str, value: object, lo: int, hi: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        errors.add(field, "Must be a whole number")
        return None
    if not lo <= number <= hi:
        errors.add(field, f"Must be between {lo} and {hi}")
        return None
    return number


def _choice(
    errors: Errors, field: str, value: object, vocabulary: dict[str, str], *, required: bool = True
) -> str:
    if value in (None, ""):
        if required:
            errors.add(field, "Choose one: " + ", ".join(vocabulary))
        return ""
    if not isinstance(value, str) or value not in vocabulary:
        errors.add(field, f"{value!r} is not one of: " + ", ".join(vocabulary))
        return ""
    return value


def _names(value: object) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def check_actions(errors: Errors, value: object, default: list[str] | None = None) -> list[str]:
    actions = _names(value) or list(default or ["read"])
    bad = [a for a in actions if a not in ACTIONS]
    if bad:
        errors.add("actions", f"Unknown actions {bad}; valid: {', '.join(ACTIONS)}")
        return []
    if "aggregate" in actions and len(set(actions)) > 1:
        errors.add(
            "actions",
            "aggregate means aggregate-only: it cannot be combined with read, query or download",
        )
        return []
    return sorted(set(actions))


def _datasets(ctx: Ctx, data: dict, errors: Errors) -> list[tuple[Dataset, str | None]]:
    """The datasets (and optional resources) asked for, each visible to the actor."""
    from citydata.catalog.datasets import find_dataset

    wanted = _names(data.get("datasets")) or _names(data.get("dataset"))
    if not wanted:
        errors.add("datasets", "Name at least one dataset")
        return []
    if len(wanted) > MAX_DATASETS:
        errors.add("datasets", f"At most {MAX_DATASETS} datasets in one agreement")
        return []
    resources = set(_names(data.get("resources")))
    out: list[tuple[Dataset, str | None]] = []
    for name in dict.fromkeys(wanted):
        ds = find_dataset(ctx.session, name)
        if ds is None or not ctx.access.can_see(ds) or ds.state != "active":
            errors.add("datasets", f"Dataset {name!r} not found")
            continue
        held_at = _held_elsewhere(ctx.session, ds)
        if held_at:
            raise Conflict(
                f"{ds.name} is held at node {held_at}, whose owner decides who may use it: "
                "request access with POST /api/v1/federation/access-requests"
            )
        if ds.access_level not in AGREEMENT_LEVELS:
            why = (
                (
                    "private datasets cannot be shared; the publisher must make it shared or "
                    "restricted first"
                )
                if ds.access_level == "private"
                else (f"it is {ds.access_level} data, which needs no agreement")
            )
            errors.add("datasets", f"{ds.name}: {why}")
            continue
        own = [r.id for r in ds.resources if r.id in resources]
        if own:
            out.extend((ds, rid) for rid in own)
        else:
            out.append((ds, None))
    unknown = resources - {rid for _, rid in out if rid}
    if unknown and not errors.fields:
        errors.add("resources", f"Resources not in the datasets named: {sorted(unknown)}")
    providers = {ds.owner_org for ds, _ in out}
    if len(providers) > 1:
        errors.add(
            "datasets",
            "All datasets of one agreement must come from one publisher: "
            "make one request per publisher",
        )
    return out


def _held_elsewhere(session: Session, ds: Dataset) -> str | None:
    """The owner node a harvested dataset lives on (its data is not here to share)."""
    from citydata.federation.sharing import origin

    found = origin(session, ds.id)
    return found[0].name if found else None


def _purpose_fields(errors: Errors, data: dict, datasets: list[Dataset]) -> dict[str, Any]:
    purpose = _choice(errors, "purpose", data.get("purpose"), PURPOSES)
    detail = check_text(errors, "purpose_detail", data.get("purpose_detail"), 5000).strip()
    if len(detail) < MIN_PURPOSE_DETAIL:
        errors.add(
            "purpose_detail",
            f"Describe the purpose in at least {MIN_PURPOSE_DETAIL} "
            "characters: what the data will be used for, by whom",
        )
    basis = _choice(errors, "lawful_basis", data.get("lawful_basis"), LAWFUL_BASES)
    personal = any(ds.restriction_reason in PERSONAL_REASONS for ds in datasets)
    special = any(ds.restriction_reason == "special-category-data" for ds in datasets)
    if personal and basis == "not-personal-data":
        errors.add(
            "lawful_basis", "These data contain personal data: give a UK GDPR Art. 6 lawful basis"
        )
    condition = _choice(
        errors,
        "special_category_condition",
        data.get("special_category_condition"),
        SPECIAL_CATEGORY_CONDITIONS,
        required=special,
    )
    dpia = check_text(errors, "dpia_reference", data.get("dpia_reference"), 200).strip()
    if personal and not dpia:
        errors.add(
            "dpia_reference",
            "Personal data: give the reference of your data protection impact assessment (DPIA)",
        )
    return {
        "purpose": purpose,
        "purpose_detail": detail,
        "lawful_basis": basis,
        "special_category_condition": condition,
        "dpia_reference": dpia,
        "dpia_url": check_url(errors, "dpia_url", data.get("dpia_url")),
    }


def _event(
    session: Session, ag: Agreement, actor: Actor, action: str, before: str, note: str = ""
) -> None:
    ag.events.append(
        AgreementEvent(
            actor_id=actor.user_id,
            actor_name=actor.name or "system",
            action=action,
            from_status=before,
            to_status=ag.status,
            note=note,
            at=utcnow(),
        )
    )
    ag.modified = utcnow()
    audit.stage(
        session,
        actor,
        f"agreement.{action}",
        org_id=ag.provider_org_id,
        agreement_id=ag.id,
        purpose=ag.purpose,
        detail={"reference": ag.reference, "from": before, "to": ag.status, "note": note[:1000]},
    )


def _tell(ctx: Ctx, ag: Agreement, users: list[User], subject: str, body: str) -> None:
    notify.notify(
        ctx.session,
        users,
        kind="agreement",
        subject=f"{ag.reference}: {subject}",
        body=body,
        link=f"/agreements/{ag.reference}",
        site_url=ctx.site_url,
    )


# -- creating ------------------------------------------------------------------------------------
def create(ctx: Ctx, data: dict) -> Agreement:
    """A recipient's access request (``submit`` false keeps it a draft), or — when
    ``recipients`` is given — an agreement the provider drafts for named recipients."""
    actor = ctx.actor
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in (or send an API token) to request access")
    if not isinstance(data, dict):
        raise ValidationError("Expected a JSON object")
    errors = Errors()
    covered = _datasets(ctx, data, errors)
    datasets = list({ds.id: ds for ds, _ in covered}.values())
    fields = _purpose_fields(errors, data, datasets)
    days = _int(errors, "duration_days", data.get("duration_days"), 1, MAX_DAYS)
    start = _date(errors, "start_date", data.get("start_date"))
    end = _date(errors, "end_date", data.get("end_date"))
    if start and end and end <= start:
        errors.add("end_date", "Must be after the start date")
    actions = check_actions(errors, data.get("actions"))
    columns = _names(data.get("columns")) or None
    retention = _int(errors, "retention_days", data.get("retention_days"), 1, MAX_DAYS)
    title = check_text(errors, "title", data.get("title"), 300).strip()
    errors.raise_if_any("Cannot create the agreement")
    provider = datasets[0].owner_org
    as_provider = "recipients" in data
    if as_provider:
        require_data_owner(actor, provider)
        recipients = _recipient_rows(ctx, data.get("recipients"))
    else:
        if actor.user_id is None:
            raise ValidationError("Only a person can request access: name the recipients")
        if actor.role_in(provider) is not None:
            raise Conflict(
                "You are a member of this dataset's publisher: you can use its data "
                "without an agreement"
            )
        recipients = _requester_rows(ctx, data.get("organization"))
    now = utcnow()
    org = ctx.session.get(Organization, provider)
    ag = Agreement(
        reference=_next_reference(ctx.session, now),
        provider_org_id=provider,
        status="draft",
        title=title or _default_title(datasets, org),
        actions=json.dumps(actions),
        allowed_columns=json.dumps(columns) if columns else "",
        min_cell_count=DEFAULT_MIN_CELL_COUNT if actions == ["aggregate"] else 0,
        no_onward_sharing=True,
        retention_days=retention,
        duration_days=days or (None if end else DEFAULT_DAYS),
        start_at=start,
        end_at=end,
        requested_by=actor.user_id,
        ended_reason="",
        created=now,
        modified=now,
        **fields,
    )
    ag.recipients = recipients
    ag.datasets = [
        AgreementDataset(dataset_id=ds.id, resource_id=rid, position=i)
        for i, (ds, rid) in enumerate(covered)
    ]
    ctx.session.add(ag)
    ctx.session.flush()
    _event(
        ctx.session,
        ag,
        actor,
        "drafted" if as_provider else "created",
        "",
        "Drafted by the provider" if as_provider else "",
    )
    submit_now = data.get("submit", True)
    if not as_provider and str(submit_now).lower() not in ("false", "0", "no", "off"):
        submit(ctx, ag.reference)
    return ag


def _default_title(datasets: list[Dataset], org: Organization | None) -> str:
    first = datasets[0].title or datasets[0].name
    more = f" and {len(datasets) - 1} more" if len(datasets) > 1 else ""
    return f"{first}{more} ({org.title if org else 'publisher'})"[:300]


def _requester_rows(ctx: Ctx, org_name: object) -> list[AgreementRecipient]:
    """The requester, acting for one of their organisations (or as an individual)."""
    from citydata.catalog.organizations import get_organization

    actor = ctx.actor
    org_id = None
    if org_name not in (None, ""):
        org = get_organization(ctx.session, str(org_name))
        if actor.role_in(org.id) is None:
            raise Forbidden(
                f"You are not a member of {org.name}: you cannot request access on its behalf"
            )
        org_id = org.id
    elif len(actor.roles) == 1:
        org_id = next(iter(actor.roles))
    return [AgreementRecipient(org_id=org_id, user_id=actor.user_id, position=0)]


def _recipient_rows(ctx: Ctx, value: object) -> list[AgreementRecipient]:
    """Provider-named recipients: [{"organization": name, "user": name}, ...] (either part
    may be left out: an organisation alone means all of its members)."""
    from citydata.catalog.organizations import get_organization
    from citydata.catalog.users import get_user

    if not isinstance(value, list) or not value:
        raise ValidationError(
            'recipients: a list of {"organization", "user"} objects',
            fields={"recipients": ["Name at least one recipient"]},
        )
    rows = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not (item.get("organization") or item.get("user")):
            raise ValidationError(
                f"recipients[{i}]: give an organization, a user or both",
                fields={"recipients": ["Each needs an organization or user"]},
            )
        org = (
            get_organization(ctx.session, str(item["organization"]))
            if item.get("organization")
            else None
        )
        user = get_user(ctx.session, str(item["user"])) if item.get("user") else None
        rows.append(
            AgreementRecipient(
                org_id=org.id if org else None, user_id=user.id if user else None, position=i
            )
        )
    return rows


def update_draft(ctx: Ctx, ref: str, data: dict) -> Agreement:
    """The requester edits a draft (e.g. after the provider asked for more information)."""
    ag = get_for(ctx, ref)
    if ag.status != "draft" or ag.requested_by != ctx.actor.user_id:
        raise Conflict("Only the requester can change an agreement, and only while it is a draft")
    errors = Errors()
    datasets = [ctx.session.get(Dataset, d.dataset_id) for d in ag.datasets]
    merged = {
        k: getattr(ag, k)
        for k in (
            "purpose",
            "purpose_detail",
            "lawful_basis",
            "special_category_condition",
            "dpia_reference",
            "dpia_url",
        )
    }
    merged.update({k: v for k, v in data.items() if k in merged})
    for key, value in _purpose_fields(errors, merged, [d for d in datasets if d]).items():
        setattr(ag, key, value)
    if "duration_days" in data:
        ag.duration_days = _int(errors, "duration_days", data["duration_days"], 1, MAX_DAYS)
    if "actions" in data:
        ag.actions = json.dumps(check_actions(errors, data["actions"]))
    errors.raise_if_any("Cannot update the agreement")
    _event(ctx.session, ag, ctx.actor, "updated", ag.status)
    return ag


# -- decisions -------------------------------------------------------------------------------
def submit(ctx: Ctx, ref: str, note: str = "") -> Agreement:
    ag = get_for(ctx, ref)
    if ag.status != "draft":
        raise Conflict(f"Agreement {ag.reference} is {ag.status}: only a draft can be submitted")
    if not (ag.requested_by == ctx.actor.user_id or is_recipient(ctx.session, ctx.actor, ag)):
        raise Forbidden("Only the requester can submit this request")
    before, ag.status = ag.status, "requested"
    _event(ctx.session, ag, ctx.actor, "requested", before, note)
    org = ctx.session.get(Organization, ag.provider_org_id)
    who = ctx.actor.name
    names = ", ".join(d["title"] for d in dataset_summaries(ctx.session, ag))
    _tell(
        ctx,
        ag,
        notify.org_admins(ctx.session, ag.provider_org_id),
        "new data access request",
        f"{who} asks {org.title if org else 'you'} for access to {names}, for the purpose "
        f'"{PURPOSES.get(ag.purpose, ag.purpose)}". Decide on the request here:',
    )
    return ag


def _owner(ctx: Ctx, ag: Agreement) -> None:
    require_data_owner(ctx.actor, ag.provider_org_id)


def _required_note(note: object, what: str) -> str:
    text = str(note or "").strip()
    if not text:
        raise ValidationError(f"note: say {what}", fields={"note": [f"Say {what}"]})
    if len(text) > 5000:
        raise ValidationError("note: at most 5000 characters", fields={"note": ["Too long"]})
    return text


def covered_columns(session: Session, ag: Agreement) -> set[str]:
    """The column names of every tabular resource the agreement covers (current versions)."""
    names: set[str] = set()
    for item in ag.datasets:
        q = select(Resource).where(Resource.dataset_id == item.dataset_id)
        if item.resource_id:
            q = q.where(Resource.id == item.resource_id)
        for r in session.scalars(q):
            for v in r.versions:
                if v.version == r.current_version:
                    names.update(c["name"] for c in json.loads(v.columns or "[]"))
    return names


def approve(ctx: Ctx, ref: str, data: dict | None = None) -> Agreement:
    """Approve with the conditions in ``data`` (defaults: what was requested): ``actions``,
    ``columns``, ``min_cell_count``, ``retention_days``, ``start_date``, ``end_date``,
    ``no_onward_sharing``, ``note``. Active at once unless it starts later."""
    data = data or {}
    ag = get_for(ctx, ref)
    _owner(ctx, ag)
    if ag.status not in ("requested", "draft"):
        raise Conflict(f"Agreement {ag.reference} is {ag.status}: it cannot be approved")
    if ag.status == "draft" and not _drafted_by_provider(ag):
        raise Conflict(
            f"Agreement {ag.reference} is still a draft: the requester has not submitted it"
        )
    errors = Errors()
    actions = check_actions(errors, data.get("actions"), json.loads(ag.actions or '["read"]'))
    columns: list[str] | None
    if "columns" in data:
        columns = _names(data.get("columns")) or None
    else:
        columns = json.loads(ag.allowed_columns) if ag.allowed_columns else None
    if columns:
        known = covered_columns(ctx.session, ag)
        unknown = [c for c in columns if c not in known]
        if unknown:
            errors.add(
                "columns",
                f"Not columns of the covered data: {unknown}; columns are: "
                + ", ".join(sorted(known)),
            )
    min_cell = _int(errors, "min_cell_count", data.get("min_cell_count"), 1, 1000)
    retention = _int(errors, "retention_days", data.get("retention_days"), 1, MAX_DAYS)
    now = utcnow()
    start = _date(errors, "start_date", data.get("start_date")) or ag.start_at or now
    end = _date(errors, "end_date", data.get("end_date")) or ag.end_at
    if end is None:
        end = start + timedelta(days=ag.duration_days or DEFAULT_DAYS)
    if end <= start:
        errors.add("end_date", "Must be after the start date")
    elif end - start > timedelta(days=MAX_DAYS):
        errors.add("end_date", f"An agreement lasts at most {MAX_DAYS} days")
    if end <= now:
        errors.add("end_date", "Must be in the future")
    errors.raise_if_any("Cannot approve the agreement")
    ag.actions = json.dumps(actions)
    ag.allowed_columns = json.dumps(sorted(columns)) if columns else ""
    ag.min_cell_count = (min_cell or DEFAULT_MIN_CELL_COUNT) if actions == ["aggregate"] else 0
    if retention is not None:
        ag.retention_days = retention
    if "no_onward_sharing" in data:
        ag.no_onward_sharing = str(data["no_onward_sharing"]).lower() not in ("false", "0", "no")
    ag.start_at, ag.end_at = start, end
    ag.decided_by, ag.decided_at = ctx.actor.user_id, now
    before, ag.status = ag.status, "approved"
    note = str(data.get("note") or "")[:5000]
    _event(ctx.session, ag, ctx.actor, "approved", before, note)
    if start <= now:
        ag.status = "active"
        _event(ctx.session, ag, ctx.actor, "activated", "approved")
    _tell(
        ctx,
        ag,
        _recipient_users(ctx.session, ag),
        "access approved",
        f"Your request was approved by {ctx.actor.name}. It runs from {start:%d %B %Y} to "
        f"{end:%d %B %Y}. Use the data for the agreed purpose only: send the header "
        f"X-Citydata-Purpose: {ag.purpose} (or X-Citydata-Agreement: {ag.reference}).",
    )
    return ag


def _drafted_by_provider(ag: Agreement) -> bool:
    return any(e.action == "drafted" for e in ag.events)


def refuse(ctx: Ctx, ref: str, note: object) -> Agreement:
    ag = get_for(ctx, ref)
    _owner(ctx, ag)
    if ag.status not in ("requested", "draft"):
        raise Conflict(f"Agreement {ag.reference} is {ag.status}: it cannot be refused")
    text = _required_note(note, "why the request is refused")
    before, ag.status = ag.status, "refused"
    ag.decided_by, ag.decided_at, ag.ended_reason = ctx.actor.user_id, utcnow(), text
    _event(ctx.session, ag, ctx.actor, "refused", before, text)
    _tell(
        ctx,
        ag,
        _recipient_users(ctx.session, ag),
        "request refused",
        f"Your request was refused by {ctx.actor.name}: {text}",
    )
    return ag


def request_info(ctx: Ctx, ref: str, note: object) -> Agreement:
    """Send the request back to the requester as a draft, with the owner's question."""
    ag = get_for(ctx, ref)
    _owner(ctx, ag)
    if ag.status != "requested":
        raise Conflict(
            f"Agreement {ag.reference} is {ag.status}: only a request waiting for a "
            "decision can be sent back"
        )
    text = _required_note(note, "what more you need to know")
    before, ag.status = ag.status, "draft"
    _event(ctx.session, ag, ctx.actor, "info_requested", before, text)
    _tell(
        ctx,
        ag,
        _recipient_users(ctx.session, ag),
        "more information needed",
        f"{ctx.actor.name} needs more information before deciding: {text}\n"
        "Edit the request and submit it again.",
    )
    return ag


def revoke(ctx: Ctx, ref: str, note: object) -> Agreement:
    """End an approved or active agreement now (the provider's owners or a recipient)."""
    ag = get_for(ctx, ref)
    owner = ctx.actor.role_in(ag.provider_org_id) == "admin" or ctx.actor.is_system
    if not (owner or is_recipient(ctx.session, ctx.actor, ag)):
        raise Forbidden("Only the provider's data owners or a recipient can revoke an agreement")
    if not ctx.actor.scope_at_least("admin"):
        raise Forbidden(f"This API token's scope is {ctx.actor.scope}; this needs an admin token")
    status = effective_status(ag)
    if status not in ("approved", "active"):
        raise Conflict(
            f"Agreement {ag.reference} is {status}: only an approved or active "
            "agreement can be revoked"
        )
    text = _required_note(note, "why the agreement is revoked")
    before, ag.status = ag.status, "revoked"
    ag.ended_reason = text
    ag.end_at = min(ag.end_at, utcnow()) if ag.end_at else utcnow()
    _event(ctx.session, ag, ctx.actor, "revoked", before, text)
    users = _recipient_users(ctx.session, ag) + notify.org_admins(ctx.session, ag.provider_org_id)
    _tell(
        ctx,
        ag,
        [u for u in users if u.id != ctx.actor.user_id],
        "agreement revoked",
        f"{ctx.actor.name} revoked the agreement: {text}\nThe data can no longer be used under it.",
    )
    return ag


def sweep(ctx: Ctx, now: datetime | None = None) -> dict[str, int]:
    """Record what time has decided: approved agreements that have started become active,
    those past their end date expire. Safe to run often and from several processes."""
    now = now or utcnow()
    counts = {"activated": 0, "expired": 0}
    candidates = ctx.session.scalars(
        select(Agreement)
        .where(Agreement.status.in_(("approved", "active")))
        .with_for_update(skip_locked=True)
    ).all()
    system = Actor.system()
    for ag in candidates:
        status = effective_status(ag, now)
        if status == ag.status:
            continue
        before, ag.status = ag.status, status
        if status == "expired":
            ag.ended_reason = "Reached its end date"
            counts["expired"] += 1
            _event(ctx.session, ag, system, "expired", before)
            users = _recipient_users(ctx.session, ag) + notify.org_admins(
                ctx.session, ag.provider_org_id
            )
            _tell(
                ctx,
                ag,
                users,
                "agreement expired",
                f"The agreement reached its end date ({ag.end_at:%d %B %Y}); the data can no "
                "longer be used under it.",
            )
        else:
            counts["activated"] += 1
            _event(ctx.session, ag, system, "activated", before)
    return counts


def dataset_summaries(session: Session, ag: Agreement) -> list[dict[str, Any]]:
    out = []
    for item in ag.datasets:
        ds = session.get(Dataset, item.dataset_id)
        if ds is None:
            continue
        out.append(
            {
                "id": ds.id,
                "name": ds.name,
                "title": ds.title or ds.name,
                "access_level": ds.access_level,
                "resource_id": item.resource_id,
            }
        )
    return out

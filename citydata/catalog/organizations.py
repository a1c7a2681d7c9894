"""Organisations (publishers) and their members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citydata.access import audit
from citydata.access.actors import Actor
from citydata.access.policy import (
    ROLE_RANK,
    require_org_admin,
    require_sysadmin,
    visible_datasets_clause,
)
from citydata.catalog.names import Errors, check_email, check_name, check_text, check_url
from citydata.errors import Conflict, NotFound, ValidationError
from citydata.storage.models import Dataset, Membership, Organization, User, utcnow

ORG_KINDS = (
    "borough",
    "gla",
    "transport",
    "utility",
    "emergency",
    "health",
    "development",
    "environment",
    "heritage",
    "private",
    "other",
)


def get_organization(session: Session, name_or_id: str) -> Organization:
    if not isinstance(name_or_id, str) or not name_or_id:
        raise NotFound("Organization not found")
    org = session.scalar(
        select(Organization).where(
            (Organization.name == name_or_id) | (Organization.id == name_or_id)
        )
    )
    if org is None or org.state != "active":
        raise NotFound(f'Organization "{name_or_id}" not found')
    return org


def organization_dict(
    session: Session, org: Organization, actor: Actor, *, counts: bool = True
) -> dict:
    out: dict[str, Any] = {
        "id": org.id,
        "name": org.name,
        "title": org.title or org.name,
        "display_name": org.title or org.name,
        "description": org.description,
        "kind": org.kind,
        "gss_code": org.gss_code,
        "url": org.url,
        "email": org.email,
        "image_url": "",
        "type": "organization",
        "is_organization": True,
        "state": org.state,
        "approval_status": "approved",
        "created": org.created.isoformat(),
    }
    if counts:
        out["package_count"] = session.scalar(
            select(func.count())
            .select_from(Dataset)
            .where(Dataset.owner_org == org.id, visible_datasets_clause(actor))
        )
    return out


def create_organization(session: Session, actor: Actor, data: dict) -> dict:
    require_sysadmin(actor)
    errors = Errors()
    name = check_name(errors, "name", data.get("name"))
    title = check_text(errors, "title", data.get("title"), 300)
    description = check_text(errors, "description", data.get("description"), 20000)
    kind = data.get("kind") or "other"
    if kind not in ORG_KINDS:
        errors.add("kind", f"Must be one of: {', '.join(ORG_KINDS)}")
    url = check_url(errors, "url", data.get("url"))
    email = check_email(errors, "email", data.get("email"))
    gss = data.get("gss_code") or None
    errors.raise_if_any("Cannot create the organization")
    if session.scalar(select(Organization.id).where(Organization.name == name)):
        raise Conflict("Group name already exists in database", fields={"name": ["Taken"]})
    org = Organization(
        name=name,
        title=title or name,
        description=description,
        kind=kind,
        url=url,
        email=email,
        gss_code=gss,
    )
    session.add(org)
    session.flush()
    if actor.user_id:  # the creator administers what they create, as in CKAN
        session.add(Membership(organization_id=org.id, user_id=actor.user_id, role="admin"))
    return organization_dict(session, org, actor)


def update_organization(session: Session, actor: Actor, name_or_id: str, data: dict) -> dict:
    org = get_organization(session, name_or_id)
    require_org_admin(actor, org.id)
    errors = Errors()
    if "title" in data:
        org.title = check_text(errors, "title", data["title"], 300)
    if "description" in data:
        org.description = check_text(errors, "description", data["description"], 20000)
    if "url" in data:
        org.url = check_url(errors, "url", data["url"])
    if "email" in data:
        org.email = check_email(errors, "email", data["email"])
    errors.raise_if_any("Cannot update the organization")
    org.modified = utcnow()
    return organization_dict(session, org, actor)


def list_organizations(
    session: Session, actor: Actor, *, all_fields: bool = False, limit: int = 1000, offset: int = 0
) -> list:
    orgs = session.scalars(
        select(Organization)
        .where(Organization.state == "active")
        .order_by(Organization.name)
        .limit(limit)
        .offset(offset)
    ).all()
    if not all_fields:
        return [o.name for o in orgs]
    counts = dict(
        session.execute(
            select(Dataset.owner_org, func.count())
            .where(visible_datasets_clause(actor))
            .group_by(Dataset.owner_org)
        ).all()
    )
    out = []
    for o in orgs:
        d = organization_dict(session, o, actor, counts=False)
        d["package_count"] = counts.get(o.id, 0)
        out.append(d)
    return out


def add_member(session: Session, actor: Actor, org_name: str, user_name: str, role: str) -> None:
    org = get_organization(session, org_name)
    require_org_admin(actor, org.id)
    if role not in ROLE_RANK:
        raise ValidationError(
            f"Unknown role {role!r}", fields={"role": ["Must be member, editor or admin"]}
        )
    user = session.scalar(select(User).where((User.name == user_name) | (User.id == user_name)))
    if user is None:
        raise NotFound(f'User "{user_name}" not found')
    member = session.get(Membership, (org.id, user.id))
    before = member.role if member is not None else ""
    if member is None:
        session.add(Membership(organization_id=org.id, user_id=user.id, role=role))
    else:
        member.role = role
    session.flush()
    if before != role:
        audit.stage(session, actor, "role.changed", org_id=org.id,
                    detail={"organization": org.name, "user": user.name, "from": before,
                            "to": role})


def members(session: Session, org: Organization) -> list[tuple[str, str]]:
    rows = session.execute(
        select(User.name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organization_id == org.id)
        .order_by(User.name)
    )
    return [(n, r) for n, r in rows]

"""Access to data held at an owner node, brokered by the registry.

1. A person signed in at the registry asks for a restricted dataset that was harvested from
   an owner node. The registry forwards the request, signed as the registry, with who asks
   (their registry user name, full name and e-mail) and the purpose form, to the owner node.
2. The owner node records the person as a stand-in user (``alice@registry``: it cannot sign
   in), and creates and submits an ordinary access request for them. Its data owner decides
   it there, with the usual tools; nothing is decided at the registry.
3. The registry learns the decision by asking the owner node (signed); it keeps only the
   agreement's reference, status and dates.
4. To use the data, the person gets a short-lived *assertion* from the registry ("registry
   vouches that this is alice, for agreement DSA-…, addressed to the owner node"), signed
   with the registry's key, and exchanges it at the owner node for an API token bound to
   that agreement. They then query the owner node directly; the owner's policy enforces the
   agreement and its audit log records every read. The registry never sees the rows.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.access import agreements
from citydata.access.actors import Actor
from citydata.catalog import users
from citydata.catalog.context import Ctx
from citydata.catalog.datasets import find_dataset
from citydata.catalog.names import USER_RE
from citydata.errors import (
    CitydataError,
    Conflict,
    Forbidden,
    NotAuthenticated,
    NotFound,
    Unavailable,
    ValidationError,
)
from citydata.federation import nodes
from citydata.federation.fetch import HTTPStatusError, Limits
from citydata.federation.records import SourceError
from citydata.platform import Platform
from citydata.storage.models import User, utcnow
from citydata.storage.models_access import Agreement, AgreementRecipient
from citydata.storage.models_federation import (
    FederatedRequest,
    FederatedUser,
    FederationNode,
    HarvestRecordRow,
    HarvestSource,
)

INBOX = "/api/v1/federation/inbox/requests"
TOKEN_PATH = "/api/v1/federation/token"
ASSERTION_SECONDS = 300
FORWARDED_FIELDS = ("purpose", "purpose_detail", "lawful_basis", "special_category_condition",
                    "dpia_reference", "dpia_url", "duration_days", "start_date", "end_date",
                    "actions", "columns", "retention_days", "title")
LIMITS = Limits(max_bytes=2 * 1024 * 1024, timeout=20.0)


# ------------------------------------------------------------------ registry side


def origin(session: Session, dataset_id: str) -> tuple[FederationNode, HarvestRecordRow] | None:
    """The owner node a harvested dataset lives on, and the record linking it there."""
    row = session.execute(
        select(FederationNode, HarvestRecordRow)
        .join(HarvestSource, HarvestSource.node_id == FederationNode.id)
        .join(HarvestRecordRow, HarvestRecordRow.source_id == HarvestSource.id)
        .where(HarvestRecordRow.dataset_id == dataset_id, HarvestRecordRow.state == "active",
               FederationNode.status == "active")
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def request_dict(fr: FederatedRequest, node: FederationNode | None) -> dict[str, Any]:
    return {
        "id": fr.id,
        "node": node.name if node else None,
        "node_url": node.url if node else None,
        "dataset": fr.dataset_id,
        "remote_dataset": fr.remote_dataset,
        "reference": fr.remote_reference or None,
        "status": fr.status,
        "purpose": fr.purpose,
        "end_at": fr.end_at or None,
        "created": fr.created.isoformat(),
        "checked_at": fr.checked_at.isoformat() if fr.checked_at else None,
        "message": fr.message or None,
        "token_url": f"{node.url}{TOKEN_PATH}" if node else None,
    }


def _answer(fetched_body: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(fetched_body)
    except ValueError:
        raise SourceError(f"The owner node answered with something other than JSON ({url})",
                          url) from None
    if not isinstance(data, dict):
        raise SourceError(f"Unexpected answer from the owner node ({url})", url)
    return data


def _owner_error(exc: SourceError) -> CitydataError:
    return Unavailable(f"The owner node cannot be reached now; try again later "
                       f"({exc.message})")


def _refused_by_owner(node: FederationNode, exc: HTTPStatusError) -> CitydataError:
    """The owner node's own explanation (its native error body), passed on to the person."""
    try:
        error = json.loads(exc.fetched.body)["error"]
        message, fields = str(error["message"])[:2000], error.get("fields") or {}
        if not isinstance(fields, dict):
            fields = {}
    except (ValueError, KeyError, TypeError):
        message, fields = exc.message, {}
    clean = {str(k)[:100]: [str(m)[:500] for m in v] for k, v in fields.items()
             if isinstance(v, list)}
    cls = Conflict if exc.status == 409 else ValidationError
    return cls(f"{node.name} refused the request: {message}", fields=clean)


def forward(platform: Platform, ctx: Ctx, dataset: object, data: dict[str, Any]) -> dict:
    """Forward a signed-in person's access request for a harvested dataset to its owner."""
    actor = ctx.actor
    if actor.user_id is None:
        raise NotAuthenticated("Sign in to request access")
    if not isinstance(data, dict):
        raise ValidationError("Expected a JSON object")
    ds = find_dataset(ctx.session, dataset)
    if ds is None or ds.state != "active" or not ctx.access.can_see(ds):
        raise NotFound(f"Dataset {dataset!r} not found")
    found = origin(ctx.session, ds.id)
    if found is None:
        raise Conflict(f"{ds.name} is held here, not at another node: request access to it "
                       "with POST /api/v1/agreements")
    node, record = found
    user = ctx.session.get(User, actor.user_id)
    assert user is not None
    payload = {
        "dataset": record.remote_id,
        "requester": {"name": user.name, "fullname": user.fullname, "email": user.email},
        **{k: data[k] for k in FORWARDED_FIELDS if k in data},
    }
    url = node.url + INBOX
    try:
        with nodes.fetcher_for(platform.settings, node, LIMITS) as fetcher:
            answer = _answer(fetcher.post_json(url, payload).body, url)
    except HTTPStatusError as exc:
        if 400 <= exc.status < 500:
            raise _refused_by_owner(node, exc) from None
        raise _owner_error(exc) from None
    except SourceError as exc:
        raise _owner_error(exc) from None
    fr = FederatedRequest(
        user_id=user.id, node_id=node.id, dataset_id=ds.id, remote_dataset=record.remote_id,
        remote_reference=str(answer.get("reference") or "")[:40],
        status=str(answer.get("status") or "submitted")[:20],
        purpose=str(data.get("purpose") or "")[:60], checked_at=utcnow(),
    )
    ctx.session.add(fr)
    ctx.session.flush()
    return request_dict(fr, node)


def my_requests(ctx: Ctx) -> list[dict[str, Any]]:
    if ctx.actor.user_id is None:
        raise NotAuthenticated("Sign in to see your requests")
    rows = ctx.session.execute(
        select(FederatedRequest, FederationNode)
        .join(FederationNode, FederationNode.id == FederatedRequest.node_id)
        .where(FederatedRequest.user_id == ctx.actor.user_id)
        .order_by(FederatedRequest.created.desc())
    ).all()
    return [request_dict(fr, node) for fr, node in rows]


def _own_request(ctx: Ctx, request_id: str) -> tuple[FederatedRequest, FederationNode]:
    fr = ctx.session.get(FederatedRequest, request_id)
    if fr is None or (fr.user_id != ctx.actor.user_id and not ctx.actor.sysadmin):
        raise NotFound(f"No forwarded request {request_id!r}")
    node = ctx.session.get(FederationNode, fr.node_id)
    assert node is not None
    return fr, node


def refresh(platform: Platform, session: Session, fr: FederatedRequest) -> None:
    """Ask the owner node what became of a forwarded request (signed; the answer is the
    agreement's status and dates only)."""
    node = session.get(FederationNode, fr.node_id)
    if node is None or not fr.remote_reference:
        return
    url = f"{node.url}{INBOX}/{fr.remote_reference}"
    try:
        with nodes.fetcher_for(platform.settings, node, LIMITS) as fetcher:
            answer = _answer(fetcher.get(url, accept="application/json").body, url)
    except SourceError as exc:
        fr.message = f"Could not ask the owner node: {exc.message}"[:2000]
        return
    fr.status = str(answer.get("status") or fr.status)[:20]
    fr.end_at = str(answer.get("end_at") or "")[:40]
    fr.message = str(answer.get("note") or "")[:2000]
    fr.checked_at = utcnow()


def show_request(platform: Platform, ctx: Ctx, request_id: str) -> dict[str, Any]:
    fr, node = _own_request(ctx, request_id)
    refresh(platform, ctx.session, fr)
    return request_dict(fr, node)


def refresh_pending(platform: Platform, limit: int = 50) -> int:
    """The jobs loop keeps forwarded requests' statuses current."""
    with platform.db.session() as session:
        rows = list(session.scalars(
            select(FederatedRequest)
            .where(FederatedRequest.status.in_(("submitted", "info_requested", "approved",
                                                "active")))
            .order_by(FederatedRequest.checked_at).limit(limit)))
        for fr in rows:
            refresh(platform, session, fr)
        return len(rows)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def assertion(platform: Platform, ctx: Ctx, request_id: str) -> dict[str, Any]:
    """A short-lived, registry-signed statement of who the person is, for one agreement at
    one owner node; they exchange it there for a token (the registry never holds one)."""
    fr, node = _own_request(ctx, request_id)
    refresh(platform, ctx.session, fr)
    if fr.status not in ("approved", "active"):
        raise Conflict(f"The request is {fr.status}, not approved: there is nothing to use yet")
    me = nodes.identity(platform.settings)
    user = ctx.session.get(User, fr.user_id)
    assert user is not None
    now = int(time.time())
    claims = {"iss": me.name, "aud": node.name, "sub": user.name,
              "agreement": fr.remote_reference, "iat": now, "exp": now + ASSERTION_SECONDS,
              "jti": _b64(secrets.token_bytes(18))}
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = me.key.sign(body.encode())
    return {
        "assertion": f"{body}.{_b64(base64.b64decode(signature))}",
        "token_url": node.url + TOKEN_PATH,
        "expires_in": ASSERTION_SECONDS,
        "agreement": fr.remote_reference,
        "node": node.name,
    }


# ------------------------------------------------------------------ owner side


def stand_in(session: Session, node: FederationNode, requester: dict[str, Any]) -> User:
    """The local user standing for a person of another node (created on first request)."""
    remote = requester.get("name") if isinstance(requester, dict) else None
    if not isinstance(remote, str) or not USER_RE.match(remote):
        raise ValidationError("requester.name must be the person's user name at the registry",
                              fields={"requester": ["Invalid user name"]})
    link = session.scalar(select(FederatedUser).where(
        FederatedUser.node_id == node.id, FederatedUser.remote_name == remote))
    if link is not None:
        user = session.get(User, link.user_id)
        assert user is not None
    else:
        user = User(name=f"{remote}@{node.name}"[:100], password_hash="", state="active")
        session.add(user)
        session.flush()
        session.add(FederatedUser(node_id=node.id, remote_name=remote, user_id=user.id))
    fullname = requester.get("fullname")
    email = requester.get("email")
    user.fullname = (fullname if isinstance(fullname, str) else "")[:200] or user.name
    user.email = (email if isinstance(email, str) and "@" in email else "")[:254]
    return user


def receive(platform: Platform, node: FederationNode, payload: Any) -> dict[str, Any]:
    """Owner side: record a request forwarded by the registry and submit it here."""
    if not isinstance(payload, dict):
        raise ValidationError("Expected a JSON object")
    if node.role != "registry":
        raise Forbidden("Only this node's registry forwards access requests")
    with platform.db.session() as session:
        fresh_node = session.get(FederationNode, node.id)
        assert fresh_node is not None
        user = stand_in(session, fresh_node, payload.get("requester") or {})
        actor = users.actor_for_user(session, user)
        ctx = Ctx(session, actor, platform.settings, platform.files)
        data = {k: payload[k] for k in FORWARDED_FIELDS if k in payload}
        data["datasets"] = [payload.get("dataset")]
        ag = agreements.create(ctx, data)
        agreements._event(session, ag, actor, "forwarded", ag.status,
                          f"Forwarded by node {node.name}")
        return {"reference": ag.reference, "status": agreements.effective_status(ag)}


def _forwarded_agreement(session: Session, node: FederationNode, ref: str) -> Agreement:
    ag = agreements.find(session, ref)
    if ag is None:
        raise NotFound(f"No agreement {ref!r}")
    stand_ins = set(session.scalars(select(FederatedUser.user_id).where(
        FederatedUser.node_id == node.id)))
    if ag.requested_by not in stand_ins:
        raise NotFound(f"No agreement {ref!r} was requested through {node.name}")
    return ag


def inbox_status(platform: Platform, node: FederationNode, ref: str) -> dict[str, Any]:
    """What the registry may know of an agreement it forwarded: status and dates."""
    with platform.db.session() as session:
        ag = _forwarded_agreement(session, node, ref)
        last_note = next((e.note for e in reversed(ag.events) if e.note), "")
        return {
            "reference": ag.reference,
            "status": agreements.effective_status(ag),
            "start_at": ag.start_at.isoformat() if ag.start_at else None,
            "end_at": ag.end_at.isoformat() if ag.end_at else None,
            "decided_at": ag.decided_at.isoformat() if ag.decided_at else None,
            "note": last_note if ag.status in ("refused", "info_requested") else "",
        }


def exchange(platform: Platform, raw: object) -> dict[str, Any]:
    """Owner side: a registry-signed assertion in, an agreement-bound API token out."""
    settings = platform.settings
    me = nodes.identity(settings)
    if not isinstance(raw, str) or raw.count(".") != 1 or len(raw) > 4000:
        raise NotAuthenticated("assertion: expected the string the registry gave you")
    body, sig = raw.split(".")
    try:
        claims = json.loads(_unb64(body))
        signature = base64.b64encode(_unb64(sig)).decode()
    except ValueError:
        raise NotAuthenticated("The assertion is malformed") from None
    if not isinstance(claims, dict):
        raise NotAuthenticated("The assertion is malformed")
    with platform.db.session() as session:
        node = nodes.find_node(session, str(claims.get("iss")))
        if node is None or node.role != "registry" or node.status != "active":
            raise NotAuthenticated("The assertion is not from this node's registry")
        if not nodes.public_key(node.public_key).verify(body.encode(), signature):
            raise NotAuthenticated("The assertion's signature does not verify")
        if claims.get("aud") != me.name:
            raise NotAuthenticated(f"The assertion is for node {claims.get('aud')!r}, not "
                                   f"{me.name!r}")
        now = time.time()
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < now or exp > now + 2 * ASSERTION_SECONDS:
            raise NotAuthenticated("The assertion has expired: ask the registry for a new one")
        if not nodes.remember_nonce(platform.db, f"assertion:{node.name}",
                                    str(claims.get("jti"))[:64]):
            raise NotAuthenticated("This assertion was already used")
        link = session.scalar(select(FederatedUser).where(
            FederatedUser.node_id == node.id,
            FederatedUser.remote_name == str(claims.get("sub"))))
        if link is None:
            raise Forbidden("No agreement here names this person")
        ag = _forwarded_agreement(session, node, str(claims.get("agreement")))
        recipient = session.scalar(select(AgreementRecipient.id).where(
            AgreementRecipient.agreement_id == ag.id, AgreementRecipient.user_id == link.user_id))
        if recipient is None:
            raise Forbidden("This person is not a recipient of that agreement")
        if agreements.effective_status(ag) != "active":
            raise Forbidden(f"Agreement {ag.reference} is {agreements.effective_status(ag)}, "
                            "not in force")
        user = session.get(User, link.user_id)
        assert user is not None
        days = None
        if ag.end_at is not None:
            days = max(1, min(3650, (ag.end_at - utcnow()).days + 1))
        token = users.create_token(session, Actor.system(), user.name,
                                   name=f"via {node.name} for {ag.reference}",
                                   expires_days=days, scope="read", agreement=ag.reference)
        return {"token": token, "user": user.name, "agreement": ag.reference,
                "scope": "read", "expires_days": days,
                "datasets": [d["name"] for d in agreements.dataset_summaries(session, ag)]}

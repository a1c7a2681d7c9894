"""Nodes: this node's identity, the nodes it knows, registration, and checking signed requests.

A registry administrator invites an owner node (``citydata federation invite``: a one-time
code tied to the local organisation its datasets will be catalogued under); the owner node
joins with that code (``citydata federation join``), sending its public key in a request
signed with that same key. From then on each side knows the other's key, and every request
between them is signed (:mod:`citydata.federation.signing`). Joining also sets up the harvest
of the new node's catalog at the registry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citydata.access.keys import NodeKey, load_key
from citydata.access.policy import require_sysadmin
from citydata.catalog.context import Ctx
from citydata.catalog.names import NAME_RE, Errors, check_text
from citydata.catalog.organizations import get_organization
from citydata.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from citydata.federation import signing
from citydata.federation.fetch import Fetcher, Limits
from citydata.federation.records import SourceError
from citydata.settings import Settings
from citydata.storage.database import Database
from citydata.storage.models import utcnow
from citydata.storage.models_federation import (
    FederationInvite,
    FederationNode,
    FederationNonce,
    HarvestSource,
)

INVITE_DAYS = 7
NODE_PATH = "/api/v1/federation/node"
REGISTER_PATH = "/api/v1/federation/nodes"


@dataclass(frozen=True)
class Identity:
    name: str
    key: NodeKey
    url: str
    title: str


def identity(settings: Settings) -> Identity:
    """This node's name and key; a clear error when federation is not set up."""
    if not settings.node_name:
        raise ValidationError(
            "This node has no name: set CITYDATA_NODE_NAME (e.g. camden) to federate"
        )
    key = load_key(settings)
    if key is None:
        raise ValidationError(
            "This node has no key: run `citydata node-key create` to federate"
        )
    return Identity(settings.node_name, key, settings.site_url.rstrip("/"), settings.site_title)


def public_key(b64: str) -> NodeKey:
    try:
        raw = base64.b64decode(b64, validate=True)
        return NodeKey(None, Ed25519PublicKey.from_public_bytes(raw))
    except (binascii.Error, ValueError):
        raise ValidationError(
            "public_key must be the base64 of a raw 32-byte Ed25519 public key",
            fields={"public_key": ["Not an Ed25519 public key"]},
        ) from None


def node_info(settings: Settings) -> dict[str, Any]:
    """What a node says about itself at ``/api/v1/federation/node`` (public)."""
    if not settings.node_name or load_key(settings) is None:
        return {"federated": False, "name": settings.node_name or None}
    me = identity(settings)
    return {
        "federated": True,
        "name": me.name,
        "title": me.title,
        "url": me.url,
        "public_key": me.key.public_b64,
        "key_id": me.key.key_id,
        "signature": "RFC 9421 HTTP Message Signatures, ed25519",
    }


def node_dict(node: FederationNode) -> dict[str, Any]:
    return {
        "name": node.name,
        "title": node.title,
        "url": node.url,
        "role": node.role,
        "status": node.status,
        "key_id": node.key_id,
        "registered_at": node.registered_at.isoformat() if node.registered_at else None,
        "last_seen": node.last_seen.isoformat() if node.last_seen else None,
        "last_error": node.last_error or None,
        "last_error_at": node.last_error_at.isoformat() if node.last_error_at else None,
    }


def find_node(session: Session, name: str) -> FederationNode | None:
    return session.scalar(select(FederationNode).where(FederationNode.name == name))


def get_node(session: Session, name: str) -> FederationNode:
    node = find_node(session, name)
    if node is None:
        raise NotFound(f"No node named {name!r} is known here")
    return node


def list_nodes(session: Session, role: str | None = None) -> list[FederationNode]:
    q = select(FederationNode).order_by(FederationNode.name)
    if role:
        q = q.where(FederationNode.role == role)
    return list(session.scalars(q))


def registry_node(session: Session) -> FederationNode | None:
    return session.scalar(
        select(FederationNode).where(
            FederationNode.role == "registry", FederationNode.status == "active"
        )
    )


def check_node_name(value: object) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value) or "_" in value:
        raise ValidationError(
            "A node name is 2 to 63 lowercase letters, digits and hyphens",
            fields={"name": ["2 to 63 lowercase letters, digits and hyphens"]},
        )
    return value


def check_base_url(value: object, field: str = "url") -> str:
    parts = urlsplit(value if isinstance(value, str) else "")
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise ValidationError(
            f"{field} must be the node's base http(s) URL, e.g. https://data.camden.gov.uk",
            fields={field: ["Not a base URL"]},
        )
    return str(value).rstrip("/")


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def invite(ctx: Ctx, node_name: str, organization: str, *, days: int = INVITE_DAYS) -> str:
    """A one-time registration code for ``node_name``; only its hash is stored."""
    require_sysadmin(ctx.actor)
    check_node_name(node_name)
    org = get_organization(ctx.session, organization)
    if find_node(ctx.session, node_name) is not None:
        raise Conflict(f"A node named {node_name!r} is already registered")
    code = "cdi_" + secrets.token_urlsafe(24)
    ctx.session.add(FederationInvite(
        node_name=node_name, code_hash=_code_hash(code), organization_id=org.id,
        expires_at=utcnow() + timedelta(days=days),
    ))
    return code


def accept_registration(
    db: Database, settings: Settings, *, path: str, query: str, headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Registry side of ``join``: check the invite and the request's self-signature, record
    the node and start harvesting it."""
    me = identity(settings)
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationError("The registration must be a JSON object") from None
    if not isinstance(payload, dict):
        raise ValidationError("The registration must be a JSON object")
    errors = Errors()
    name = check_node_name(payload.get("name"))
    url = check_base_url(payload.get("url"))
    key = public_key(str(payload.get("public_key") or ""))
    title = check_text(errors, "title", payload.get("title") or name, 300)
    errors.raise_if_any("Cannot register the node")
    with db.session() as session:
        inv = session.scalar(
            select(FederationInvite).where(
                FederationInvite.code_hash == _code_hash(str(payload.get("code") or ""))
            )
        )
        if inv is None or inv.used_at is not None or inv.expires_at < utcnow():
            raise NotAuthenticated("The registration code is unknown, used or expired")
        if inv.node_name != name:
            raise NotAuthenticated(f"The registration code was issued for node "
                                   f"{inv.node_name!r}, not {name!r}")
        signing.verify(
            method="POST", path=path, query=query, headers=headers, body=body, me=me.name,
            public_key_for=lambda n: key if n == name else None,
            remember_nonce=lambda n, nonce: remember_nonce(db, n, nonce),
            window=settings.federation_window_seconds,
        )
        if find_node(session, name) is not None:
            raise Conflict(f"A node named {name!r} is already registered")
        node = FederationNode(
            name=name, title=title, url=url, public_key=key.public_b64, key_id=key.key_id,
            role="member", organization_id=inv.organization_id, status="active",
            last_seen=utcnow(),
        )
        session.add(node)
        session.flush()
        inv.used_at = utcnow()
        source_name = f"node-{name}"
        if session.scalar(select(HarvestSource.id).where(HarvestSource.name == source_name)):
            source_name = f"node-{name}-{secrets.token_hex(3)}"
        session.add(HarvestSource(
            name=source_name, title=f"{title} (citydata node)", kind="node", url=url,
            organization_id=inv.organization_id, schedule="hourly", node_id=node.id,
            next_run_at=utcnow(),
        ))
        return {"registry": node_info(settings), "node": node_dict(node)}


def join(db: Database, settings: Settings, registry_url: str, code: str) -> dict[str, Any]:
    """Owner side: register this node with a registry, and remember the registry's key."""
    me = identity(settings)
    registry_url = check_base_url(registry_url, "registry")
    limits = Limits(max_bytes=1024 * 1024, timeout=20.0)
    with Fetcher(limits) as fetcher:
        info = fetcher.json(registry_url + NODE_PATH)
    if not isinstance(info, dict) or not info.get("federated"):
        raise SourceError(f"{registry_url} is not a federated citydata node", registry_url)
    reg_name = check_node_name(info.get("name"))
    reg_key = public_key(str(info.get("public_key") or ""))
    payload = {"name": me.name, "title": me.title, "url": me.url,
               "public_key": me.key.public_b64, "code": code.strip()}
    with Fetcher(limits, sign=signing.signer(me.key, me.name, reg_name)) as fetcher:
        answer = fetcher.post_json(registry_url + REGISTER_PATH, payload)
    try:
        result = json.loads(answer.body)
    except ValueError:
        raise SourceError(f"The registry at {registry_url} answered with something other "
                          "than JSON", registry_url) from None
    with db.session() as session:
        node = find_node(session, reg_name) or FederationNode(name=reg_name)
        node.title = str(info.get("title") or reg_name)[:300]
        node.url = check_base_url(info.get("url") or registry_url)
        node.public_key = reg_key.public_b64
        node.key_id = reg_key.key_id
        node.role = "registry"
        node.status = "active"
        node.last_seen = utcnow()
        session.add(node)
        session.flush()
        return {"registry": node_dict(node), "answer": result}


def set_status(ctx: Ctx, name: str, status: str) -> FederationNode:
    """Suspend a node (its signed requests are refused from now on and it is no longer
    harvested or searched) or make it active again; sysadmins only."""
    require_sysadmin(ctx.actor)
    if status not in ("active", "suspended"):
        raise ValidationError("status must be active or suspended",
                              fields={"status": ["active or suspended"]})
    node = get_node(ctx.session, name)
    node.status = status
    for source in ctx.session.scalars(select(HarvestSource).where(
            HarvestSource.node_id == node.id, HarvestSource.state == "active")):
        source.next_run_at = utcnow() if status == "active" else None
    return node


def remember_nonce(db: Database, node: str, nonce: str) -> bool:
    """Store a nonce in its own transaction; False when it was already there (a replay)."""
    try:
        with db.session() as session:
            session.add(FederationNonce(node_name=node, nonce=nonce, seen_at=utcnow()))
        return True
    except IntegrityError:
        return False


def purge_nonces(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Nonces older than twice the window can go: their requests are refused as stale."""
    cutoff = (now or utcnow()) - timedelta(seconds=2 * settings.federation_window_seconds)
    with db.session() as session:
        result = session.execute(delete(FederationNonce).where(FederationNonce.seen_at < cutoff))
        return int(getattr(result, "rowcount", 0) or 0)


def verify_request(
    db: Database, settings: Settings, *, method: str, path: str, query: str,
    headers: dict[str, str], body: bytes, role: str | None = None,
) -> FederationNode:
    """Check a request signed by a known, active node (of ``role`` when given)."""
    me = identity(settings)
    with db.session() as session:
        nodes = {n.name: n for n in session.scalars(
            select(FederationNode).where(FederationNode.status == "active"))}

        def key_for(name: str) -> NodeKey | None:
            node = nodes.get(name)
            if node is None or (role is not None and node.role != role):
                return None
            return public_key(node.public_key)

        verified = signing.verify(
            method=method, path=path, query=query, headers=headers, body=body, me=me.name,
            public_key_for=key_for,
            remember_nonce=lambda n, nonce: remember_nonce(db, n, nonce),
            window=settings.federation_window_seconds,
        )
        node = nodes[verified.node]
        node.last_seen = utcnow()
        session.flush()
        session.expunge(node)
    return node


def fetcher_for(settings: Settings, node: FederationNode, limits: Limits | None = None) -> Fetcher:
    """A bounded client whose every request to ``node`` is signed as this node."""
    me = identity(settings)
    return Fetcher(limits or Limits(), sign=signing.signer(me.key, me.name, node.name))


def note_node_error(db: Database, node_id: str, message: str) -> None:
    with db.session() as session:
        node = session.get(FederationNode, node_id)
        if node is not None:
            node.last_error = message[:2000]
            node.last_error_at = utcnow()


def note_node_seen(db: Database, node_id: str) -> None:
    with db.session() as session:
        node = session.get(FederationNode, node_id)
        if node is not None:
            node.last_seen = utcnow()

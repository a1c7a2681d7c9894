"""Shared request plumbing for the HTTP adapters: platform, actor and catalog context."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.catalog import users
from citydata.catalog.context import Ctx
from citydata.errors import NotAuthenticated, ValidationError
from citydata.platform import Platform
from citydata.storage.models import User


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def token_from(request: Request) -> str | None:
    """CKAN clients send the bare token in ``Authorization``; also accept ``Bearer``."""
    raw = request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
    if not raw:
        return None
    raw = raw.strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    return raw or None


#: How a request says why it reads governed data (headers; the query forms are for links).
PURPOSE_HEADER = "x-citydata-purpose"
AGREEMENT_HEADER = "x-citydata-agreement"
PURPOSE_PARAM = "_purpose"
AGREEMENT_PARAM = "_agreement"
DECLARATION_PARAMS = (PURPOSE_PARAM, AGREEMENT_PARAM)


def resolve_actor(request: Request, session: Session) -> Actor:
    """Token first (APIs), then the signed session cookie (web pages); else anonymous. The
    purpose and agreement the request declares travel with the actor to the policy."""
    token = token_from(request)
    actor = Actor.anonymous()
    if token:
        actor = _token_actor(request, session, token)
    elif "session" in request.scope:
        uid = request.session.get("user_id")
        if uid:
            user: User | None = session.get(User, uid)
            if user is None or user.state != "active":
                request.session.clear()
            else:
                actor = users.actor_for_user(session, user)
    params = request.query_params
    return actor.declaring(
        purpose=request.headers.get(PURPOSE_HEADER) or params.get(PURPOSE_PARAM),
        agreement=request.headers.get(AGREEMENT_HEADER) or params.get(AGREEMENT_PARAM),
    )


def client_address(request: Request) -> str:
    """The peer address the throttles count against."""
    return request.client.host if request.client else "unknown"


def _token_actor(request: Request, session: Session, token: str) -> Actor:
    """The token's actor; a client sending many invalid tokens is refused unchecked for a
    while (429), like a password guesser. The failure is counted in its own transaction, as
    the request's rolls back with the NotAuthenticated."""
    from citydata.access import throttle

    platform = get_platform(request)
    client = client_address(request)
    throttle.check(session, platform.settings, "", client, kind="token")
    try:
        return users.actor_for_token(session, token)
    except NotAuthenticated:
        with platform.db.session() as counting:
            throttle.failed(counting, platform.settings, "", client, kind="token")
        raise


@contextmanager
def request_ctx(request: Request, *, anonymous_on_bad_token: bool = False) -> Iterator[Ctx]:
    """A catalog context for one request, in one transaction committed before responding."""
    platform = get_platform(request)
    site_url = (
        platform.settings.site_url
        if platform.settings.env == "production"
        else str(request.base_url)
    )
    with platform.db.session() as session:
        try:
            actor = resolve_actor(request, session)
        except NotAuthenticated:
            if not anonymous_on_bad_token:
                raise
            actor = Actor.anonymous()
        yield Ctx(session, actor, platform.settings, platform.files, site_url)


async def json_body(request: Request) -> dict[str, Any]:
    """A JSON-object request body ({} when empty); anything else is a 400."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationError("The body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object")
    return data


def body_doc(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """OpenAPI for a JSON-object body (parsed by :func:`json_body`, validated by the domain)."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return {"requestBody": {"required": bool(required),
                            "content": {"application/json": {"schema": schema}}}}

"""Users, passwords (argon2) and API tokens (stored hashed, shown once)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.access import audit
from citydata.access.actors import SCOPE_RANK, TOKEN_SCOPES, Actor
from citydata.catalog.names import Errors, check_email, check_text, check_user_name
from citydata.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationError
from citydata.storage.models import ApiToken, Membership, User, utcnow

_hasher = PasswordHasher()
TOKEN_PREFIX = "cdt_"
MIN_PASSWORD = 8
LAST_USED_RESOLUTION = timedelta(minutes=5)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    name: str,
    email: str,
    password: str,
    *,
    sysadmin: bool = False,
    fullname: str = "",
) -> User:
    errors = Errors()
    check_user_name(errors, "name", name)
    check_email(errors, "email", email)
    check_text(errors, "fullname", fullname, 200)
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        errors.add("password", f"Must be at least {MIN_PASSWORD} characters")
    errors.raise_if_any("Cannot create the user")
    if session.scalar(select(User).where(User.name == name)):
        raise Conflict(f'A user called "{name}" already exists', fields={"name": ["Taken"]})
    user = User(
        name=name,
        email=email,
        fullname=fullname,
        password_hash=hash_password(password),
        sysadmin=sysadmin,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name_or_id: str) -> User:
    user = session.scalar(select(User).where((User.name == name_or_id) | (User.id == name_or_id)))
    if user is None or user.state != "active":
        raise NotFound(f'User "{name_or_id}" not found')
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    user = session.scalar(select(User).where((User.name == name) | (User.email == name)))
    if user is None or user.state != "active":
        hash_password("timing-equaliser")  # same cost whether or not the user exists
        return None
    return user if verify_password(user, password) else None


def actor_for_user(session: Session, user: User) -> Actor:
    roles = {
        m.organization_id: m.role
        for m in session.scalars(select(Membership).where(Membership.user_id == user.id))
    }
    return Actor(user_id=user.id, name=user.name, sysadmin=user.sysadmin, roles=roles)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_owner(session: Session, actor: Actor, user_name: str) -> User:
    """The user whose tokens the actor manages: themselves, or anyone for a sysadmin."""
    if not actor.is_authenticated:
        raise NotAuthenticated("Sign in to manage API tokens")
    user = get_user(session, user_name)
    if not actor.sysadmin and actor.user_id != user.id:
        raise Forbidden("You can only manage your own API tokens")
    return user


def create_token(
    session: Session,
    actor: Actor,
    user_name: str,
    *,
    name: str = "",
    expires_days: int | None = None,
    scope: str = "admin",
    agreement: str | None = None,
) -> str:
    """Create an API token and return it; only its hash is stored, so it is shown once.

    ``scope`` is read, write or admin (never more than the credential creating it);
    ``agreement`` binds the token to one agreement the user is party to: it then reads
    governed data only under that agreement, with no purpose header needed."""
    user = token_owner(session, actor, user_name)
    if expires_days is not None and not (1 <= expires_days <= 3650):
        raise ValidationError(
            "expires_days must be between 1 and 3650", fields={"expires_days": ["Out of range"]}
        )
    if scope not in TOKEN_SCOPES:
        raise ValidationError(f"scope must be one of {', '.join(TOKEN_SCOPES)}",
                              fields={"scope": ["Unknown scope"]})
    if SCOPE_RANK[scope] > SCOPE_RANK.get(actor.scope, 0):
        raise Forbidden(f"A {actor.scope} token cannot create a {scope} token")
    agreement_id = None
    if agreement:
        agreement_id = _bindable_agreement(session, user, agreement)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=(name or "")[:200],
        token_hash=_token_hash(token),
        expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
        scope=scope,
        agreement_id=agreement_id,
    )
    session.add(row)
    session.flush()
    audit.stage(session, actor, "token.created", detail={
        "user": user.name, "token_id": row.id, "name": row.name, "scope": scope,
        "expires": row.expires_at.isoformat() if row.expires_at else None},
        agreement_id=agreement_id or "")
    return token


def _bindable_agreement(session: Session, user: User, ref: str) -> str:
    """The id of an agreement ``user`` is party to (any status: it may start later)."""
    from citydata.access.agreements import find, is_recipient

    ag = find(session, ref)
    if ag is None or not is_recipient(session, actor_for_user(session, user), ag):
        raise Forbidden(f"{user.name} is not a party to agreement {ref!r}")
    return ag.id


def list_tokens(session: Session, actor: Actor, user_name: str) -> list[ApiToken]:
    user = token_owner(session, actor, user_name)
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created)
        )
    )


def revoke_token(session: Session, actor: Actor, user_name: str, token_id: str) -> None:
    user = token_owner(session, actor, user_name)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("Token not found")
    session.delete(token)
    audit.stage(session, actor, "token.revoked",
                detail={"user": user.name, "token_id": token_id, "name": token.name})


def user_for_token(session: Session, token: str) -> User:
    """Resolve an API token; an unknown or expired token is an authentication error."""
    return actor_token(session, token)[0]


def actor_for_token(session: Session, token: str) -> Actor:
    """The actor an API token acts as: its user, limited to the token's scope and agreement."""
    user, row = actor_token(session, token)
    return replace(actor_for_user(session, user), scope=row.scope, token_id=row.id,
                   token_agreement_id=row.agreement_id)


def actor_token(session: Session, token: str) -> tuple[User, ApiToken]:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if row is None:
        raise NotAuthenticated("The API token is not valid")
    if row.expires_at is not None and row.expires_at < utcnow():
        raise NotAuthenticated("The API token has expired")
    user = session.get(User, row.user_id)
    if user is None or user.state != "active":
        raise NotAuthenticated("The API token is not valid")
    now = utcnow()
    if row.last_used is None or now - row.last_used > LAST_USED_RESOLUTION:
        row.last_used = now  # coarse, so busy tokens do not turn every read into a write
    return user, row

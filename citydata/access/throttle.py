"""Throttling of credential checks and credential creation, shared by every server process.

Sign-in: too many failed passwords for one user name, or from one client, and further attempts
are refused unchecked until the window passes. The same counters guard the other places a
secret is checked or handed out (``KINDS``): bad API tokens per client, API tokens created per
user and per client, and failed federation assertion exchanges per client.

Counters live in the database (``login_attempts``) so every server process shares them. A
refused attempt does not even check the credential, so guessing stops; a successful sign-in
clears the user name's counter (not the client's: one good password must not reset a spraying
client).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citydata.errors import CitydataError
from citydata.settings import Settings
from citydata.storage.models import utcnow
from citydata.storage.models_access import LoginAttempt

#: API tokens one user may create, and one client may create, per window.
TOKENS_PER_USER = 20
TOKENS_PER_CLIENT = 50


class TooManyAttempts(CitydataError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Kind:
    """One throttled action: its counter prefix, limits per user and per client, message."""

    prefix: str
    per_user: Callable[[Settings], int]
    per_client: Callable[[Settings], int]
    message: str


KINDS = {
    # "login" keeps the unprefixed keys it has always had.
    "login": Kind("", lambda s: s.login_max_failures, lambda s: s.login_max_failures_per_client,
                  "Too many failed sign-in attempts."),
    "token": Kind("token:", lambda s: s.login_max_failures_per_client,
                  lambda s: s.login_max_failures_per_client,
                  "Too many requests with an invalid API token."),
    "token_create": Kind("token-create:", lambda s: TOKENS_PER_USER, lambda s: TOKENS_PER_CLIENT,
                         "Too many API tokens created."),
    "assertion": Kind("assertion:", lambda s: s.login_max_failures_per_client,
                      lambda s: s.login_max_failures_per_client,
                      "Too many failed token exchanges."),
}


def _keys(username: str, client: str, kind: str = "login") -> list[str]:
    prefix = KINDS[kind].prefix
    return [f"{prefix}user:{username.strip().lower()[:250]}", f"{prefix}client:{client[:250]}"]


def _limits(settings: Settings, kind: str = "login") -> list[int]:
    return [KINDS[kind].per_user(settings), KINDS[kind].per_client(settings)]


def check(session: Session, settings: Settings, username: str, client: str,
          now: datetime | None = None, *, kind: str = "login") -> None:
    """Raise :class:`TooManyAttempts` if either counter is spent for this window (an empty
    ``username`` checks the client only)."""
    now = now or utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    for key, limit in zip(_keys(username, client, kind), _limits(settings, kind), strict=True):
        if not username and key.endswith("user:"):
            continue
        row = session.get(LoginAttempt, key)
        if row is None or row.window_start + window <= now or row.failures < limit:
            continue
        wait = (row.window_start + window - now).total_seconds()
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyAttempts(
            f"{KINDS[kind].message} Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.", retry_after=int(math.ceil(wait)))


def failed(session: Session, settings: Settings, username: str, client: str,
           now: datetime | None = None, *, kind: str = "login") -> None:
    """Count one attempt (a failed one, or for ``token_create`` any one) against both keys."""
    now = now or utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    for key in _keys(username, client, kind):
        if not username and key.endswith("user:"):
            continue
        row = session.get(LoginAttempt, key)
        if row is None:
            session.add(LoginAttempt(key=key, window_start=now, failures=1))
        elif row.window_start + window <= now:
            row.window_start, row.failures = now, 1
        else:
            row.failures += 1
    session.flush()


def succeeded(session: Session, username: str) -> None:
    row = session.get(LoginAttempt, _keys(username, "")[0])
    if row is not None:
        session.delete(row)

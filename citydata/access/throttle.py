"""Sign-in throttling: too many failed passwords for one user name, or from one client, and
further attempts are refused unchecked until the window passes.

Counters live in the database (``login_attempts``) so every server process shares them. A
refused attempt does not even check the password, so guessing stops; a success clears the
user name's counter (not the client's: one good password must not reset a spraying client).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from citydata.errors import CitydataError
from citydata.settings import Settings
from citydata.storage.models import utcnow
from citydata.storage.models_access import LoginAttempt


class TooManyAttempts(CitydataError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _keys(username: str, client: str) -> list[str]:
    return [f"user:{username.strip().lower()[:250]}", f"client:{client[:250]}"]


def _limits(settings: Settings) -> list[int]:
    return [settings.login_max_failures, settings.login_max_failures_per_client]


def check(session: Session, settings: Settings, username: str, client: str,
          now: datetime | None = None) -> None:
    """Raise :class:`TooManyAttempts` if either counter is spent for this window."""
    now = now or utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    for key, limit in zip(_keys(username, client), _limits(settings), strict=True):
        row = session.get(LoginAttempt, key)
        if row is None or row.window_start + window <= now or row.failures < limit:
            continue
        wait = (row.window_start + window - now).total_seconds()
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyAttempts(
            f"Too many failed sign-in attempts. Try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.", retry_after=int(math.ceil(wait)))


def failed(session: Session, settings: Settings, username: str, client: str,
           now: datetime | None = None) -> None:
    now = now or utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    for key in _keys(username, client):
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

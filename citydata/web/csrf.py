"""CSRF protection for every form: a random token per session, sent back in a hidden field.

The session cookie is also ``SameSite=Lax``, so a cross-site POST arrives without the
session; the token is the second, explicit check that a POST came from one of our own forms.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from citydata.errors import ValidationError

FIELD = "csrf_token"
SESSION_KEY = "csrf"


class CsrfError(ValidationError):
    """A form arrived without our token (expired session, another site, or a replay)."""

    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__("Your form expired, try again")


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def check_csrf(request: Request, submitted: object) -> None:
    """Raise :class:`CsrfError` unless ``submitted`` is this session's token."""
    expected = request.session.get(SESSION_KEY)
    if (
        not isinstance(expected, str)
        or not isinstance(submitted, str)
        or not hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise CsrfError()


def rotate_csrf(request: Request) -> None:
    """Forget the token (on sign-in and sign-out) so an old page's token stops working."""
    request.session.pop(SESSION_KEY, None)

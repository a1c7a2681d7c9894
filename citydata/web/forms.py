"""Form helpers shared by the page routes: reading urlencoded forms, safe redirects, sign-in."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse

from citydata.web.csrf import FIELD, check_csrf


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form as plain strings, after checking its CSRF token."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get(FIELD))
    return values


def safe_next(target: str | None) -> str:
    """Only local paths: ``next=//evil.example`` or ``https://...`` must not redirect away."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def see_other(path: str) -> RedirectResponse:
    """Post/Redirect/Get: after a successful POST the browser loads the result with GET."""
    return RedirectResponse(path, status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    """Send a signed-out reader to the sign-in page, then back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return see_other(f"/user/login?next={quote(target, safe='/')}")


def signed_in(request: Request) -> bool:
    return bool(request.session.get("user_id"))

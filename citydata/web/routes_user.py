"""Sign in, sign out and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from citydata.access import throttle
from citydata.api.deps import client_address, request_ctx
from citydata.catalog import users
from citydata.catalog.context import Ctx
from citydata.errors import Forbidden, ValidationError
from citydata.storage.models import User
from citydata.web.csrf import rotate_csrf
from citydata.web.forms import login_redirect, read_form, safe_next, see_other, signed_in
from citydata.web.render import actor_context, add_notice, render_page

router = APIRouter(include_in_schema=False)

EXPIRY_OPTIONS = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "Never")]
SCOPE_OPTIONS = [("read", "Read only: search and use data"),
                 ("write", "Read and publish: also create and update datasets"),
                 ("admin", "Everything you can do, including managing members and agreements")]


@router.get("/user/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    """The sign-in form."""
    return render_page(request, "login.html",
                       {"errors": {}, "values": {}, "next": safe_next(next)})


@router.post("/user/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check the password; on success start a fresh session (no fixation) and go on."""
    form = await read_form(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    target = safe_next(form.get("next"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username or email address"
    if not password:
        errors["password"] = "Enter your password"
    found: tuple[str, str] | None = None
    status = 400
    retry_after = 0
    client = client_address(request)
    if not errors:
        def check() -> tuple[str, str] | None:  # argon2 is deliberately slow: off the loop
            with request_ctx(request) as ctx:
                throttle.check(ctx.session, ctx.settings, username, client)
                user = users.authenticate(ctx.session, username, password)
                if user is None:
                    throttle.failed(ctx.session, ctx.settings, username, client)
                    return None
                throttle.succeeded(ctx.session, username)
                return user.id, user.name

        try:
            found = await run_in_threadpool(check)
        except throttle.TooManyAttempts as exc:
            errors["username"], status, retry_after = exc.message, 429, exc.retry_after
        else:
            if found is None:
                errors["username"] = "The username or password is not right"
    if errors or found is None:
        response = render_page(request, "login.html",
                               {"errors": errors, "values": {"username": username},
                                "next": target}, status_code=status)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response
    # The whole session lives in the signed cookie: clearing it and writing new values means
    # nothing set before sign-in (including the CSRF token) survives.
    request.session.clear()
    request.session["user_id"], request.session["user_name"] = found
    add_notice(request, f"You are signed in as {found[1]}.")
    return see_other(target)


@router.post("/user/logout")
async def logout(request: Request) -> Response:
    """Sign out (a POST with a CSRF token, so another site cannot sign you out)."""
    await read_form(request)
    request.session.clear()
    rotate_csrf(request)
    add_notice(request, "You have signed out.")
    return see_other("/")


def _agreement_options(ctx: Ctx, user: User) -> list[tuple[str, str]]:
    """Agreements a token can be bound to: those the token's owner receives data under."""
    from citydata.access.agreement_views import list_mine

    if ctx.actor.user_id != user.id:
        return [("", "Not bound to an agreement")]
    found = [a for a in list_mine(ctx, role="recipient")
             if a["status"] in ("approved", "active")]
    return [("", "Not bound to an agreement")] + [
        (a["reference"], f"{a['reference']}: {a['title']} ({a['purpose_label']})") for a in found]


def _tokens_page(request: Request, ctx: Ctx, user: User, **extra: object) -> HTMLResponse:
    context = {
        **actor_context(ctx),
        "owner": user.name,
        "tokens": users.list_tokens(ctx.session, ctx.actor, user.name),
        "expiry_options": EXPIRY_OPTIONS,
        "scope_options": SCOPE_OPTIONS,
        "agreement_options": _agreement_options(ctx, user),
        "errors": {},
        "values": {"expires_days": "90", "scope": "read"},
        **extra,
    }
    status = 400 if context["errors"] else 200
    return render_page(request, "api_tokens.html", context, status_code=status)


@router.get("/user/{name}/api-tokens", response_class=HTMLResponse)
def tokens_page(request: Request, name: str) -> Response:
    """List the user's API tokens (never the tokens themselves: only hashes are stored)."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        return _tokens_page(request, ctx, users.token_owner(ctx.session, ctx.actor, name))


@router.post("/user/{name}/api-tokens", response_class=HTMLResponse)
async def create_token(request: Request, name: str) -> Response:
    """Create a token and show it once, in this response only."""
    form = await read_form(request)
    token_name = form.get("name", "").strip()
    expires = form.get("expires_days", "")
    scope = form.get("scope", "read")
    agreement = form.get("agreement", "").strip()
    errors: dict[str, str] = {}
    if scope not in {value for value, _ in SCOPE_OPTIONS}:
        errors["scope"] = "Choose what the token may do"
    if len(token_name) > 200:
        errors["name"] = "Token name must be 200 characters or fewer"
    if expires not in {value for value, _ in EXPIRY_OPTIONS}:
        errors["expires_days"] = "Choose when the token expires"
    client = client_address(request)

    def work() -> HTMLResponse:
        with request_ctx(request) as ctx:
            user = users.token_owner(ctx.session, ctx.actor, name)
            values = {"name": token_name, "expires_days": expires, "scope": scope,
                      "agreement": agreement}
            if errors:
                return _tokens_page(request, ctx, user, errors=errors, values=values)
            # Too many new tokens from this user or client: a 429 page with Retry-After.
            throttle.check(ctx.session, ctx.settings, ctx.actor.name, client,
                           kind="token_create")
            try:
                token = users.create_token(ctx.session, ctx.actor, user.name, name=token_name,
                                           expires_days=int(expires) if expires else None,
                                           scope=scope, agreement=agreement or None)
            except (ValidationError, Forbidden) as exc:
                return _tokens_page(request, ctx, user, errors={"name": exc.message},
                                    values=values)
            throttle.failed(ctx.session, ctx.settings, ctx.actor.name, client,
                            kind="token_create")
            return _tokens_page(request, ctx, user, new_token=token, new_token_name=token_name)

    return await run_in_threadpool(work)


@router.post("/user/{name}/api-tokens/{token_id}/revoke")
async def revoke_token(request: Request, name: str, token_id: str) -> Response:
    """Revoke a token: clients using it are refused from the next request."""
    await read_form(request)

    def work() -> None:
        with request_ctx(request) as ctx:
            users.revoke_token(ctx.session, ctx.actor, name, token_id)

    await run_in_threadpool(work)
    add_notice(request, "The token has been revoked.")
    return see_other(f"/user/{name}/api-tokens")

"""Jinja2 rendering for the web pages: one environment per application, plugin template dirs first.

Every page goes through :func:`render_page`, which adds what the layout needs (site title,
signed-in user, CSRF token, navigation links, one-time notices) so routes only pass their data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from citydata.web import formatting, labels
from citydata.web.csrf import csrf_token
from citydata.web.markdown_safe import render_markdown

TEMPLATES = Path(__file__).parent / "templates"

#: Core navigation; plugins add theirs through the ``citydata_nav_links`` hook.
CORE_NAV: list[tuple[str, str]] = [("Datasets", "/dataset"), ("Publishers", "/organization"),
                                   ("Data sharing", "/register"),
                                   ("Map", "/map"), ("Find my council", "/find-my-council")]


def _platform(request: Request) -> Any:
    return request.app.state.platform


def environment(request: Request) -> Environment:
    """The application's Jinja2 environment, built on first use and kept on ``app.state``."""
    env: Environment | None = getattr(request.app.state, "web_env", None)
    if env is None:
        env = build_environment(_platform(request))
        request.app.state.web_env = env
    return env


def build_environment(platform: Any) -> Environment:
    """Plugin template directories come first so a plugin may also override a core template."""
    dirs: list[str] = []
    for found in platform.plugins.hook.citydata_template_dirs():
        dirs.extend(str(d) for d in found or [])
    loader = ChoiceLoader([FileSystemLoader(dirs), FileSystemLoader(str(TEMPLATES))])
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates only change with a deploy: outside dev, no stat of every template file
        # (and of each one it includes) on every page view.
        auto_reload=platform.settings.env == "dev",
    )
    env.filters.update(
        markdown=render_markdown,
        filesize=formatting.filesize,
        date=formatting.long_date,
        datetime=formatting.long_datetime,
        short_hash=formatting.short_hash,
        plural=formatting.plural,
        summary=formatting.summary,
    )
    links = list(CORE_NAV)
    for found in platform.plugins.hook.citydata_nav_links():
        links.extend((str(label), str(path)) for label, path in found or [])
    env.globals.update(
        site_title=platform.settings.site_title,
        nav_links=links,
        access_label=labels.access_label,
        access_explanation=labels.access_explanation,
        frequency_label=labels.frequency_label,
    )
    return env


def current_user_name(request: Request) -> str:
    """The signed-in user's name for the header (kept in the session at sign-in)."""
    if "session" not in request.scope:
        return ""
    if not request.session.get("user_id"):
        return ""
    return str(request.session.get("user_name") or "")


def _current_nav(env: Environment, path: str) -> str:
    """The nav link for this page: the longest link path that is this path or a parent of it."""
    links = cast(list[tuple[str, str]], env.globals["nav_links"])
    hrefs = [href for _, href in links] + ["/dataset/new", "/agreements"]
    matches = [h for h in hrefs if path == h or path.startswith(h.rstrip("/") + "/")]
    return max(matches, key=len, default="")


def add_notice(request: Request, text: str) -> None:
    """Queue a one-time success message shown at the top of the next page."""
    request.session["notice"] = text


class _LazyToken:
    """The session's CSRF token, made only when a template writes it into a form: a visitor
    who is not signed in and views pages without forms gets no session cookie at all."""

    __slots__ = ("_request",)

    def __init__(self, request: Request) -> None:
        self._request = request

    def __str__(self) -> str:
        return csrf_token(self._request)

    def __html__(self) -> str:  # autoescaping asks this; the token is URL-safe base64
        return str(self)

    def __bool__(self) -> bool:
        return True


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` inside the site layout and return it as an HTML response."""
    env = environment(request)
    has_session = "session" in request.scope
    values: dict[str, Any] = {
        "request": request,
        "path": request.url.path,
        "user_name": current_user_name(request),
        "csrf_token": _LazyToken(request) if has_session else "",
        "notice": request.session.pop("notice", None) if has_session else None,
        "can_publish": False,
        "basemap_tiles": _platform(request).settings.basemap_tiles,
        "basemap_attribution": _platform(request).settings.basemap_attribution,
    }
    values.update(context or {})
    values["nav_current"] = _current_nav(env, request.url.path)
    html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    if values["user_name"]:
        # Pages for a signed-in user may show private data: keep them out of shared caches.
        response.headers["Cache-Control"] = "private, no-store"
    return response


def actor_context(ctx: Any) -> dict[str, Any]:
    """Layout values that depend on who is asking (from a catalog context)."""
    from citydata.access.notify import unread_count
    from citydata.access.policy import has_role

    actor = ctx.actor
    return {
        "actor": actor,
        "can_publish": bool(actor.user_id) and (
            actor.sysadmin or any(has_role(actor, org, "editor") for org in actor.roles)),
        "unread": unread_count(ctx.session, actor) if actor.user_id else 0,
        "owner_orgs": [o for o, role in actor.roles.items() if role == "admin"],
    }

"""Pages of federation: harvest sources and their job reports, the nodes this node works
with, live search across them, and the access requests forwarded to owner nodes.

Thin adapters over :mod:`citydata.federation`: a form is read (CSRF checked), one call is
made, and its result or its field errors are shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from citydata.access.policy import has_role
from citydata.api.deps import get_platform, request_ctx
from citydata.catalog.context import Ctx
from citydata.errors import CitydataError, Forbidden, NotAuthenticated, NotFound
from citydata.federation import harvest, nodes, sharing
from citydata.federation.search import federated_search
from citydata.storage.models import Organization
from citydata.web.forms import login_redirect, read_form, see_other, signed_in
from citydata.web.render import actor_context, add_notice, render_page

router = APIRouter(include_in_schema=False)

SOURCE_FIELDS = ["name", "title", "kind", "url", "organization", "schedule", "api_key"]


def _may_add_sources(ctx: Ctx) -> list[tuple[str, str]]:
    """The organisations the reader administers (all of them for a sysadmin)."""
    if not ctx.actor.user_id:
        return []
    orgs = ctx.session.query(Organization).filter(Organization.state == "active").order_by(
        Organization.title).all()
    return [(o.name, o.title) for o in orgs
            if ctx.actor.sysadmin or has_role(ctx.actor, o.id, "admin")]


def _sources_page(request: Request, ctx: Ctx, values: dict[str, str],
                  errors: dict[str, str]) -> HTMLResponse:
    items = []
    for source, job in harvest.list_sources(ctx.session):
        items.append(harvest.source_dict(source, last_job=job)
                     | {"datasets": harvest.harvested_count(ctx.session, source)})
    return render_page(request, "harvest_sources.html", {
        **actor_context(ctx), "items": items, "values": values, "errors": errors,
        "order": SOURCE_FIELDS, "organizations": _may_add_sources(ctx),
        "kinds": [("ckan", harvest.KINDS["ckan"]), ("dcat", harvest.KINDS["dcat"])],
        "schedules": [(s, s.capitalize()) for s in harvest.SCHEDULES],
        "nav_current": "/harvest",
    }, status_code=400 if errors else 200)


@router.get("/harvest", response_class=HTMLResponse)
def sources_page(request: Request) -> Response:
    """Every harvest source, how fresh its copy is, and its last job."""
    with request_ctx(request) as ctx:
        return _sources_page(request, ctx, {"schedule": "daily", "kind": "ckan"}, {})


@router.post("/harvest", response_class=HTMLResponse)
async def add_source(request: Request) -> Response:
    form = await read_form(request)
    values = {k: form.get(k, "").strip() for k in SOURCE_FIELDS}

    def work() -> Response:
        if not signed_in(request):
            return login_redirect(request)
        try:
            with request_ctx(request) as ctx:
                source = harvest.add_source(ctx, dict(values))
                return see_other(f"/harvest/{source.name}")
        except (Forbidden, NotAuthenticated):
            raise
        except CitydataError as exc:
            errors = {f if f in SOURCE_FIELDS else "form": " ".join(m)
                      for f, m in exc.fields.items()} or {"form": exc.message}
            with request_ctx(request) as ctx:
                return _sources_page(request, ctx, values, errors)

    return await run_in_threadpool(work)


@router.get("/harvest/{name}", response_class=HTMLResponse)
def source_page(request: Request, name: str) -> Response:
    """A source: its settings, its recent jobs and the latest job's report with every error."""
    with request_ctx(request) as ctx:
        source = harvest.get_source(ctx.session, name)
        jobs = harvest.jobs_of(ctx.session, source)
        report = harvest.job_report(ctx.session, jobs[0].id) if jobs else None
        org = ctx.session.get(Organization, source.organization_id)
        may_run = bool(ctx.actor.user_id) and (
            ctx.actor.sysadmin or has_role(ctx.actor, source.organization_id, "admin"))
        return render_page(request, "harvest_source.html", {
            **actor_context(ctx), "source": harvest.source_dict(source),
            "datasets": harvest.harvested_count(ctx.session, source),
            "organization": org, "jobs": [harvest.job_dict(j) for j in jobs],
            "report": report, "may_run": may_run, "nav_current": "/harvest",
        })


@router.get("/harvest/{name}/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, name: str, job_id: str) -> Response:
    with request_ctx(request) as ctx:
        source = harvest.get_source(ctx.session, name)
        report = harvest.job_report(ctx.session, job_id)
        if report["source"] != source.name:
            raise NotFound(f"No job {job_id} of {name}")
        return render_page(request, "harvest_job.html", {
            **actor_context(ctx), "source": harvest.source_dict(source), "report": report,
            "nav_current": "/harvest"})


@router.post("/harvest/{name}/run", response_class=HTMLResponse)
async def run_source(request: Request, name: str) -> Response:
    """Harvest now (its administrators); the report is shown on the source's page."""
    await read_form(request)
    if not signed_in(request):
        return login_redirect(request)
    platform = get_platform(request)

    def work() -> Response:
        with request_ctx(request) as ctx:
            source = harvest.get_source(ctx.session, name)
            if not (ctx.actor.sysadmin or has_role(ctx.actor, source.organization_id, "admin")):
                raise Forbidden("Only the organisation's administrators run its harvests")
        report = harvest.run_harvest(platform, name)
        add_notice(request, f"Harvest {report['status']}: {report['added']} added, "
                            f"{report['updated']} updated, {report['withdrawn']} withdrawn, "
                            f"{report['errors']} errors.")
        return see_other(f"/harvest/{name}")

    return await run_in_threadpool(work)


@router.post("/harvest/{name}/remove", response_class=HTMLResponse)
async def remove_source(request: Request, name: str) -> Response:
    """Remove a source; its datasets are withdrawn unless "keep" is ticked."""
    form = await read_form(request)
    if not signed_in(request):
        return login_redirect(request)

    def work() -> Response:
        with request_ctx(request) as ctx:
            gone = harvest.remove_source(ctx, name, withdraw_datasets=form.get("keep") != "on")
        add_notice(request, f"Removed the harvest source {name}; {gone} datasets withdrawn.")
        return see_other("/harvest")

    return await run_in_threadpool(work)


# -- nodes and federated search ------------------------------------------------------------------
@router.get("/federation", response_class=HTMLResponse)
async def federation_page(request: Request, q: str = "") -> Response:
    """This node, the nodes it works with, and live search across them."""
    platform = get_platform(request)
    result: dict[str, Any] | None = None
    if q.strip():
        result = await federated_search(platform, lambda: request_ctx(request), q.strip())

    def page() -> Response:
        with request_ctx(request) as ctx:
            return _federation_page(request, ctx, q, result, {}, {}, None)

    return await run_in_threadpool(page)


def _federation_page(request: Request, ctx: Ctx, q: str, result: dict[str, Any] | None,
                     values: dict[str, str], errors: dict[str, str], code: str | None
                     ) -> HTMLResponse:
    platform = get_platform(request)
    orgs = ctx.session.query(Organization).filter(Organization.state == "active").order_by(
        Organization.title).all() if ctx.actor.sysadmin else []
    return render_page(request, "federation.html", {
        **actor_context(ctx), "me": nodes.node_info(platform.settings),
        "nodes": [nodes.node_dict(n) for n in nodes.list_nodes(ctx.session)],
        "q": q, "result": result, "nav_current": "/federation",
        "organizations": [(o.name, o.title) for o in orgs], "values": values,
        "errors": errors, "code": code, "order": ["node", "organization"],
    }, status_code=400 if errors else 200)


@router.post("/federation/invites", response_class=HTMLResponse)
async def invite_node(request: Request) -> Response:
    """(Sysadmins) A one-time code for an owner node to join this registry with."""
    form = await read_form(request)
    if not signed_in(request):
        return login_redirect(request)
    values = {k: form.get(k, "").strip() for k in ("node", "organization")}

    def work() -> Response:
        try:
            with request_ctx(request) as ctx:
                code = nodes.invite(ctx, values["node"], values["organization"])
        except (Forbidden, NotAuthenticated):
            raise
        except CitydataError as exc:
            errors = {"node" if f == "name" else f: " ".join(m) for f, m in exc.fields.items()}
            with request_ctx(request) as ctx:
                return _federation_page(request, ctx, "", None, values,
                                        errors or {"form": exc.message}, None)
        with request_ctx(request) as ctx:
            return _federation_page(request, ctx, "", None, {}, {}, code)

    return await run_in_threadpool(work)


# -- requests forwarded to owner nodes -----------------------------------------------------------
@router.get("/federation/requests", response_class=HTMLResponse)
def my_requests(request: Request) -> Response:
    """Your requests for data held at other nodes, as their owners last decided them."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        return render_page(request, "federated_requests.html", {
            **actor_context(ctx), "items": sharing.my_requests(ctx),
            "nav_current": "/agreements"})


@router.get("/federation/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: str) -> Response:
    if not signed_in(request):
        return login_redirect(request)
    platform = get_platform(request)
    with request_ctx(request) as ctx:
        item = sharing.show_request(platform, ctx, request_id)
        return render_page(request, "federated_request.html", {
            **actor_context(ctx), "item": item, "assertion": None,
            "nav_current": "/agreements"})


@router.post("/federation/requests/{request_id}/assertion", response_class=HTMLResponse)
async def request_assertion(request: Request, request_id: str) -> Response:
    """A single-use, five-minute assertion to exchange at the owner node for a token."""
    await read_form(request)
    if not signed_in(request):
        return login_redirect(request)
    platform = get_platform(request)

    def work() -> Response:
        with request_ctx(request) as ctx:
            granted = sharing.assertion(platform, ctx, request_id)
            item = sharing.show_request(platform, ctx, request_id)
            return render_page(request, "federated_request.html", {
                **actor_context(ctx), "item": item, "assertion": granted,
                "nav_current": "/agreements"})

    return await run_in_threadpool(work)

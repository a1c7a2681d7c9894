"""Pages of governed sharing: requesting access, the agreement record and its decisions, the
public register, the data owners' access log and notifications.

Every page is a thin adapter over :mod:`citydata.access`: a form is read (CSRF checked), one
domain call is made, and the result (or the domain's field errors) is shown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from citydata.access import agreements, notify
from citydata.access.access_log import LogFilter, access_log
from citydata.access.agreement_views import agreement_dict, list_mine, register, register_entry
from citydata.access.vocabulary import (
    ACTIONS,
    DEFAULT_MIN_CELL_COUNT,
    LAWFUL_BASES,
    PURPOSES,
    REGISTER_STATUSES,
    SPECIAL_CATEGORY_CONDITIONS,
    STATUSES,
)
from citydata.api.dcat import MAX_PAGE
from citydata.api.deps import get_platform, request_ctx
from citydata.catalog import datasets, organizations
from citydata.catalog.context import Ctx
from citydata.errors import CitydataError, Forbidden, NotAuthenticated, NotFound
from citydata.federation import sharing
from citydata.storage.models import Organization
from citydata.web.forms import login_redirect, read_form, see_other, signed_in
from citydata.web.render import actor_context, add_notice, render_page

router = APIRouter(include_in_schema=False)

REQUEST_FIELDS = ["organization", "purpose", "purpose_detail", "lawful_basis",
                  "special_category_condition", "dpia_reference", "dpia_url", "duration_days",
                  "actions"]
ACTION_CHOICES = [
    ("read", "View and filter the rows"),
    ("read,query", "View and filter the rows, and run SQL over them"),
    ("read,query,download", "All of that, and download the files"),
    ("aggregate", "Aggregate counts only (small groups suppressed)"),
]
DURATIONS = [("90", "3 months"), ("180", "6 months"), ("365", "1 year"), ("730", "2 years")]
REGISTER_PAGE = 50
LOG_PAGE = 100


def _errors(exc: CitydataError, known: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, messages in exc.fields.items():
        out.setdefault(field if field in known else "form", " ".join(messages))
    if not out:
        out["form"] = exc.message
    return out


def _deliver(request: Request) -> BackgroundTask:
    platform = get_platform(request)
    return BackgroundTask(notify.deliver_pending, platform.db, platform.settings)


# -- requesting access ---------------------------------------------------------------------------
def _request_form(request: Request, ctx: Ctx, ds: dict[str, Any], values: dict[str, Any],
                  errors: dict[str, str]) -> HTMLResponse:
    orgs = [(o, ctx.session.get(Organization, o)) for o in ctx.actor.roles]
    choices = [(org.name, org.title) for _, org in orgs if org is not None]
    special = ds["restriction_reason"] == "special-category-data"
    personal = ds["restriction_reason"] in ("personal-data", "special-category-data")
    return render_page(request, "request_access.html", {
        **actor_context(ctx), "ds": ds, "values": values, "errors": errors,
        "order": REQUEST_FIELDS,
        "organizations": [*choices, ("", "Myself, as an individual")],
        "purposes": [("", "Choose a purpose"), *PURPOSES.items()],
        "bases": [("", "Choose a lawful basis"), *LAWFUL_BASES.items()],
        "conditions": [("", "Choose a condition"), *SPECIAL_CATEGORY_CONDITIONS.items()],
        "special": special, "personal": personal,
        "durations": DURATIONS, "action_choices": ACTION_CHOICES,
    }, status_code=400 if errors else 200)


def _governed(ctx: Ctx, name: str) -> dict[str, Any]:
    ds = datasets.show_dataset(ctx, name)
    if ds["access_level"] not in ("shared", "restricted"):
        raise NotFound("Only shared and restricted datasets need an agreement: this dataset's "
                       "data is " + ds["access_level"])
    return ds


@router.get("/dataset/{name}/request-access", response_class=HTMLResponse)
def request_access_form(request: Request, name: str) -> Response:
    """The access request form for a shared or restricted dataset."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        ds = _governed(ctx, name)
        first_org = next(iter(ctx.actor.roles), None)
        org = ctx.session.get(Organization, first_org) if first_org else None
        return _request_form(request, ctx, ds, {
            "organization": org.name if org else "", "duration_days": "365",
            "actions": "read"}, {})


@router.post("/dataset/{name}/request-access", response_class=HTMLResponse)
async def request_access(request: Request, name: str) -> Response:
    """Send the request to the publisher's data owners."""
    form = await read_form(request)
    values = {k: form.get(k, "").strip() for k in REQUEST_FIELDS}

    def work() -> Response:
        with request_ctx(request) as ctx:
            ds = _governed(ctx, name)
            held_elsewhere = sharing.origin(ctx.session, ds["id"]) is not None
        try:
            with request_ctx(request) as ctx:
                data = {**values, "datasets": [name], "actions": values["actions"].split(",")}
                if held_elsewhere:  # the owner node decides: forward it there
                    forwarded = sharing.forward(get_platform(request), ctx, name, data)
                    return see_other(f"/federation/requests/{forwarded['id']}")
                ag = agreements.create(ctx, data)
                return see_other(f"/agreements/{ag.reference}")
        except (Forbidden, NotAuthenticated, NotFound):
            raise
        except CitydataError as exc:
            with request_ctx(request) as ctx:
                return _request_form(request, ctx, ds, values, _errors(exc, REQUEST_FIELDS))

    response = await run_in_threadpool(work)
    if response.status_code == 303:
        add_notice(request, "Your request has been sent to the publisher's data owners.")
        response.background = _deliver(request)
    return response


# -- agreements ----------------------------------------------------------------------------------
@router.get("/agreements", response_class=HTMLResponse)
def agreements_page(request: Request) -> Response:
    """Requests waiting for your decision, and every agreement you are party to."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        items = list_mine(ctx)
        owner_of = {o for o, role in ctx.actor.roles.items() if role == "admin"}
        to_decide = [a for a in items if a["status"] == "requested"
                     and a["provider"] and a["provider"]["id"] in owner_of]
        mine = [a for a in items if a["you"]["recipient"] or a["you"]["requester"]]
        provided = [a for a in items if a["you"]["provider"] and a not in to_decide]
        owned = [org for org in (ctx.session.get(Organization, o) for o in sorted(owner_of))
                 if org is not None]
        return render_page(request, "agreements.html", {
            **actor_context(ctx), "to_decide": to_decide, "mine": mine, "provided": provided,
            "owned": owned})


def _agreement_page(request: Request, ctx: Ctx, ref: str, errors: dict[str, str] | None = None,
                    values: dict[str, Any] | None = None) -> HTMLResponse:
    ag = agreements.get_for(ctx, ref)
    record = agreement_dict(ctx, ag)
    you = record["you"]
    status = record["status"]
    columns = sorted(agreements.covered_columns(ctx.session, ag))
    start = ag.start_at or ag.created
    default_end = ag.end_at or (start + timedelta(days=ag.duration_days or 365))
    requested_actions = ",".join(record["conditions"]["actions"])
    return render_page(request, "agreement.html", {
        **actor_context(ctx), "ag": record, "errors": errors or {},
        "values": values or {"actions": requested_actions,
                             "end_date": default_end.date().isoformat(),
                             "min_cell_count": str(ag.min_cell_count or DEFAULT_MIN_CELL_COUNT),
                             "columns": record["conditions"]["columns"] or columns},
        "columns": columns, "action_choices": ACTION_CHOICES, "action_labels": ACTIONS,
        "can_decide": you["data_owner"] and (status == "requested" or (
            status == "draft" and any(e["action"] == "drafted" for e in record["history"]))),
        "can_revoke": (you["data_owner"] or you["recipient"]) and status in ("approved",
                                                                             "active"),
        "can_submit": you["requester"] and status == "draft",
    }, status_code=400 if errors else 200)


@router.get("/agreements/{ref}", response_class=HTMLResponse)
def agreement_page(request: Request, ref: str) -> Response:
    """The agreement as a document: parties, data, purpose, conditions, dates, history."""
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        return _agreement_page(request, ctx, ref)


DECISIONS = {
    "approve": ("The agreement is approved.", ["actions", "columns", "min_cell_count",
                                                "end_date", "note"]),
    "refuse": ("The request has been refused.", ["note"]),
    "request-info": ("The request has been sent back to the requester.", ["note"]),
    "revoke": ("The agreement has been revoked: it no longer gives access.", ["note"]),
    "submit": ("Your request has been sent to the publisher's data owners.",
               ["purpose_detail", "dpia_reference", "note"]),
}


@router.post("/agreements/{ref}/{decision}", response_class=HTMLResponse)
async def decide(request: Request, ref: str, decision: str) -> Response:
    """Approve, refuse, ask for more information, revoke, or (re)submit."""
    if decision not in DECISIONS:
        raise NotFound("Page not found")
    form = await read_form(request)
    notice, fields = DECISIONS[decision]
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in fields}
    if decision == "approve":
        values["columns"] = [k[len("column:"):] for k in form if k.startswith("column:")]

    def act(ctx: Ctx) -> None:
        if decision == "approve":
            data = {**values, "actions": values["actions"].split(",")}
            known = sorted(agreements.covered_columns(
                ctx.session, agreements.get_for(ctx, ref)))
            # Every column ticked means no restriction (new columns stay visible too).
            data["columns"] = [] if set(values["columns"]) >= set(known) else values["columns"]
            agreements.approve(ctx, ref, data)
        elif decision == "refuse":
            agreements.refuse(ctx, ref, values["note"])
        elif decision == "request-info":
            agreements.request_info(ctx, ref, values["note"])
        elif decision == "revoke":
            agreements.revoke(ctx, ref, values["note"])
        else:
            changes = {k: values[k] for k in ("purpose_detail", "dpia_reference") if values[k]}
            if changes:
                agreements.update_draft(ctx, ref, changes)
            agreements.submit(ctx, ref, values["note"])

    def work() -> Response:
        try:
            with request_ctx(request) as ctx:
                act(ctx)
                return see_other(f"/agreements/{ref.upper()}")
        except (Forbidden, NotAuthenticated, NotFound):
            raise
        except CitydataError as exc:
            with request_ctx(request) as ctx:
                return _agreement_page(request, ctx, ref, _errors(exc, fields), values)

    response = await run_in_threadpool(work)
    if response.status_code == 303:
        add_notice(request, notice)
        response.background = _deliver(request)
    return response


# -- the public register -------------------------------------------------------------------------
@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, status: str = "", provider: str = "", purpose: str = "",
                  q: str = "", page: int = 1) -> Response:
    """How the city's data is shared: every approved, active, expired and revoked agreement."""
    page = min(max(1, page), MAX_PAGE)  # past the end is an empty page, never an overflow
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        items, total = register(ctx, status=status, provider=provider, purpose=purpose, q=q,
                                limit=REGISTER_PAGE, offset=(page - 1) * REGISTER_PAGE)
        providers = organizations.list_organizations(ctx.session, ctx.actor, all_fields=True)
        filters = {"status": status, "provider": provider, "purpose": purpose, "q": q}
        query = {k: v for k, v in filters.items() if v}
        pages = max(1, -(-total // REGISTER_PAGE))
        return render_page(request, "register.html", {
            **actor_context(ctx), "items": items, "total": total, "filters": filters,
            "statuses": [("", "Any status")] + [(s, STATUSES[s]) for s in REGISTER_STATUSES],
            "providers": [("", "Any publisher")] + sorted(
                ((o["name"], o["title"]) for o in providers), key=lambda p: p[1].lower()),
            "purposes": [("", "Any purpose"), *PURPOSES.items()],
            "page": page, "pages": pages,
            "previous": f"/register?{urlencode({**query, 'page': page - 1})}" if page > 1
            else "",
            "next": f"/register?{urlencode({**query, 'page': page + 1})}" if page < pages
            else "",
            "api": "/api/v1/register" + (f"?{urlencode(query)}" if query else ""),
        })


@router.get("/register/{ref}", response_class=HTMLResponse)
def register_entry_page(request: Request, ref: str) -> Response:
    """One agreement's public entry."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        return render_page(request, "register_entry.html",
                           {**actor_context(ctx), "ag": register_entry(ctx, ref)})


# -- the data owners' access log -----------------------------------------------------------------
@router.get("/organization/{name}/access", response_class=HTMLResponse)
def access_log_page(request: Request, name: str, dataset: str = "", user: str = "",
                    agreement: str = "", kind: str = "data", since: str = "", until: str = "",
                    page: int = 1) -> Response:
    """Who used this publisher's data: summary, filters, entries and a CSV export."""
    if not signed_in(request):
        return login_redirect(request)
    page = min(max(1, page), MAX_PAGE)  # past the end is an empty page, never an overflow
    f = LogFilter(dataset=dataset, user=user, agreement=agreement, kind=kind, since=since,
                  until=until)
    with request_ctx(request) as ctx:
        org = organizations.get_organization(ctx.session, name)
        log = access_log(ctx, name, f, limit=LOG_PAGE, offset=(page - 1) * LOG_PAGE)
        query = {k: v for k, v in vars(f).items() if v}
        pages = max(1, -(-log["count"] // LOG_PAGE))
        return render_page(request, "access_log.html", {
            **actor_context(ctx), "org": org, "log": log, "filters": vars(f), "page": page,
            "pages": pages,
            "previous": f"?{urlencode({**query, 'page': page - 1})}" if page > 1 else "",
            "next": f"?{urlencode({**query, 'page': page + 1})}" if page < pages else "",
            "csv": f"/api/v1/organizations/{org.name}/access-log.csv"
                   + (f"?{urlencode(query)}" if query else ""),
            "kinds": [("data", "Uses of the data"), ("governance", "Governance actions"),
                      ("", "Everything")],
        })


# -- notifications -------------------------------------------------------------------------------
@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request) -> Response:
    if not signed_in(request):
        return login_redirect(request)
    with request_ctx(request) as ctx:
        items = notify.list_notifications(ctx.session, ctx.actor)
        return render_page(request, "notifications.html",
                           {**actor_context(ctx), "items": items})


@router.post("/notifications/read")
async def notifications_read(request: Request) -> Response:
    await read_form(request)

    def work() -> None:
        with request_ctx(request) as ctx:
            notify.mark_read(ctx.session, ctx.actor)

    await run_in_threadpool(work)
    return see_other("/notifications")

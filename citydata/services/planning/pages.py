"""Pages of the Planning Datahub: the home page with the latest changes, application search
with a map, one application with the provenance of each value and its history, dashboards per
authority and for London, the data quality scorecard and ingest run reports.

Thin adapters over :mod:`citydata.services.planning` (``query``, ``stats``, ``history``): read
the request, make the calls, pass their results to a template. Planning data is open, so no
page needs a sign-in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from shapely import wkt as shapely_wkt
from shapely.errors import ShapelyError
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.api.deps import request_ctx
from citydata.errors import NotFound, ValidationError, field_error
from citydata.events import log as events
from citydata.services.planning import charts, history, query, stats
from citydata.services.planning.harmonise import CODES, ISSUE_CODES
from citydata.services.planning.ingest import STANDARD_FIELDS, STREAM
from citydata.services.planning.standard import PLANNING_APPLICATIONS
from citydata.storage.models_planning import PlanningFeed
from citydata.web.render import actor_context, render_page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: The most applications the search page's map asks the API for.
MAP_LIMIT = 500
LATEST = 20
#: Issue examples shown per code on a scorecard.
EXAMPLES = 5
DATASET = "/dataset/london-planning-applications"
API = "/api/v1/planning"



def _title(spec: Mapping[str, Any]) -> str:
    text = str(spec.get("title") or spec["name"].replace("_", " "))
    return text[:1].upper() + text[1:]


#: Each field of the standard, as a page names it.
FIELD_TITLES: dict[str, str] = {f["name"]: _title(f) for f in PLANNING_APPLICATIONS["fields"]}
#: The search form's labels, which its error messages also use.
FILTER_LABELS = {
    "q": "Words", "lpa": "Authority", "ward": "Ward", "postcode": "Postcode",
    "type": "Application type", "status": "Status", "decision": "Decision",
    "received_from": "Received on or after", "received_to": "Received on or before",
    "decided_from": "Decided on or after", "decided_to": "Decided on or before",
    "min_units": "At least this many homes proposed",
    "max_units": "At most this many homes proposed", "bbox": "Bounding box",
    "intersects": "Inside this area", "sort": "Sort by", "page": "Page",
}  # fmt: skip
SORT_LABELS = {
    "-received_date": "Newest received first", "received_date": "Oldest received first",
    "-decision_date": "Newest decided first", "decision_date": "Oldest decided first",
    "id": "Reference",
}  # fmt: skip
EVENT_LABELS = {
    "application.received": "Received", "application.validated": "Validated",
    "application.decided": "Decided", "application.withdrawn": "Withdrawn",
    "application.appealed": "Appealed", "application.updated": "Updated",
}  # fmt: skip
RUN_STATUS = {"ok": "ok", "unchanged": "finished", "failed": "failed", "running": "running"}
#: What each issue code of the pipeline (harmonise and ingest) means, for readers.
ISSUE_LABELS = ISSUE_CODES


# -- small helpers --------------------------------------------------------------------------------
def label(field: str, value: Any) -> str:
    """A value as a reader sees it: a code's label, a number with separators, or the text."""
    if value is None or value == "":
        return ""
    codes = CODES.get("application_type" if field == "type" else field)
    if codes is not None:
        return codes.get(str(value), str(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def short_date(value: Any) -> str:
    """``2024-03-05`` → ``5 Mar 2024``, with no-break spaces so a table cell keeps it whole."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value or "")
    return f"{day.day}\u00a0{day:%b}\u00a0{day.year}"


def address(app: Mapping[str, Any]) -> str:
    street = " ".join(str(app[k]) for k in ("site_name", "street_name") if app.get(k))
    return ", ".join(p for p in (street, app.get("postcode") or "") if p)


def _url(path: str, params: Mapping[str, str]) -> str:
    pairs = [(k, v) for k, v in params.items() if v not in (None, "")]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _feed(session: Session, slug: str) -> PlanningFeed:
    feed = session.get(PlanningFeed, slug)
    if feed is None:
        raise NotFound(f"No planning authority {slug!r}")
    return feed


def _errors(exc: ValidationError) -> dict[str, str]:
    out = {name if name in FILTER_LABELS else "form":
           f"{FILTER_LABELS.get(name, name)}: {' '.join(messages)}"
           for name, messages in exc.fields.items()}
    return out or {"form": exc.message}


def _filter_errors(given: Mapping[str, str]) -> dict[str, str]:
    """Every bad filter's message (parsing them together stops at the first)."""
    errors: dict[str, str] = {}
    for name, value in given.items():
        try:
            query.parse_filters({name: value})
        except ValidationError as exc:
            errors.update(_errors(exc))
    return errors


def latest_events(session: Session, count: int = LATEST) -> list[Any]:
    """The newest ``count`` events of the planning stream, newest first.

    Ids are shared by every stream, so the window of ids read back from the newest grows until
    it holds ``count`` planning events (or reaches the first event)."""
    newest = events.last_id(session, STREAM)
    window = count
    while True:
        after = max(0, newest - window)
        found = events.read(session, STREAM, after, limit=window + count)
        if len(found) >= count or after == 0:
            return list(reversed(found[-count:]))
        window *= 4


def change_row(event: Any) -> dict[str, Any]:
    """One event for the latest-changes table."""
    data = event.data
    app = data.get("application") or {}
    return {"id": event.id, "type": EVENT_LABELS.get(event.type, event.type),
            "at": event.as_dict()["created_at"], "key": event.key,
            "reference": app.get("lpa_app_no") or event.key, "lpa_name": app.get("lpa_name"),
            "description": app.get("description") or "",
            "changed": [FIELD_TITLES.get(f, f) for f in (data.get("changed") or {})]}


def _pagination(base: str, params: Mapping[str, str], page: int, pages: int) -> dict[str, Any]:
    def at(n: int) -> str:
        return _url(base, {**params, "page": str(n) if n > 1 else ""})

    window = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    numbers: list[dict[str, Any]] = []
    last = 0
    for n in window:
        if n - last > 1:
            numbers.append({"ellipsis": True})
        numbers.append({"number": n, "url": at(n), "current": n == page})
        last = n
    return {"pages": pages, "current": page, "numbers": numbers if pages > 1 else [],
            "previous": at(page - 1) if page > 1 else "",
            "next": at(page + 1) if page < pages else ""}


def _choices(options: list[tuple[str, str]], current: str, any_label: str
             ) -> list[tuple[str, str]]:
    """Options of a filter select; a value given in the address but not listed (a comma list,
    a GSS code) is kept as an option so that submitting the form again keeps the filter."""
    out = [("", any_label), *options]
    if current and current not in {v for v, _ in out}:
        out.append((current, current))
    return out


# -- home -----------------------------------------------------------------------------------------
@router.get("/planning", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """What the Datahub is, the authorities and their feeds, and the latest changes."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        authorities = stats.overview(ctx.session)
        latest = [change_row(e) for e in latest_events(ctx.session)]
        return render_page(request, "planning/home.html", {
            **actor_context(ctx), "authorities": authorities, "latest": latest,
            "total": sum(a["applications"] for a in authorities),
            "pending": sum(a["pending"] for a in authorities),
            "site": str(request.base_url).rstrip("/"), "dataset": DATASET, "api": API,
            "run_status": RUN_STATUS,
        })


# -- search ---------------------------------------------------------------------------------------
@router.get("/planning/applications", response_class=HTMLResponse)
def search_page(request: Request) -> Response:
    """Every filter of the API as a form; the results as a table and on a map."""
    given = {name: request.query_params.get(name, "").strip() for name in query.FILTERS}
    sort = request.query_params.get("sort", "").strip() or "-received_date"
    raw_page = request.query_params.get("page", "").strip() or "1"
    errors = _filter_errors(given)
    if sort not in query.SORTS:
        errors.update(_errors(field_error("sort", f"one of {', '.join(query.SORTS)}")))
    if not raw_page.isdigit() or len(raw_page) > 6 or int(raw_page) < 1:
        errors.update(_errors(field_error("page", "a whole number from 1")))
    f = query.Filter() if errors else query.parse_filters(given)
    page = 1 if errors else int(raw_page)
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        total, results = 0, list[dict[str, Any]]()
        if not errors:
            total, results = query.search(ctx.session, f, sort=sort, limit=PAGE_SIZE,
                                          offset=(page - 1) * PAGE_SIZE)
        feeds = [(x.slug, x.lpa_name) for x in ctx.session.scalars(
            select(PlanningFeed).order_by(PlanningFeed.lpa_name))]
        kept = {**f.echo, "sort": sort if sort != "-received_date" else ""}
        api_params = {**f.echo, "sort": sort}
        pages = max(1, -(-total // PAGE_SIZE))
        return render_page(request, "planning/search.html", {
            **actor_context(ctx), "values": given | {"sort": sort}, "errors": errors,
            "order": [*query.FILTERS, "sort", "page"], "labels": FILTER_LABELS,
            "total": total, "results": results, "page": page, "page_size": PAGE_SIZE,
            "pager": _pagination("/planning/applications", kept, page, pages),
            "first_url": _url("/planning/applications", kept),
            "options": {
                "lpa": _choices(feeds, given["lpa"], "All authorities"),
                "status": _choices(list(CODES["status"].items()), given["status"], "Any"),
                "decision": _choices(list(CODES["decision"].items()), given["decision"], "Any"),
                "type": _choices(list(CODES["application_type"].items()), given["type"],
                                 "Any"),
                "sort": list(SORT_LABELS.items()),
            },
            "csv_url": _url(f"{API}/applications", {**api_params, "format": "csv"}),
            "geojson_url": _url(f"{API}/applications", {**api_params, "format": "geojson"}),
            "json_url": _url(f"{API}/applications", api_params),
            "map_url": _url(f"{API}/applications", {**api_params, "format": "geojson",
                                                     "limit": str(MAP_LIMIT)}),
            "map_limit": MAP_LIMIT, "label": label, "address": address,
            "short_date": short_date,
        }, status_code=400 if errors else 200)


# -- one application ------------------------------------------------------------------------------
@router.get("/planning/applications/{app_id}/site.geojson")
def application_site(request: Request, app_id: str) -> Response:
    """The application's site for the page's map: its boundary, if given, and its centre."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        app = query.get(ctx.session, app_id)
    props = {"reference": app["lpa_app_no"], "authority": app["lpa_name"],
             "address": address(app)}
    features = []
    if app.get("site_geometry"):
        # Written by harmonise, so readable; one that is not is left off the map, not a 500.
        with contextlib.suppress(ShapelyError, ValueError):
            features.append({"type": "Feature", "id": app["id"], "properties": props,
                             "geometry": mapping(shapely_wkt.loads(app["site_geometry"]))})
    if app.get("lon") is not None:
        # The centre too: the map stops zooming in well before a small site's outline is
        # more than a speck, and a marker stays visible at any zoom.
        features.append({"type": "Feature", "id": f"{app['id']}#centre", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [app["lon"], app["lat"]]}})
    return JSONResponse({"type": "FeatureCollection", "features": features},
                        media_type="application/geo+json")


@router.get("/planning/applications/{app_id}", response_class=HTMLResponse)
def application_page(request: Request, app_id: str) -> Response:
    """Every field, where each value came from, every change, and its open issues."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        app = query.get(ctx.session, app_id)
        found = history.events_of(ctx.session, app_id)
        provenance = history.provenance(app, found)
        changes = [history.change_dict(e) for e in found]
        issues = history.open_issues_of(ctx.session, app_id)
        feed = ctx.session.scalar(select(PlanningFeed).where(
            PlanningFeed.lpa_code == app["lpa_code"]))
        return render_page(request, "planning/application.html", {
            **actor_context(ctx), "app": app, "fields": STANDARD_FIELDS,
            "titles": FIELD_TITLES, "provenance": provenance, "changes": changes,
            "issues": issues, "feed": feed, "label": label, "address": address,
            "coded": set(CODES),
            "event_labels": EVENT_LABELS, "issue_labels": ISSUE_LABELS, "api": API,
            "has_site": app.get("lon") is not None or bool(app.get("site_geometry")),
        })


# -- dashboards -----------------------------------------------------------------------------------
def _dashboard(request: Request, slug: str | None) -> Response:
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        feed = _feed(ctx.session, slug) if slug else None
        figures = stats.dashboard(ctx.session, slug)
        name = feed.lpa_name if feed else "London"
        months = [(m["month"], m["received"]) for m in figures["received_by_month"]]
        times = [(_kind(k), v) for k, v in figures["median_decision_days"].items()]
        by_status = [(label("status", k) if k != "unknown" else "Not given", v)
                     for k, v in sorted(figures["by_status"].items(), key=lambda kv: -kv[1])]
        by_type = [(_kind(k), v) for k, v in figures["by_type"].items()]
        return render_page(request, "planning/dashboard.html", {
            **actor_context(ctx), "feed": feed, "name": name, "figures": figures,
            "months": months, "times": times, "by_status": by_status, "by_type": by_type,
            "charts": {
                "months": charts.column_chart(
                    "chart-months", f"Applications received by month, {name}", months,
                    unit="applications"),
                "times": charts.bar_chart(
                    "chart-times", f"Median days to a decision by application type, {name}",
                    times, unit="days"),
                "status": charts.bar_chart(
                    "chart-status", f"Applications by status, {name}", by_status),
                "type": charts.bar_chart(
                    "chart-type", f"Applications by type, {name}", by_type),
            },
            "search_url": _url("/planning/applications", {"lpa": slug or ""}),
            "api_url": f"{API}/authorities/{slug}" if slug else f"{API}/authorities",
        })


def _kind(code: str) -> str:
    if code == "all":
        return "All types"
    if code == "unknown":
        return "Not given"
    return label("application_type", code)


@router.get("/planning/london", response_class=HTMLResponse)
def london_dashboard(request: Request) -> Response:
    """The dashboard for all of London's authorities together."""
    return _dashboard(request, None)


@router.get("/planning/authorities/{slug}", response_class=HTMLResponse)
def authority_dashboard(request: Request, slug: str) -> Response:
    """One authority: volumes by month, decision times, approval rate, homes in the pipeline."""
    return _dashboard(request, slug)


# -- quality --------------------------------------------------------------------------------------
@router.get("/planning/quality", response_class=HTMLResponse)
def quality_page(request: Request) -> Response:
    """The scorecard: one row per authority."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        cards = stats.scorecards(ctx.session)
        return render_page(request, "planning/quality.html", {
            **actor_context(ctx), "cards": cards, "run_status": RUN_STATUS, "api": API})


@router.get("/planning/quality/{slug}", response_class=HTMLResponse)
def scorecard_page(request: Request, slug: str) -> Response:
    """One authority's scorecard: completeness per field, open issues with examples, and the
    last run's report."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        feed = _feed(ctx.session, slug)
        card = stats.scorecard(ctx.session, slug)
        examples = {code: history.issues(ctx.session, feed=slug, code=code,
                                         limit=EXAMPLES)["results"]
                    for code in card["issues_by_code"]}
        completeness = [(name, FIELD_TITLES.get(name, name), share)
                        for name, share in card["completeness"].items()]
        return render_page(request, "planning/scorecard.html", {
            **actor_context(ctx), "feed": feed, "card": card, "examples": examples,
            "completeness": completeness, "issue_labels": ISSUE_LABELS,
            "run_status": RUN_STATUS, "titles": FIELD_TITLES, "api": API,
        })


@router.get("/planning/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    """One ingest run: what was read, what changed, what was quarantined, and why."""
    with request_ctx(request, anonymous_on_bad_token=True) as ctx:
        report = history.run_report(ctx.session, run_id)
        issues = report.pop("issues")
        feed = ctx.session.get(PlanningFeed, report["feed"])
        return render_page(request, "planning/run.html", {
            **actor_context(ctx), "run": report, "feed": feed, "issues": issues,
            "name": feed.lpa_name if feed else report["feed"],
            "issue_labels": ISSUE_LABELS, "run_status": RUN_STATUS, "titles": FIELD_TITLES,
            "remote": report["location"].startswith(("http://", "https://")), "api": API,
        })

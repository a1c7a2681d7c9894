"""The dataset page: metadata, files with their versions, a preview of the rows, API snippets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from citydata.access.policy import has_role
from citydata.access.vocabulary import DISCOVERY, REASONS
from citydata.api.deps import request_ctx
from citydata.catalog import datasets
from citydata.catalog.context import Ctx
from citydata.datastore.export import geo_columns
from citydata.datastore.query import RowQuery, describe_snapshot, open_snapshot, run_page
from citydata.datastore.synthetic import synthetic_sample
from citydata.errors import CitydataError
from citydata.storage.models import Dataset
from citydata.storage.models_access import Agreement, AgreementDataset
from citydata.web import labels
from citydata.web.preview import Preview, is_tabular, read_preview
from citydata.web.render import actor_context, render_page
from citydata.web.routes_data import add_profiles

router = APIRouter(include_in_schema=False)

#: Previews read files; a dataset with many tabular files previews only the first few.
MAX_PREVIEWS = 5
#: GeoJSON files up to this size are drawn on a map preview in the browser.
MAX_MAP_BYTES = 10 * 1024 * 1024
#: Tables with a geometry or latitude/longitude columns, up to this many rows, are mapped too.
MAX_MAP_ROWS = 20_000


def download_path(ds_name: str, resource: dict[str, Any], version: int | None = None,
                  filename: str = "", agreement: str = "") -> str:
    """A site-relative download link (the API's ``url`` is absolute for outside clients);
    ``agreement`` is the agreement the reader declared, carried so the download uses it too."""
    name = quote(filename or "data")
    path = f"/dataset/{quote(ds_name)}/resource/{resource['id']}/download/{name}"
    query = {k: v for k, v in (("version", version), ("_agreement", agreement)) if v}
    return f"{path}?{urlencode(query)}" if query else path


def report_summary(report: dict[str, Any]) -> dict[str, Any]:
    """What a person needs from an ingest/validation report: a heading and a few problems."""
    validation = report.get("validation") or {}
    if validation.get("errors"):
        return {
            "problem_heading": f"{validation.get('error_count', 0):,} problems against "
                               f"{validation.get('standard', 'the standard')}",
            "problems": validation["errors"][:5],
        }
    if report.get("errors"):
        return {"problem_heading": "Why it could not be read",
                "problems": [{"message": e} for e in report["errors"][:5]]}
    return {"problem_heading": "", "problems": []}


def resource_views(ctx: Ctx, ds: dict[str, Any], row: Dataset) -> list[dict[str, Any]]:
    """Resources with download links, versions newest first, and previews where the policy
    lets this reader read (a preview is a read: it is decided and recorded like any other)."""
    out = []
    previews = samples = 0
    agreement = ctx.actor.agreement or ""
    for r in ds["resources"]:
        view = dict(r)
        versions = sorted(r["versions"], key=lambda v: v["version"], reverse=True)
        current = next((v for v in versions if v["version"] == r["version"]), None)
        view["readable"] = ctx.access.allows(row, "read", r["id"])
        view["downloadable"] = ctx.access.allows(row, "download", r["id"])
        view["download_path"] = download_path(
            ds["name"], r, filename=current["filename"] if current else "", agreement=agreement)
        view["versions"] = [
            {
                **v,
                "download_path": download_path(ds["name"], r, v["version"], v["filename"],
                                               agreement),
                **report_summary(v.get("report") or {}),
            }
            for v in versions
        ]
        view["preview"] = None
        view["preview_error"] = ""
        view["sample"] = None
        view["map"] = map_source(r, current, view, agreement)
        if (view["readable"] and current and previews < MAX_PREVIEWS
                and is_tabular(r["format"], current["filename"])):
            try:
                view["preview"] = _preview(ctx, row, r, current)
            except CitydataError as exc:
                view["preview_error"] = exc.message
            previews += 1
        if r.get("synthetic_sample") and samples < MAX_PREVIEWS:
            view["sample"] = _sample(ctx, r["id"])
            samples += 1
        out.append(view)
    return out


def map_source(r: dict[str, Any], current: dict[str, Any] | None, view: dict[str, Any],
               agreement: str) -> str:
    """What a map preview draws: a small GeoJSON file itself, or a table with a geometry or
    latitude/longitude columns through its GeoJSON export ("" when there is nothing to map)."""
    if not (view["downloadable"] and current):
        return ""
    if (r["format"] or "") == "GeoJSON" and (r["size"] or 0) <= MAX_MAP_BYTES:
        return str(view["download_path"])
    names = [c["name"] for c in current.get("columns") or []]
    geometry, latlon = geo_columns(names)
    if (r.get("datastore_active") and (geometry or latlon)
            and (r.get("row_count") or 0) <= MAX_MAP_ROWS):
        query = f"?{urlencode({'_agreement': agreement})}" if agreement else ""
        return f"/api/v1/resources/{r['id']}/rows.geojson{query}"
    return ""


def _preview(ctx: Ctx, row: Dataset, r: dict[str, Any], current: dict[str, Any]) -> Any:
    """The first rows: from the file itself, or — when an agreement allows only some columns —
    from the table, cut to those columns (a failed table read raises, and the page says why)."""
    decision = ctx.access.decide(row, "read", r["id"])
    if decision.columns is None:
        preview = read_preview(ctx.files, current["sha256"], ctx.settings.preview_rows,
                               fmt=r["format"])
        decision.note(rows=len(preview.rows) if preview else 0, preview=True)
        return preview
    snap = open_snapshot(ctx, r["id"])
    page = run_page(snap, RowQuery(limit=ctx.settings.preview_rows), include_total=False)
    decision.note(rows=len(page.rows), preview=True)
    return Preview([c.name for c in page.columns],
                   [["" if v is None else str(v) for v in row_] for row_ in page.rows])


def _sample(ctx: Ctx, resource_id: str) -> dict[str, Any] | None:
    try:
        snap = describe_snapshot(ctx, resource_id, need="sample")
        return synthetic_sample(snap, f"{snap.path.name}:{snap.version}")
    except CitydataError:
        return None


def api_snippets(ctx: Ctx, ds: dict[str, Any]) -> dict[str, str]:
    """curl and ckanapi examples; for governed data they state the purpose, as reads must."""
    site = ctx.site_url
    auth = "" if ds["access_level"] == "open" else ' \\\n  -H "Authorization: YOUR_API_TOKEN"'
    key = "" if ds["access_level"] == "open" else ', apikey="YOUR_API_TOKEN"'
    grants = ds["access"]["agreements"]
    purpose = grants[0]["purpose"] if grants else "PURPOSE_CODE"
    governed = ds["access_level"] in ("shared", "restricted")
    session = ""
    if governed:
        auth += f' \\\n  -H "X-Citydata-Purpose: {purpose}"'
        key += ", session=session"
        session = ("import requests\n\nsession = requests.Session()  # every read states its "
                   f"purpose\nsession.headers[\"X-Citydata-Purpose\"] = {json.dumps(purpose)}\n")
    return {
        "curl": f'curl "{site}/api/3/action/package_show?id={quote(ds["name"])}"{auth}',
        "python": (
            f"{session}from ckanapi import RemoteCKAN\n\n"
            f"city = RemoteCKAN({json.dumps(site)}{key})\n"
            f"dataset = city.action.package_show(id={json.dumps(ds['name'])})\n"
            'for resource in dataset["resources"]:\n'
            '    print(resource["name"], resource["url"])'
        ),
    }


def pending_requests(ctx: Ctx, dataset_id: str) -> list[dict[str, str]]:
    """The reader's own drafts and requests for this dataset, waiting for a decision."""
    if not ctx.actor.user_id:
        return []
    rows = ctx.session.scalars(
        select(Agreement).join(AgreementDataset, AgreementDataset.agreement_id == Agreement.id)
        .where(AgreementDataset.dataset_id == dataset_id,
               Agreement.requested_by == ctx.actor.user_id,
               Agreement.status.in_(("draft", "requested")))
        .order_by(Agreement.created.desc()))
    return [{"reference": a.reference, "status": a.status} for a in rows]


def federation_context(ctx: Ctx, dataset_id: str) -> dict[str, Any]:
    """Where a harvested dataset comes from, and the node holding its data (if another)."""
    from citydata.federation import importer, sharing

    found = sharing.origin(ctx.session, dataset_id)
    return {"provenance": importer.provenance(ctx.session, dataset_id),
            "held_at": {"name": found[0].name, "url": found[0].url} if found else None}


@router.get("/dataset/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str) -> Response:
    """One dataset. Private datasets answer 404 to outsiders (the catalog raises NotFound).

    A reader under agreements chooses the one they use the data under (``?_agreement=``):
    previews, downloads and the explorer then run under it."""
    with request_ctx(request) as ctx:
        row = datasets.get_visible(ctx, name)
        ds = datasets.dataset_dict(ctx, row)
        if ds["name"] != name:  # reached by id: send readers to the one canonical address
            return RedirectResponse(f"/dataset/{ds['name']}", status_code=301)
        boroughs = labels.borough_names(ctx.session) if ds["boroughs"] else {}
        views = resource_views(ctx, ds, row)
        add_profiles(ctx, ds, views)
        refusal = ""
        if ds["access"]["purpose_required"]:
            refusal = next((ctx.access.refusal(row, "read", v["id"]) for v in views
                            if not v["readable"]), "")
        return render_page(request, "dataset.html", {
            **actor_context(ctx),
            "ds": ds,
            "resources": views,
            "themes": [(t, labels.theme_label(t)) for t in ds["themes"]],
            "boroughs": [(b, boroughs.get(b, b)) for b in ds["boroughs"]],
            "contact": {
                "name": ds["contact_name"] or ds["maintainer"] or ds["author"],
                "email": ds["contact_email"] or ds["maintainer_email"] or ds["author_email"],
            },
            "can_edit": has_role(ctx.actor, ds["owner_org"], "editor")
            and ctx.actor.is_authenticated,
            "api": api_snippets(ctx, ds),
            "declared": ctx.actor.agreement or "",
            "has_map": any(v["map"] for v in views),
            "refusal": refusal,
            "pending": pending_requests(ctx, row.id),
            "reason_label": REASONS.get(ds["restriction_reason"], ""),
            "discovery_label": DISCOVERY.get(ds["access"]["discovery"], ""),
            **federation_context(ctx, row.id),
        })

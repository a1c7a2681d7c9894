"""The dataset page: metadata, files with their versions, a preview of the rows, API snippets."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from citydata.access.policy import has_role
from citydata.api.deps import request_ctx
from citydata.catalog import datasets
from citydata.catalog.context import Ctx
from citydata.web import labels
from citydata.web.preview import is_tabular, read_preview
from citydata.web.render import actor_context, render_page
from citydata.web.routes_data import add_profiles

router = APIRouter(include_in_schema=False)

#: Previews read files; a dataset with many tabular files previews only the first few.
MAX_PREVIEWS = 5


def download_path(ds_name: str, resource: dict[str, Any], version: int | None = None,
                  filename: str = "") -> str:
    """A site-relative download link (the API's ``url`` is absolute for outside clients)."""
    name = quote(filename or "data")
    path = f"/dataset/{quote(ds_name)}/resource/{resource['id']}/download/{name}"
    return f"{path}?version={version}" if version is not None else path


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


def resource_views(ctx: Ctx, ds: dict[str, Any]) -> list[dict[str, Any]]:
    """Resources with download links, versions newest first, and previews where allowed."""
    out = []
    previews = 0
    for r in ds["resources"]:
        view = dict(r)
        versions = sorted(r["versions"], key=lambda v: v["version"], reverse=True)
        current = next((v for v in versions if v["version"] == r["version"]), None)
        view["download_path"] = download_path(
            ds["name"], r, filename=current["filename"] if current else "")
        view["versions"] = [
            {
                **v,
                "download_path": download_path(ds["name"], r, v["version"], v["filename"]),
                **report_summary(v.get("report") or {}),
            }
            for v in versions
        ]
        view["preview"] = None
        # data_access is the policy's answer (can_read_data) for this actor and dataset.
        if (ds["data_access"] and current and previews < MAX_PREVIEWS
                and is_tabular(r["format"], current["filename"])):
            view["preview"] = read_preview(ctx.files, current["sha256"],
                                           ctx.settings.preview_rows, fmt=r["format"])
            previews += 1
        out.append(view)
    return out


def api_snippets(ctx: Ctx, ds: dict[str, Any]) -> dict[str, str]:
    site = ctx.site_url
    auth = "" if ds["access_level"] == "open" else ' \\\n  -H "Authorization: YOUR_API_TOKEN"'
    key = "" if ds["access_level"] == "open" else ', apikey="YOUR_API_TOKEN"'
    return {
        "curl": f'curl "{site}/api/3/action/package_show?id={quote(ds["name"])}"{auth}',
        "python": (
            "from ckanapi import RemoteCKAN\n\n"
            f"city = RemoteCKAN({json.dumps(site)}{key})\n"
            f"dataset = city.action.package_show(id={json.dumps(ds['name'])})\n"
            'for resource in dataset["resources"]:\n'
            '    print(resource["name"], resource["url"])'
        ),
    }


@router.get("/dataset/{name}", response_class=HTMLResponse)
def dataset_page(request: Request, name: str) -> Response:
    """One dataset. Private datasets answer 404 to outsiders (the catalog raises NotFound)."""
    with request_ctx(request) as ctx:
        ds = datasets.show_dataset(ctx, name)
        if ds["name"] != name:  # reached by id: send readers to the one canonical address
            return RedirectResponse(f"/dataset/{ds['name']}", status_code=301)
        boroughs = labels.borough_names(ctx.session) if ds["boroughs"] else {}
        views = resource_views(ctx, ds)
        add_profiles(ctx, ds, views)
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
        })

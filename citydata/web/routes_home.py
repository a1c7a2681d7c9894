"""Home page and publisher pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citydata.api.deps import request_ctx
from citydata.catalog import organizations, search
from citydata.web import labels
from citydata.web.render import actor_context, render_page
from citydata.web.search_view import SearchRequest, load_results, run_search

router = APIRouter(include_in_schema=False)

#: Facets the home page offers for browsing, with their headings.
BROWSE = {"theme": "Browse by theme", "organization": "Popular publishers",
          "tags": "Popular tags", "borough": "Browse by borough"}


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """Search box, counts, popular themes/publishers/tags and recently updated datasets."""
    with request_ctx(request) as ctx:
        found = search.search_datasets(
            ctx.session, ctx.actor, sort="metadata_modified desc", rows=5,
            facet_fields=list(BROWSE), facet_limit=200, include_private=True)
        facets = found["facets"]
        titles = labels.organization_titles(
            ctx.session, [v for v, _ in facets.get("organization", [])])
        boroughs = labels.borough_names(ctx.session) if facets.get("borough") else {}
        label_for = {
            "theme": labels.theme_label,
            "organization": lambda v: titles.get(v, v),
            "borough": lambda v: boroughs.get(v, v),
            "tags": lambda v: v,
        }
        browse = [
            {"name": name, "title": title,
             "items": [{"value": v, "label": label_for[name](v), "count": c}
                       for v, c in facets.get(name, [])[:8]]}
            for name, title in BROWSE.items()
        ]
        publishers = organizations.list_organizations(ctx.session, ctx.actor, all_fields=True)
        return render_page(request, "home.html", {
            **actor_context(ctx),
            "dataset_count": found["count"],
            "publisher_count": sum(1 for o in publishers if o["package_count"]),
            "borough_count": len(facets.get("borough", [])),
            "recent": load_results(ctx, found["ids"]),
            "browse": browse,
        })


@router.get("/dataset", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    """Faceted dataset search."""
    req = SearchRequest.from_query(request.query_params)
    with request_ctx(request) as ctx:
        view = run_search(ctx, req, "/dataset")
        return render_page(request, "search.html", {**actor_context(ctx), **view})


@router.get("/organization", response_class=HTMLResponse)
def organization_list(request: Request) -> HTMLResponse:
    """Every publisher with the number of datasets the reader can see."""
    with request_ctx(request) as ctx:
        orgs = organizations.list_organizations(ctx.session, ctx.actor, all_fields=True)
        orgs.sort(key=lambda o: str(o["title"]).lower())
        return render_page(request, "organizations.html",
                           {**actor_context(ctx), "organizations": orgs})


@router.get("/organization/{name}", response_class=HTMLResponse)
def organization_page(request: Request, name: str) -> HTMLResponse:
    """A publisher's description and its datasets, searchable and faceted."""
    with request_ctx(request) as ctx:
        org = organizations.get_organization(ctx.session, name)
        info = organizations.organization_dict(ctx.session, org, ctx.actor)
        fixed = {"organization": org.name}
        req = SearchRequest.from_query(request.query_params, fixed=fixed)
        view = run_search(ctx, req, f"/organization/{org.name}", fixed=fixed)
        return render_page(request, "organization.html",
                           {**actor_context(ctx), **view, "org": info})

"""The faceted search shown on /dataset and on each publisher's page.

This module turns query-string parameters into one call of
:func:`citydata.catalog.search.search_datasets` and turns its result into what the template
shows: result cards, facets with counts and toggle links, removable active filters, sort
options and pagination. Facet counts come from the catalog, which already hides what the
actor may not see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from citydata.catalog import datasets, search
from citydata.catalog.context import Ctx
from citydata.errors import QueryError
from citydata.web import labels

#: Query parameter → facet heading, in the order the sidebar shows them.
FACETS: dict[str, str] = {
    "organization": "Publisher",
    "theme": "Theme",
    "borough": "Borough",
    "tags": "Tag",
    "res_format": "Format",
    "license_id": "Licence",
    "access_level": "Access",
    "quality": "Quality",
}
#: Quality bands (catalog.quality.BANDS), best first, as the facet lists them.
QUALITY_BANDS = {"excellent": "Excellent (80 to 100)", "good": "Good (60 to 79)",
                 "fair": "Fair (40 to 59)", "poor": "Poor (below 40)"}
#: Sort key in the URL → (label, catalog sort expression).
SORTS: dict[str, tuple[str, str]] = {
    "relevance": ("Most relevant", "score desc, metadata_modified desc"),
    "modified": ("Recently updated", "metadata_modified desc"),
    "created": ("Recently added", "metadata_created desc"),
    "title": ("Title (A to Z)", "title_string asc"),
    "quality": ("Highest quality", "quality_score desc, metadata_modified desc"),
}
PAGE_SIZE = 20
FACET_SHOWN = 8  # values shown before "Show more"; the rest sit in a disclosure


@dataclass
class SearchRequest:
    """What the reader asked for, parsed from the query string."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = ""
    page: int = 1

    @classmethod
    def from_query(
        cls, params: QueryParams, *, fixed: dict[str, str] | None = None
    ) -> SearchRequest:
        filters: dict[str, list[str]] = {}
        for name in FACETS:
            if fixed and name in fixed:
                continue
            # A double quote would end the catalog's quoted filter value; no valid value has one.
            values = [v for v in params.getlist(name) if v and '"' not in v and len(v) <= 200]
            if values:
                filters[name] = list(dict.fromkeys(values))
        sort = params.get("sort", "")
        try:
            page = max(1, min(int(params.get("page", "1")), 10_000))
        except ValueError:
            page = 1
        q = (params.get("q") or "").strip()[:500]
        return cls(q=q, filters=filters, sort=sort if sort in SORTS else "", page=page)

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q else "modified")

    def pairs(self, *, page: int | None = None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        for name in FACETS:
            out.extend((name, v) for v in self.filters.get(name, []))
        if self.sort:
            out.append(("sort", self.sort))
        if page and page > 1:
            out.append(("page", str(page)))
        return out

    def url(self, base: str, *, page: int | None = None) -> str:
        query = urlencode(self.pairs(page=page))
        return f"{base}?{query}" if query else base

    def toggled(self, name: str, value: str) -> SearchRequest:
        """The same search with one filter value added or removed (back to page 1)."""
        values = list(self.filters.get(name, []))
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        filters = {**self.filters, name: values}
        return SearchRequest(self.q, {k: v for k, v in filters.items() if v}, self.sort, 1)


def _fq(filters: dict[str, list[str]]) -> str:
    # Values in one facet are ANDed, as in CKAN: each count then says how many results remain
    # if that value is added.
    return " ".join(f'{name}:"{v}"' for name, values in filters.items() for v in values)


def _value_labeller(ctx: Ctx, facets: dict[str, list[tuple[str, int]]],
                    filters: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    orgs = {v for v, _ in facets.get("organization", [])} | set(filters.get("organization", []))
    titles = labels.organization_titles(ctx.session, sorted(orgs))
    boroughs = labels.borough_names(ctx.session) if (
        facets.get("borough") or filters.get("borough")) else {}
    out: dict[str, dict[str, str]] = {name: {} for name in FACETS}
    for name in FACETS:
        for value in {v for v, _ in facets.get(name, [])} | set(filters.get(name, [])):
            out[name][value] = {
                "organization": lambda v: titles.get(v, v),
                "theme": labels.theme_label,
                "borough": lambda v: boroughs.get(v, v),
                "license_id": labels.license_title,
                "access_level": labels.access_label,
                "quality": lambda v: QUALITY_BANDS.get(v, v),
            }.get(name, lambda v: v)(value)
    return out


def load_results(ctx: Ctx, ids: list[str]) -> list[dict[str, Any]]:
    """Dataset dicts for search hits, in the order given."""
    return datasets.dataset_dicts(ctx, ids)


def run_search(ctx: Ctx, req: SearchRequest, base: str,
               fixed: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the search and build the template's view of it."""
    fixed = fixed or {}
    shown_facets = [n for n in FACETS if n not in fixed]
    fq = _fq({**req.filters, **{k: [v] for k, v in fixed.items()}})
    error = ""
    try:
        found = search.search_datasets(
            ctx.session, ctx.actor, q=req.q, fq=fq, sort=SORTS[req.effective_sort][1],
            rows=PAGE_SIZE, start=(req.page - 1) * PAGE_SIZE, facet_fields=shown_facets,
            facet_limit=50, include_private=True,
        )
    except QueryError as exc:
        error = exc.message
        found = {"ids": [], "count": 0, "facets": {}}
    names = _value_labeller(ctx, found["facets"], req.filters)
    facets = []
    for name in shown_facets:
        selected = req.filters.get(name, [])
        items = [
            {"value": v, "label": names[name].get(v, v), "count": c,
             "selected": v in selected, "url": req.toggled(name, v).url(base)}
            for v, c in found["facets"].get(name, [])
        ]
        if not items:
            continue
        if name == "quality":  # bands in their natural order, not by count
            rank = list(QUALITY_BANDS)
            items.sort(key=lambda i: rank.index(i["value"]) if i["value"] in rank else 99)
        # Selected values first so they are never hidden behind "Show more".
        items.sort(key=lambda i: not i["selected"])
        facets.append({"name": name, "label": FACETS[name], "items": items[:FACET_SHOWN],
                       "more": items[FACET_SHOWN:]})
    active = [
        {"facet": FACETS[name], "label": names[name].get(v, v),
         "remove_url": req.toggled(name, v).url(base)}
        for name in FACETS for v in req.filters.get(name, [])
    ]
    count = int(found["count"])
    pages = max(1, math.ceil(count / PAGE_SIZE))
    return {
        "search": req,
        "base": base,
        "error": error,
        "count": count,
        "results": load_results(ctx, found["ids"]),
        "facets": facets,
        "active_filters": active,
        "clear_url": SearchRequest(q=req.q, sort=req.sort).url(base),
        "sort_options": [(k, label) for k, (label, _) in SORTS.items()
                         if k != "relevance" or req.q],
        "sort": req.effective_sort,
        "hidden_filters": [(n, v) for n in FACETS for v in req.filters.get(n, [])],
        "pager": _pagination(req, base, pages),
    }


def _pagination(req: SearchRequest, base: str, pages: int) -> dict[str, Any]:
    current = min(req.page, pages)
    window = sorted({1, pages, *range(max(1, current - 2), min(pages, current + 2) + 1)})
    numbers: list[dict[str, Any]] = []
    last = 0
    for n in window:
        if n - last > 1:
            numbers.append({"ellipsis": True})
        numbers.append({"number": n, "url": req.url(base, page=n), "current": n == req.page})
        last = n
    return {
        "pages": pages,
        "current": req.page,
        "previous": req.url(base, page=req.page - 1) if req.page > 1 else "",
        "next": req.url(base, page=req.page + 1) if req.page < pages else "",
        "numbers": numbers if pages > 1 else [],
    }

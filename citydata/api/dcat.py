"""DCAT-AP 3 endpoints: the paged catalog and single datasets as Turtle, JSON-LD or RDF/XML.

A thin adapter: it parses the request, asks the catalog for what the caller may see and hands
the dicts to :mod:`citydata.catalog.dcat`. Private datasets never reach the graph builder
unless the caller may see them, because the catalog functions filter by actor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citydata.api.deps import request_ctx
from citydata.api.openapi import TEXT, errors, ok
from citydata.catalog import datasets
from citydata.catalog.context import Ctx
from citydata.catalog.dcat import (
    FORMATS,
    build_catalog_graph,
    build_dataset_graph,
    page_count,
    serialize,
)
from citydata.catalog.licenses import DEFAULT_LICENSE
from citydata.errors import NotFound, field_error

router = APIRouter(tags=["DCAT-AP"])

PAGE_SIZE = 100
RDF_RESPONSES = {**ok(media={media: {"schema": {"type": "object"} if "json" in media else TEXT}
                             for _, media in FORMATS.values()},
                      description="Turtle, JSON-LD or RDF/XML, as the path's extension says"),
                 **errors(400, 401, 404)}


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"Unknown format '{fmt}': use one of {', '.join(sorted(FORMATS))}")
    return fmt


#: The highest page number any paged page or feed takes (SQLite's integers end near 9.2e18).
MAX_PAGE = 10_000_000


def parse_page(raw: str | None) -> int:
    """``?page=N``: a whole number from 1; absent means 1."""
    if raw is None or raw == "":
        return 1
    try:
        page = int(raw)
    except ValueError:
        raise field_error("page", "must be a whole number from 1") from None
    if not 1 <= page <= MAX_PAGE:
        raise field_error("page", f"must be a whole number from 1 to {MAX_PAGE:,}")
    return page


def parse_modified_since(raw: str | None) -> datetime | None:
    """``?modified_since=``: an ISO 8601 date or date-time; naive means UTC.

    Returned as naive UTC, the way the catalog stores its timestamps.
    """
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise field_error(
            "modified_since", "must be an ISO 8601 date-time, e.g. 2024-05-01T00:00:00Z"
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def catalog_info(ctx: Ctx, newest_modified: str | None) -> dict[str, Any]:
    """What the catalog says about itself, from the site settings."""
    title = ctx.settings.site_title
    return {
        "title": title,
        "description": f"{title}: the catalogue of the city's open and shared data.",
        "publisher": {"name": title},
        "homepage": f"{ctx.site_url}/",
        "license_id": DEFAULT_LICENSE,
        "language": "en",
        "modified": newest_modified,
    }


def _rdf_response(graph: Any, fmt: str) -> Response:
    body, media_type = serialize(graph, fmt)
    return Response(content=body, media_type=media_type)


@router.get("/catalog.{fmt}", summary="The DCAT-AP 3 catalog, 100 datasets a page (Hydra)",
            responses=RDF_RESPONSES)
def catalog(
    fmt: str, request: Request, page: str | None = None, modified_since: str | None = None
) -> Response:
    """The catalog with the datasets the caller may see, newest change first.

    ``fmt`` is ``ttl``, ``jsonld`` or ``rdf``; ``page`` counts from 1; ``modified_since``
    keeps only datasets changed at or after an ISO 8601 date-time.
    """
    _check_format(fmt)
    number = parse_page(page)
    since = parse_modified_since(modified_since)
    with request_ctx(request) as ctx:
        found, total = datasets.list_visible_datasets(
            ctx, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE, modified_since=since
        )
        last = page_count(total, PAGE_SIZE)
        if number > last:
            raise NotFound(f"Page {number} is past the last page ({last})")
        # Datasets come newest first, so the catalog's modified date is the first one's
        # on page 1; later pages look it up.
        newest = (
            found
            if number == 1
            else datasets.list_visible_datasets(ctx, offset=0, limit=1, modified_since=since)[0]
        )
        graph = build_catalog_graph(
            catalog_info(ctx, newest[0]["metadata_modified"] if newest else None),
            found,
            site_url=ctx.site_url,
            page=number,
            page_size=PAGE_SIZE,
            total=total,
            modified_since=modified_since or None,
            fmt=fmt,
        )
    return _rdf_response(graph, fmt)


@router.get("/dataset/{name}.{fmt}", summary="One dataset as DCAT-AP 3",
            responses=RDF_RESPONSES)
def dataset(name: str, fmt: str, request: Request) -> Response:
    """One dataset (by name or id) with its distributions; 404 if the caller may not see it."""
    _check_format(fmt)
    with request_ctx(request) as ctx:
        graph = build_dataset_graph(datasets.show_dataset(ctx, name), site_url=ctx.site_url)
    return _rdf_response(graph, fmt)

"""Registers the core APIs: CKAN Action API, file downloads, DCAT-AP feeds, OGC API, health."""

from __future__ import annotations

from typing import Any

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_routes(platform: Any) -> list[Any]:
    import citydata.api.ckan_datastore  # noqa: F401
    from citydata.api.ckan import router as ckan
    from citydata.api.dcat import router as dcat
    from citydata.api.diff import router as diff
    from citydata.api.downloads import router as downloads
    from citydata.api.events import router as events
    from citydata.api.federation import router as federation
    from citydata.api.governance import router as governance
    from citydata.api.ogc import router as ogc
    from citydata.api.places import router as places
    from citydata.api.reference import router as reference
    from citydata.api.rows import router as rows
    from citydata.api.standards import router as standards
    from citydata.api.webhooks import router as webhooks

    return [ckan, downloads, dcat, rows, diff, standards, governance, places, reference,
            ogc, federation, events, webhooks]

"""Registers the core APIs: CKAN Action API, file downloads, DCAT-AP feeds, health."""

from __future__ import annotations

from typing import Any

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_routes(platform: Any) -> list[Any]:
    from citydata.api.ckan import router as ckan
    from citydata.api.dcat import router as dcat
    from citydata.api.downloads import router as downloads

    return [ckan, downloads, dcat]

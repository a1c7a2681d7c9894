"""Registers the web pages with the application."""

from __future__ import annotations

from typing import Any

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_routes(platform: Any) -> list[Any]:
    from citydata.web.routes import router

    return [router]

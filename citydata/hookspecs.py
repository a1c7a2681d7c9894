# mypy: disable-error-code="empty-body"
"""The whole extension surface of citydata, in one file.

A data service (planning, street works, air quality, ...) is a module or package exposing
functions marked with ``@hookimpl`` for any of these hooks, listed under the ``citydata``
entry-point group (third-party) or in ``citydata.plugins.DEFAULT_PLUGINS`` (built in). The
core's own features use exactly the same hooks. Every hook is documented; a test checks that.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("citydata")
hookimpl = pluggy.HookimplMarker("citydata")


@hookspec
def citydata_routes(platform: Any) -> list[Any]:
    """Return FastAPI ``APIRouter`` objects to mount (APIs and pages) on the application."""


@hookspec
def citydata_commands() -> list[Any]:
    """Return click commands or groups to add to the ``citydata`` command line."""


@hookspec
def citydata_standards() -> list[dict]:
    """Return data standards (Frictionless Table Schema dicts with ``name`` and ``version``)."""


@hookspec
def citydata_demo(platform: Any, progress: Any) -> dict | None:
    """Load this plugin's demo data idempotently; return counts of what was added."""


@hookspec
def citydata_nav_links() -> list[tuple[str, str]]:
    """Return (label, path) links the web UI shows in its main navigation."""


@hookspec
def citydata_template_dirs() -> list[str]:
    """Return directories of Jinja2 templates that pages of this plugin render."""


@hookspec
def citydata_event_streams() -> list[Any]:
    """Return citydata.events.streams.Stream objects this plugin publishes."""


@hookspec
def citydata_background_tasks(platform: Any) -> list[Any]:
    """Return coroutine functions (no arguments) each server process runs for its lifetime,
    e.g. a data service's live replay; cancelled at shutdown. Return [] when switched off."""

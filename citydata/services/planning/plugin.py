"""The Planning Datahub as a plug-in: its data standard, API, pages, commands, demo data, event
stream and live replay — all through the same hooks as any third-party plug-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_standards() -> list[dict]:
    from citydata.services.planning.standard import PLANNING_APPLICATIONS

    return [PLANNING_APPLICATIONS]


@hookimpl
def citydata_routes(platform: Any) -> list[Any]:
    from citydata.services.planning.api import router
    from citydata.services.planning.pages import router as pages

    return [router, pages]


@hookimpl
def citydata_commands() -> list[Any]:
    from citydata.services.planning.commands import planning

    return [planning]


@hookimpl
def citydata_event_streams() -> list[Any]:
    from citydata.services.planning.stream import STREAM

    return [STREAM]


@hookimpl
def citydata_nav_links() -> list[tuple[str, str]]:
    return [("Planning", "/planning")]


@hookimpl
def citydata_template_dirs() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


@hookimpl(trylast=True)
def citydata_demo(platform: Any, progress: Any) -> dict | None:
    """After the catalog demo (it needs the reference data and the GLA)."""
    from citydata.services.planning.service import load_demo

    return load_demo(platform, progress=progress)


@hookimpl
def citydata_background_tasks(platform: Any) -> list[Any]:
    rate = platform.settings.planning_replay_per_minute
    if rate <= 0:
        return []
    from citydata.services.planning.service import replay_forever

    async def planning_replay() -> None:
        await replay_forever(platform, rate)

    return [planning_replay]

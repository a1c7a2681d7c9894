"""Registers the Planning Datahub's data standard through the plug-in contract."""

from __future__ import annotations

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_standards() -> list[dict]:
    from citydata.services.planning.standard import PLANNING_APPLICATIONS

    return [PLANNING_APPLICATIONS]

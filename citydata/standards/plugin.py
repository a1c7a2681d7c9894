"""Registers the city's core data standards through the same hook third-party plugins use."""

from __future__ import annotations

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_standards() -> list[dict]:
    from citydata.standards.core_standards import CORE_STANDARDS

    return CORE_STANDARDS

"""Registers the London demo catalog with the ``citydata demo`` command."""

from __future__ import annotations

from typing import Any

from citydata.hookspecs import hookimpl


@hookimpl
def citydata_demo(platform: Any, progress: Any) -> dict | None:
    from citydata.demo.loader import load_demo

    return load_demo(platform, progress=progress)

"""The London demo catalog: 50+ publishers, 400+ datasets, real files from the reference data.

``load_demo(platform)`` loads it idempotently; ``build_spec(settings)`` returns it as data.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_spec", "load_demo"]


def __getattr__(name: str) -> Any:  # lazy: the spec must not import the catalog service
    if name == "load_demo":
        from citydata.demo.loader import load_demo

        return load_demo
    if name == "build_spec":
        from citydata.demo.spec import build_spec

        return build_spec
    raise AttributeError(name)

"""Walk every route of the real app, so the security tests cover routes added later too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def all_routes(routes: list[Any]) -> Iterator[Any]:
    """Every route, descending into included routers (FastAPI keeps them nested)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from all_routes(route.effective_candidates())
        else:
            yield route


def endpoint_module(route: Any) -> str:
    return getattr(getattr(route, "endpoint", None), "__module__", "") or ""


def is_page_module(module: str) -> bool:
    """The HTML pages: citydata/web and each service's pages.py."""
    return module.startswith("citydata.web.") or bool(
        re.fullmatch(r"citydata\.services\.[a-z_]+\.pages", module))


def path_params(path: str) -> list[str]:
    return PARAM.findall(path)


def fill(path: str, values: dict[str, str]) -> str:
    """The path with each ``{param}`` replaced by its value (``values`` has them all)."""
    return PARAM.sub(lambda m: values[m.group(1)], path)

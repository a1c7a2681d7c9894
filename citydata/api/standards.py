"""The data standards registry over HTTP: ``/api/v1/standards`` (native JSON)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from citydata.api.openapi import errors, ok
from citydata.errors import NotFound
from citydata.standards.registry import Registry, build_registry

router = APIRouter(prefix="/api/v1/standards", tags=["Standards"])


class StandardSummary(BaseModel):
    name: str
    title: str
    description: str
    latest: str
    versions: list[str]


class StandardList(BaseModel):
    count: int
    standards: list[StandardSummary]


class StandardVersion(BaseModel):
    """A Frictionless Table Schema with the standard's metadata (``fields``, ``primaryKey``,
    ...) and every version there is."""

    model_config = ConfigDict(extra="allow")

    name: str
    version: str
    fields: list[dict[str, Any]]
    versions: list[str]
    latest: str = Field(description="The newest version")


def _registry(request: Request) -> Registry:
    registry = getattr(request.app.state, "standards", None)
    if registry is None:
        registry = build_registry(request.app.state.platform.plugins)
        request.app.state.standards = registry
    return registry


@router.get("", responses=ok(StandardList))
def list_standards(request: Request) -> dict[str, Any]:
    """Every registered data standard with its versions (newest last)."""
    items = _registry(request).summaries()
    return {"count": len(items), "standards": items}


@router.get("/{name}", responses={**ok(StandardVersion), **errors(400, 404)})
def show_standard(
    request: Request,
    name: str,
    version: str | None = Query(None, description="A version; default the newest"),
) -> dict[str, Any]:
    """One standard: its newest (or the given) version's Table Schema and all its versions."""
    registry = _registry(request)
    schema = registry.get(name, version)
    versions = registry.standards.get(name)
    if not versions:  # pragma: no cover - get() already refused
        raise NotFound(f"There is no data standard called {name!r}")
    return {**schema, "versions": list(versions), "latest": next(reversed(versions))}

"""Compare two versions of a tabular resource: ``GET /api/v1/resources/{id}/diff``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import request_ctx
from citydata.api.openapi import errors, ok
from citydata.datastore.diff import MAX_LIMIT, diff_versions

router = APIRouter(prefix="/api/v1/resources", tags=["Datastore"])


class SchemaChanges(BaseModel):
    added: list[dict[str, str]]
    removed: list[dict[str, str]]
    retyped: list[dict[str, str]]


class VersionDiff(BaseModel):
    resource_id: str
    dataset: str
    from_: int = Field(alias="from")
    to: int
    key: list[str] | None = Field(description="The columns rows were matched on; null: whole "
                                  "rows")
    key_source: str
    schema_: SchemaChanges = Field(alias="schema")
    columns: list[str] = Field(description="Columns in both versions")
    limit: int
    summary: dict[str, int] = Field(description="Counts: added, removed, changed, unchanged, "
                                    "rows_from, rows_to")
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    truncated: dict[str, bool]


@router.get("/{resource_id}/diff", responses={**ok(VersionDiff),
                                               **errors(400, 401, 403, 404)})
async def diff(
    request: Request,
    resource_id: str,
    from_: int = Query(..., alias="from", ge=1, description="The older version number"),
    to: int = Query(..., ge=1, description="The newer version number"),
    key: list[str] | None = Query(
        None, description="Key column(s) that identify a row; repeat or comma-separate"
    ),
    limit: int = Query(1000, ge=0, le=MAX_LIMIT, description="Example rows of each kind"),
) -> dict[str, Any]:
    """Rows added, removed and changed between two versions, with schema changes.

    Without ``key`` rows are matched on the dataset standard's primary key, else on a unique
    ``id``/``*_id`` column, else compared as whole rows.
    """
    columns = [c.strip() for k in key or [] for c in k.split(",") if c.strip()] or None

    def run() -> dict[str, Any]:
        with request_ctx(request) as ctx:
            return diff_versions(ctx, resource_id, from_, to, key=columns, limit=limit)

    return await run_in_threadpool(run)

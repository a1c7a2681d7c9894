"""The version comparison page: what changed between two uploads of a tabular file."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from citydata.api.deps import request_ctx
from citydata.catalog import datasets
from citydata.catalog.resources import show_resource
from citydata.datastore.diff import diff_versions
from citydata.errors import NotFound, ValidationError
from citydata.web.render import actor_context, render_page

router = APIRouter(include_in_schema=False)

#: Example rows shown of each kind; the API gives more.
PAGE_LIMIT = 200


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@router.get("/dataset/{name}/resource/{resource_id}/diff", response_class=HTMLResponse)
def diff_page(request: Request, name: str, resource_id: str) -> Response:
    """Compare ``?from=`` with ``?to=`` (default: the current version and the one before)."""
    params = request.query_params
    key = [c.strip() for c in params.get("key", "").split(",") if c.strip()] or None
    with request_ctx(request) as ctx:
        ds = datasets.show_dataset(ctx, name)
        resource = show_resource(ctx, resource_id)
        if resource["package_id"] != ds["id"]:
            raise NotFound("Resource was not found.")
        numbers = sorted(v["version"] for v in resource["versions"])
        to = _int(params.get("to")) or resource["version"] or (numbers[-1] if numbers else None)
        earlier = [n for n in numbers if to is not None and n < to]
        frm = _int(params.get("from")) or (earlier[-1] if earlier else None)
        result: dict[str, Any] | None = None
        error = ""
        if frm is None or to is None:
            error = "This file has only one version, so there is nothing to compare yet."
        else:
            try:
                result = diff_versions(ctx, resource_id, frm, to, key=key, limit=PAGE_LIMIT)
            except ValidationError as exc:
                error = exc.message.split(": ", 1)[-1] if exc.fields else exc.message
        return render_page(
            request,
            "diff.html",
            {
                **actor_context(ctx),
                "ds": ds,
                "resource": resource,
                "versions": numbers,
                "frm": frm,
                "to": to,
                "key": ", ".join(key or []),
                "result": result,
                "error": error,
            },
            status_code=400 if error and frm is not None else 200,
        )

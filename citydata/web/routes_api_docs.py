"""``/api/docs``: the native API's reference, rendered on the server from the OpenAPI document.

Swagger UI would need a script from a CDN (there may be no internet) and inline script (which
the Content-Security-Policy forbids), so the page is plain HTML: each tag's operations with
their parameters and answers. The machine-readable document stays at ``/api/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from citydata.web.render import render_page

router = APIRouter(include_in_schema=False)

METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref") or (schema.get("items") or {}).get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return f"list of {name}" if "items" in schema else name
    return str(schema.get("type", ""))


def operations_by_tag(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec's operations grouped by their first tag, in the order the tags first appear."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = [
                {"name": p.get("name", ""), "in": p.get("in", ""),
                 "required": bool(p.get("required")),
                 "type": _schema_name(p.get("schema") or {}),
                 "description": p.get("description", "")}
                for p in op.get("parameters", [])
            ]
            answers = [
                {"status": status, "description": r.get("description", ""),
                 "media": ", ".join(sorted((r.get("content") or {}).keys()))}
                for status, r in sorted(op.get("responses", {}).items())
            ]
            tag = (op.get("tags") or ["Other"])[0]
            groups.setdefault(tag, []).append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "params": params,
                "answers": answers, "anchor": op.get("operationId", f"{method}-{path}"),
                "has_body": "requestBody" in op,
            })
    return [{"tag": tag, "operations": ops} for tag, ops in groups.items()]


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return render_page(request, "api_docs.html", {
        "title": spec.get("info", {}).get("title", ""),
        "version": spec.get("info", {}).get("version", ""),
        "groups": operations_by_tag(spec),
    })

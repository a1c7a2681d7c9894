"""``/healthz``, ``/readyz`` and ``/metrics``: for machines, so kept out of the OpenAPI
schema (``include_in_schema=False``) and out of the info-level access log."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from citydata.ops.health import readiness
from citydata.ops.metrics import HttpMetrics
from citydata.platform import Platform
from citydata.storage.migrate import head_revision


def ops_router(platform: Platform, metrics: HttpMetrics) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    head = head_revision()  # read the migration scripts once, not on every probe

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        """Liveness: the process answers; touches nothing else."""
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: database, schema and file store; 503 with the same shape on failure."""
        result = readiness(platform, head)
        return JSONResponse(result.as_dict(), status_code=200 if result.ok else 503,
                            headers={"Cache-Control": "no-store"})

    @router.get("/metrics")
    def metrics_text() -> Response:
        """Prometheus exposition text (database gauges are read now)."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    return router

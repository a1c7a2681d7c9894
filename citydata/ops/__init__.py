"""Operations: structured logs with request ids, health checks and Prometheus metrics.

- :mod:`citydata.ops.logging` — the JSON (or text) log format and :func:`configure_logging`.
- :mod:`citydata.ops.requests` — the ASGI middleware giving each request an id, one access
  log line and its metrics.
- :mod:`citydata.ops.metrics` — the per-app Prometheus registry and the scrape-time database
  gauges.
- :mod:`citydata.ops.health` — liveness and readiness checks.
- :mod:`citydata.ops.routes` — ``/healthz``, ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

from citydata.ops.logging import configure_logging, current_request_id

__all__ = ["configure_logging", "current_request_id"]

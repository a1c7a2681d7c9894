"""Prometheus metrics: HTTP requests per route, and gauges read from the database at scrape.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (never the global
default one), so building many apps in one process — as the tests do — never collides.

Several server processes (``citydata serve --workers N``, gunicorn) each count their own
requests. When ``PROMETHEUS_MULTIPROC_DIR`` names an empty, writable directory at start-up,
prometheus_client's multiprocess mode keeps the counts in files there and any process
answering ``/metrics`` reports the sum over all of them. The database gauges are the same
whichever process answers: they are read from the shared database on each scrape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from citydata.platform import Platform
from citydata.storage.models import ResourceVersion
from citydata.storage.models_access import AuditHead
from citydata.storage.models_federation import HarvestJob
from citydata.storage.models_planning import PlanningRun

log = logging.getLogger("citydata.metrics")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str:
    """The multiprocess directory, or "" for one registry per process."""
    return os.environ.get(MULTIPROC_ENV, "")


class HttpMetrics:
    """The request counter and latency histogram of one app, and its ``/metrics`` text."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.registry = CollectorRegistry()
        # In multiprocess mode the values live in files, read back at scrape time by a
        # MultiProcessCollector, so the metrics themselves join no registry.
        owner = None if multiprocess_dir() else self.registry
        self.requests = Counter(
            "citydata_http_requests", "HTTP requests answered, by method, route template "
            "and status", ["method", "route", "status"], registry=owner)
        self.duration = Histogram(
            "citydata_http_request_duration_seconds", "Time to answer an HTTP request in "
            "full, by method and route template (event streams are not included)",
            ["method", "route"], registry=owner)
        self.cache = Counter(
            "citydata_response_cache", "Anonymous GETs the response cache looked up, by "
            "outcome (hit: answered from this process's cache; miss: answered by the app, "
            "then kept if shareable)", ["outcome"], registry=owner)
        self.registry.register(DatabaseCollector(platform))

    def cache_outcome(self, outcome: str) -> None:
        self.cache.labels(outcome).inc()

    def observe(self, method: str, route: str, status: int, seconds: float,
                streaming: bool = False) -> None:
        self.requests.labels(method, route, str(status)).inc()
        if not streaming:  # an SSE stream lasts as long as its client likes: not a latency
            self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The exposition text for a scrape (reads the database gauges now)."""
        directory = multiprocess_dir()
        if not directory:
            return generate_latest(self.registry)
        scrape = CollectorRegistry()
        MultiProcessCollector(scrape, path=directory)
        scrape.register(DatabaseCollector(self.platform))
        return generate_latest(scrape)


def _by_status(conn: Connection, column, name: str, doc: str, label: str,
               rename: dict[str, str] | None = None) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=[label])
    for value, count in conn.execute(select(column, func.count()).group_by(column)):
        gauge.add_metric([(rename or {}).get(value or "", value or "")], count)
    return gauge


class DatabaseCollector(Collector):
    """Gauges read from the database on every scrape: ingest outcomes of resource versions,
    harvest jobs and planning ingest runs by status, and the audit chain's length.

    If the database cannot be read, ``citydata_database_up`` is 0 and the others are left
    out rather than failing the whole scrape.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to check at registration; names are unique by construction

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("citydata_database_up",
                               "1 when the database answered this scrape's queries")
        try:
            families = self._read()
        except Exception as exc:  # an outage must not break the scrape of the HTTP metrics
            log.warning("metrics could not read the database: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        with self.platform.db.engine.connect() as conn:
            chain = conn.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
            audit = GaugeMetricFamily("citydata_audit_chain_length",
                                      "Entries in the tamper-evident audit log")
            audit.add_metric([], chain)
            return [
                _by_status(conn, ResourceVersion.ingest_status, "citydata_resource_versions",
                           "Uploaded resource versions by ingest outcome", "ingest_status",
                           {"": "not_tabular"}),
                _by_status(conn, HarvestJob.status, "citydata_harvest_jobs",
                           "Harvest jobs by status", "status"),
                _by_status(conn, PlanningRun.status, "citydata_planning_runs",
                           "Planning feed ingest runs by status", "status"),
                audit,
            ]

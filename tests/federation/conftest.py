"""Three real citydata nodes (registry, camden, hackney), each its own uvicorn process with its
own database — SQLite files, or three PostgreSQL schemas — built by the same code as
``citydata demo-federation``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from citydata.demo import federation as demo
from citydata.storage.database import normalise_url
from tests.conftest import BACKENDS, PG_URL, free_port


def _pg_schemas(names: list[str]) -> tuple[dict[str, str], list[str]]:
    if not PG_URL:
        pytest.skip("CITYDATA_TEST_DATABASE_URL is empty: PostgreSQL cases not run")
    url = normalise_url(PG_URL)
    engine = create_engine(url)
    urls, schemas = {}, []
    with engine.begin() as conn:
        for name in names:
            schema = f"cdfed_{name}_{uuid.uuid4().hex[:6]}"
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in url else "?"
            urls[name] = f"{url}{sep}options=-csearch_path%3D{schema}%2Cpublic"
            schemas.append(schema)
    engine.dispose()
    return urls, schemas


def _drop(schemas: list[str]) -> None:
    engine = create_engine(normalise_url(PG_URL))
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


class Running:
    """The cluster, its serving processes, and ways to stop and restart a node."""

    def __init__(self, cluster: demo.Cluster, stack: ExitStack, log_dir: Path) -> None:
        self.cluster = cluster
        self.stack = stack
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.reports: list[dict] = []

    @property
    def registry(self) -> demo.NodeSpec:
        return self.cluster.registry

    def owner(self, name: str) -> demo.NodeSpec:
        return self.cluster.owners[name]

    def start(self, spec: demo.NodeSpec) -> None:
        self.procs[spec.name] = self.stack.enter_context(
            demo.serve(spec, jobs_interval=0, log_dir=self.log_dir))

    def stop(self, spec: demo.NodeSpec) -> None:
        proc = self.procs[spec.name]
        proc.kill()
        proc.wait()

    def cli(self, spec: demo.NodeSpec, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "citydata.cli", *args],
                              env=spec.env(0), capture_output=True, text=True, timeout=120)


@contextmanager
def cluster_of_three(base: Path, backend: str) -> Iterator[Running]:
    """Seed, serve, join and harvest the three nodes; stop and clean up afterwards."""
    schemas: list[str] = []
    urls: dict[str, str] = {}
    names = ["registry", *demo.OWNERS]
    if backend == "postgresql":
        urls, schemas = _pg_schemas(names)
    cluster = demo.plan(base, 0, urls, ports={n: free_port() for n in names})
    try:
        codes = demo.seed(cluster)
        with ExitStack() as stack:
            running = Running(cluster, stack, base / "logs")
            for spec in cluster.nodes:
                running.start(spec)
            running.reports = demo.join_and_harvest(cluster, codes)
            yield running
    finally:
        if schemas:
            _drop(schemas)


@pytest.fixture(scope="module", params=BACKENDS)
def nodes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Running]:
    with cluster_of_three(tmp_path_factory.mktemp(f"federation-{request.param}"),
                          request.param) as running:
        yield running

"""Three federated nodes on one machine: a city registry and two borough owner nodes.

``citydata demo-federation`` (``make federation-demo``) builds them under one directory and
serves them on three loopback ports, each its own process with its own database and files:

- **registry** (the GLA's city registry): knows what exists; users search and ask there;
- **camden** and **hackney** (owner nodes): keep their data, decide requests, audit use.

Each owner publishes an open dataset and a restricted one. Both join the registry with a
one-time code; the registry harvests their catalogs (metadata only). The README's federation
walkthrough goes on from there by hand: find, request, approve at the owner, query at the
owner, read the owner's access log. The tests drive the same functions.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from citydata.access.actors import Actor
from citydata.access.keys import create_key, key_path
from citydata.catalog import organizations, users
from citydata.catalog.context import Ctx
from citydata.catalog.publish import publish_file
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.migrate import upgrade

HOST = "127.0.0.1"
PASSWORD = "federation-demo-password"
OWNERS = {
    "camden": ("London Borough of Camden", "E09000007", "Camden"),
    "hackney": ("London Borough of Hackney", "E09000012", "Hackney"),
}


@dataclass
class NodeSpec:
    name: str
    port: int
    home: Path
    database_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def settings(self, **overrides: object) -> Settings:
        return Settings(env="dev", home=self.home, database_url=self.database_url,
                        site_url=self.url, node_name=self.name, postcodes="none",
                        site_title=("London city data registry" if self.name == "registry"
                                    else f"{OWNERS[self.name][0]} data"),
                        **overrides)  # type: ignore[arg-type]

    def env(self, jobs_interval: float) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "CITYDATA_ENV": "dev", "CITYDATA_HOME": str(self.home),
            "CITYDATA_SITE_URL": self.url, "CITYDATA_NODE_NAME": self.name,
            "CITYDATA_POSTCODES": "none",
            "CITYDATA_JOBS_INTERVAL_SECONDS": str(jobs_interval),
            "CITYDATA_SITE_TITLE": self.settings().site_title,
        })
        if self.database_url:
            env["CITYDATA_DATABASE_URL"] = self.database_url
        else:
            env.pop("CITYDATA_DATABASE_URL", None)
        return env


def _care_rows(borough: str, n: int, seed: int) -> list[list[object]]:
    rnd = random.Random(seed)
    services = ["home care", "day centre", "residential care", "reablement", "meals"]
    return [[f"{borough[:3].upper()}-{i:05d}", rnd.choice(["18-64", "65-74", "75-84", "85+"]),
             rnd.choice(services), rnd.randint(2, 40), f"2026-{rnd.randint(1, 11):02d}-01"]
            for i in range(n)]


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _seed_owner(spec: NodeSpec, work: Path) -> None:
    title, gss, short = OWNERS[spec.name]
    platform = Platform(spec.settings())
    try:
        upgrade(platform.db)
        system = Actor.system()
        with platform.db.session() as session:
            ctx = Ctx(session, system, platform.settings, platform.files)
            organizations.create_organization(session, system, {
                "name": spec.name, "title": title, "kind": "borough", "gss_code": gss})
            owner = f"{spec.name}-owner"
            users.create_user(session, owner, f"{owner}@example.org", PASSWORD)
            organizations.add_member(session, system, spec.name, owner, "admin")
            spec.tokens[owner] = users.create_token(session, system, owner, name="demo")
            rnd = random.Random(gss)
            trees = _write_csv(work / f"{spec.name}-trees.csv",
                               ["tree_id", "species", "height_m", "ward"],
                               [[f"T{i:05d}", rnd.choice(["London plane", "Lime", "Ash",
                                                          "Cherry"]),
                                 round(rnd.uniform(3, 30), 1), f"{short} ward {i % 12 + 1}"]
                                for i in range(300)])
            publish_file(ctx, trees, org=spec.name, title=f"{short} street trees",
                         dataset_name=f"{spec.name}-street-trees",
                         metadata={"notes": f"Every street tree {short} maintains.",
                                   "tags": ["trees", "environment"], "boroughs": [gss]})
            care = _write_csv(work / f"{spec.name}-care.csv",
                              ["client_ref", "age_band", "service", "hours_per_week",
                               "start_month"], _care_rows(spec.name, 400, len(spec.name)))
            publish_file(ctx, care, org=spec.name,
                         title=f"{short} adult social care packages",
                         dataset_name=f"{spec.name}-care-packages",
                         metadata={"notes": f"Care packages {short} arranges, one row per "
                                            "person. Personal data: shared under agreement.",
                                   "tags": ["social care", "health"], "boroughs": [gss],
                                   "access_level": "restricted",
                                   "restriction_reason": "personal-data",
                                   "discovery": "schema"})
        if not key_path(platform.settings).exists():
            create_key(platform.settings)
    finally:
        platform.close()


def _seed_registry(spec: NodeSpec) -> dict[str, str]:
    platform = Platform(spec.settings())
    codes: dict[str, str] = {}
    try:
        upgrade(platform.db)
        system = Actor.system()
        from citydata.federation.nodes import invite

        with platform.db.session() as session:
            ctx = Ctx(session, system, platform.settings, platform.files)
            organizations.create_organization(session, system, {
                "name": "gla", "title": "Greater London Authority", "kind": "gla"})
            for name, (title, gss, _) in OWNERS.items():
                organizations.create_organization(session, system, {
                    "name": name, "title": title, "kind": "borough", "gss_code": gss})
            users.create_user(session, "registry-admin", "admin@example.org", PASSWORD,
                              sysadmin=True)
            users.create_user(session, "analyst", "analyst@example.org", PASSWORD)
            organizations.add_member(session, system, "gla", "analyst", "member")
            spec.tokens["analyst"] = users.create_token(session, system, "analyst",
                                                        name="demo")
            spec.tokens["registry-admin"] = users.create_token(session, system,
                                                               "registry-admin", name="demo")
            for name in OWNERS:
                codes[name] = invite(ctx, name, name)
        if not key_path(platform.settings).exists():
            create_key(platform.settings)
    finally:
        platform.close()
    return codes


@contextmanager
def serve(spec: NodeSpec, *, jobs_interval: float = 0, log_dir: Path | None = None
          ) -> Iterator[subprocess.Popen]:
    """Serve a node with the real ``citydata serve`` (uvicorn) in its own process."""
    log_dir = log_dir or spec.home
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / f"{spec.name}-server.log").open("wb")
    cmd = [sys.executable, "-m", "citydata.cli", "serve", "--host", HOST,
           "--port", str(spec.port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=spec.env(jobs_interval))
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"node {spec.name} exited; see {log.name}")
            try:
                if httpx.get(f"{spec.url}/api/v1/federation/node", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {spec.name} not ready after 60 s")
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@dataclass
class Cluster:
    registry: NodeSpec
    owners: dict[str, NodeSpec]

    @property
    def nodes(self) -> list[NodeSpec]:
        return [self.registry, *self.owners.values()]


def plan(directory: Path, base_port: int, database_urls: dict[str, str] | None = None,
         ports: dict[str, int] | None = None) -> Cluster:
    urls = database_urls or {}
    chosen = ports or {}
    names = ["registry", *OWNERS]
    specs = {n: NodeSpec(n, chosen.get(n, base_port + i), directory / n, urls.get(n, ""))
             for i, n in enumerate(names)}
    return Cluster(specs["registry"], {n: specs[n] for n in OWNERS})


def seed(cluster: Cluster) -> dict[str, str]:
    """Create the three nodes' databases, publishers, people, data and keys; the registry's
    invitation codes for the owners come back."""
    for spec in cluster.nodes:
        spec.home.mkdir(parents=True, exist_ok=True)
    work = cluster.registry.home.parent / "source-files"
    work.mkdir(parents=True, exist_ok=True)
    for spec in cluster.owners.values():
        _seed_owner(spec, work)
    return _seed_registry(cluster.registry)


def join_and_harvest(cluster: Cluster, codes: dict[str, str]) -> list[dict]:
    """Owners join the registry (which must be serving); the registry harvests them."""
    from citydata.federation.harvest import run_harvest
    from citydata.federation.nodes import join

    for name, spec in cluster.owners.items():
        platform = Platform(spec.settings())
        try:
            join(platform.db, platform.settings, cluster.registry.url, codes[name])
        finally:
            platform.close()
    reports = []
    platform = Platform(cluster.registry.settings())
    try:
        for name in cluster.owners:
            reports.append(run_harvest(platform, f"node-{name}"))
    finally:
        platform.close()
    return reports


def main(directory: Path, base_port: int) -> None:
    """Build (first time) and serve the three nodes until interrupted."""
    tokens_file = directory / "tokens.json"
    fresh = not tokens_file.exists()  # written last: a half-built demo is built again
    cluster = plan(directory, base_port)
    if fresh:
        for spec in cluster.nodes:
            shutil.rmtree(spec.home, ignore_errors=True)
    codes = seed(cluster) if fresh else {}
    with ExitStack() as stack:
        for spec in cluster.nodes:
            stack.enter_context(serve(spec, jobs_interval=5, log_dir=directory))
        if fresh:
            for report in join_and_harvest(cluster, codes):
                print(f"harvested {report['source']}: {report['added']} datasets added")
            tokens_file.write_text(json.dumps({s.name: s.tokens for s in cluster.nodes},
                                              indent=2))
        tokens = json.loads((directory / "tokens.json").read_text())
        print(f"\nregistry  {cluster.registry.url}/")
        for spec in cluster.owners.values():
            print(f"{spec.name:<9} {spec.url}/")
        print(f"\nTokens are in {directory / 'tokens.json'}:")
        for node, people in tokens.items():
            for person, token in people.items():
                print(f"  {node}/{person}: {token}")
        print("\nFollow the federation walkthrough in README.md. Ctrl-C stops all three.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

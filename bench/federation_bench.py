"""Federation benchmark (issue #6): harvesting a CKAN portal, and live search across 5 nodes.

    python -m bench.federation_bench                  # 50,000 datasets, both backends (~10–12 min)
    python -m bench.federation_bench --quick          # 5,000 datasets, 40 searches a phase (~2 min)
    python -m bench.federation_bench --parts search   # only the federated search
    python -m bench.federation_bench --backends sqlite --count 20000

**Harvest.** The fake CKAN 2.10 portal of the tests (``tests.federation.fakes.FakeCkan``, over
``ckan_package(0 … count-1)``) runs in its own process (``python -m bench.federation_peer
ckan``). Into a fresh citydata database (SQLite file; PostgreSQL: a fresh schema, dropped at
the end), in this process: ``add_source`` + ``run_harvest`` — the first harvest (everything
new), a re-harvest with nothing changed (incremental: the default), and one with
``full=True`` (every record fetched and compared, none changed). The raw cost in the same run:
the adapter alone (``CkanSource.listing()`` and ``records(None)`` consumed, no database) — the
floor the import sits on (the harvester fetches the next pages in a thread while it imports).

**Federated search.** A registry and 5 owner nodes, each ``python -m citydata.cli serve`` in its
own process on its own SQLite database, seeded through the library (migrate, organisation,
datasets, node key, invites) and joined with ``nodes.join`` against the served registry, which
then harvests each. One owner (southwark) sits behind a delaying proxy (``python -m
bench.federation_peer proxy``) and joins with the proxy's URL as its site URL, so the registry
stores and asks that URL. Sequential ``/api/v1/federation/search?q=…`` requests (one keep-alive
client, q cycling over 6 words), client-side latency; phases: a direct ``package_search`` at one
fast node and at the registry (its harvested index alone); the registry with only the 4 fast
nodes (before southwark joins); the registry with all 5 healthy (proxy delay 0) — 200 searches
each; the registry with southwark 2 s slow (100 searches: each one waits out the deadline). The
deadline is the registry's default (``federation_search_deadline_seconds``) unless
``--deadline-ms`` is given.

Prints the tables and writes ``bench/results/federation-<date>.json`` and
``bench/results/latest-federation.md`` (``--quick``: ``…-quick``). Nothing asserts a timing;
targets are reported as met or MISSED.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.console import parse_backends, pg_base_url, print_server_logs, print_table
from bench.load import pg_create_schema, pg_drop_schema, pg_schema_name, pg_schema_url
from bench.machine import machine_info
from bench.measure import http_latency, summarise
from bench.servers import HOST, free_port, run_server

RESULTS = Path(__file__).parent / "results"
TARGETS = {"harvest_datasets_per_s": 500.0, "reharvest_ratio": 0.10, "search_p95_over_ms": 100.0}
SOURCE = "fake-ckan"
SLOW = "southwark"
OWNERS = [  # name, title, GSS code
    ("camden", "London Borough of Camden", "E09000007"),
    ("hackney", "London Borough of Hackney", "E09000012"),
    ("islington", "London Borough of Islington", "E09000019"),
    ("lambeth", "London Borough of Lambeth", "E09000022"),
    (SLOW, "London Borough of Southwark", "E09000028"),
]
TOPICS = [  # slug, title, notes, tags
    ("street-trees", "street trees", "Every street tree the council maintains, with species "
     "and height.", ["trees", "environment"]),
    ("parking-permits", "parking permits and bays", "Controlled parking zones, permits issued "
     "and bays by ward.", ["parking", "transport"]),
    ("air-quality", "air quality monitoring", "Hourly NO2 and PM2.5 from the council's air "
     "quality monitoring sites.", ["air quality", "environment"]),
    ("planning", "planning applications", "Planning applications received and decided, with "
     "addresses.", ["planning", "development"]),
    ("schools", "schools and nurseries", "Locations and places of schools and nurseries.",
     ["education", "schools"]),
    ("cycling", "cycle lanes and cycle parking", "Cycle lanes, hangars and stands.",
     ["cycling", "transport"]),
]
WORDS = ["trees", "parking", "air quality", "planning", "schools", "cycle"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.federation_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=50_000, help="datasets at the CKAN source")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--parts", default="harvest,search", help="harvest, search or both")
    p.add_argument("--searches", type=int, default=200,
                   help="timed searches per phase with every node healthy")
    p.add_argument("--slow-searches", type=int, default=100,
                   help="timed searches with the slow node (each waits out the deadline)")
    p.add_argument("--node-datasets", type=int, default=30, help="datasets at each owner node")
    p.add_argument("--slow-delay", type=float, default=2.0, help="seconds the proxy waits")
    p.add_argument("--deadline-ms", type=int, default=None,
                   help="deadline_ms of each search (default: the registry's setting)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="also profile (cProfile) a first harvest of N datasets on SQLite, "
                        "after the measured runs; the top functions go into the JSON")
    p.add_argument("--quick", action="store_true", help="5,000 datasets, 40 searches per phase")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.backends = parse_backends(p, args.backends)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if not args.parts or set(args.parts) - {"harvest", "search"}:
        p.error("--parts: harvest, search or harvest,search")
    if args.quick:
        args.count, args.searches = min(args.count, 5_000), min(args.searches, 40)
        args.slow_searches = min(args.slow_searches, 40)
    return args


def log(msg: str) -> None:
    print(f"[federation-bench {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------- harvest


@contextlib.contextmanager
def ckan_portal(count: int, work: Path) -> Iterator[str]:
    """The fake CKAN portal with ``count`` packages in its own process; yields its URL."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    cmd = [sys.executable, "-m", "bench.federation_peer", "ckan", "--port", str(port),
           "--count", str(count)]
    with run_server(cmd, f"{base}/api/3/action/status_show", work / "fake-ckan.log",
                    timeout=300):
        yield base


def _limits() -> Any:
    from citydata.federation.fetch import Limits
    from citydata.settings import Settings

    s = Settings(env="dev", postcodes="none")
    return Limits(max_bytes=s.harvest_max_bytes, timeout=s.harvest_timeout_seconds,
                  max_pages=s.harvest_max_pages)


def adapter_alone(base: str, count: int) -> dict[str, Any]:
    """The adapter's cost without a database: what the harvester's fetch side does."""
    from citydata.federation.ckan_source import CkanSource
    from citydata.federation.fetch import Fetcher
    from citydata.federation.records import HarvestRecord

    with Fetcher(_limits()) as fetcher:
        source = CkanSource(base, fetcher)
        t0 = time.perf_counter()
        listed = sum(1 for _ in source.listing())
        t1 = time.perf_counter()
        records = sum(1 for r in source.records(None) if isinstance(r, HarvestRecord))
        t2 = time.perf_counter()
    total = t2 - t0
    return {"listed": listed, "records": records, "listing_seconds": round(t1 - t0, 3),
            "records_seconds": round(t2 - t1, 3), "seconds": round(total, 3),
            "datasets_per_s": round(count / total, 1),
            "ok": listed == count and records == count}


def _platform(url: str, home: Path) -> Any:
    from citydata.platform import Platform
    from citydata.settings import Settings

    return Platform(Settings(env="dev", home=home, database_url=url, postcodes="none"))


def _fresh_source(platform: Any, base: str) -> None:
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.organizations import create_organization
    from citydata.federation.harvest import add_source
    from citydata.storage.migrate import upgrade

    upgrade(platform.db)
    with platform.db.session() as s:
        create_organization(s, Actor.system(), {"name": "london-datastore", "kind": "gla",
                                                "title": "London Datastore (harvested)"})
        ctx = Ctx(s, Actor.system(), platform.settings, platform.files)
        add_source(ctx, {"name": SOURCE, "kind": "ckan", "url": base,
                         "organization": "london-datastore", "title": "Fake CKAN 2.10"})


REPORT_KEYS = ("status", "incremental", "added", "updated", "unchanged", "withdrawn",
               "skipped", "errors", "message")


def harvest_backend(backend: str, url: str, home: Path, base: str,
                    count: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from citydata.federation.harvest import run_harvest
    from citydata.storage.models import Dataset

    platform = _platform(url, home)
    out: dict[str, Any] = {}
    try:
        _fresh_source(platform, base)
        for label, full in (("first", False), ("incremental", False), ("full", True)):
            t0 = time.perf_counter()
            report = run_harvest(platform, SOURCE, full=full)
            took = time.perf_counter() - t0
            run = {"seconds": round(took, 3), "datasets_per_s": round(count / took, 1),
                   **{k: report[k] for k in REPORT_KEYS}}
            expected = {"first": {"added": count},
                        "incremental": {"added": 0, "updated": 0, "withdrawn": 0},
                        "full": {"unchanged": count, "added": 0, "updated": 0}}[label]
            run["ok"] = report["status"] == "finished" and report["errors"] == 0 and all(
                report[k] == v for k, v in expected.items())
            out[label] = run
            log(f"  {backend} {label}: {took:.1f} s ({count / took:,.0f} datasets/s) — "
                + ", ".join(f"{k} {report[k]}" for k in ("status", "added", "updated",
                                                         "unchanged", "errors")))
            if label == "first" and report["status"] != "finished":
                raise RuntimeError(f"the first harvest failed: {report['message']}")
        with platform.db.session() as s:
            out["active_datasets"] = int(s.scalar(select(func.count()).select_from(Dataset)
                                                  .where(Dataset.state == "active")) or 0)
    finally:
        platform.close()
    first = out["first"]["seconds"]
    for label in ("incremental", "full"):
        out[label]["ratio_to_first"] = round(out[label]["seconds"] / first, 4)
    return out


def profile_first_harvest(base: str, work: Path) -> dict[str, Any]:
    """cProfile of the harvest's own thread (the import side; the fetch thread is not in it)."""
    from citydata.federation.harvest import run_harvest

    home = work / "profile"
    platform = _platform(f"sqlite:///{home / 'citydata.db'}", home)
    try:
        _fresh_source(platform, base)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        report = run_harvest(platform, SOURCE)
        prof.disable()
        took = time.perf_counter() - t0
    finally:
        platform.close()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(35)
    text = buf.getvalue()
    log(f"profiled harvest of {report['added']} datasets: {took:.1f} s under cProfile\n{text}")
    return {"datasets": report["added"], "seconds_under_profiler": round(took, 2),
            "top_cumulative": text}


def run_harvests(args: argparse.Namespace, work: Path, pg_base: str) -> dict[str, Any]:
    out: dict[str, Any] = {"backends": {}}
    log(f"starting the fake CKAN portal with {args.count:,} packages (own process)")
    with ckan_portal(args.count, work) as base:
        out["adapter_alone"] = raw = adapter_alone(base, args.count)
        log(f"  adapter alone: listing {raw['listing_seconds']} s, records "
            f"{raw['records_seconds']} s ({raw['datasets_per_s']:,.0f} datasets/s)")
        for backend in args.backends:
            log(f"{backend}: harvesting {args.count:,} datasets into a fresh database")
            if backend == "sqlite":
                home = work / "harvest-sqlite"
                out["backends"]["sqlite"] = harvest_backend(
                    "sqlite", f"sqlite:///{home / 'citydata.db'}", home, base, args.count)
            else:
                schema = pg_schema_name()
                pg_create_schema(pg_base, schema)
                try:
                    out["backends"]["postgresql"] = harvest_backend(
                        "postgresql", pg_schema_url(pg_base, schema), work / "harvest-pg",
                        base, args.count)
                finally:
                    pg_drop_schema(pg_base, schema)
    if args.profile:
        log(f"profiling a first harvest of {args.profile:,} datasets (SQLite, own portal)")
        with ckan_portal(args.profile, work) as base:
            out["profile"] = profile_first_harvest(base, work)
    return out


# ------------------------------------------------------------------------------- search


@dataclass
class Node:
    name: str
    title: str
    gss: str
    port: int
    home: Path
    public_url: str = ""  # what it calls itself (and registers): the proxy's URL if slow

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def settings(self) -> Any:
        from citydata.settings import Settings

        return Settings(env="dev", home=self.home, site_url=self.public_url or self.url,
                        node_name=self.name, postcodes="none", site_title=f"{self.title} data")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"CITYDATA_ENV": "dev", "CITYDATA_HOME": str(self.home),
                    "CITYDATA_SITE_URL": self.public_url or self.url,
                    "CITYDATA_NODE_NAME": self.name, "CITYDATA_POSTCODES": "none",
                    "CITYDATA_JOBS_INTERVAL_SECONDS": "0",
                    "CITYDATA_SITE_TITLE": f"{self.title} data"})
        env.pop("CITYDATA_DATABASE_URL", None)
        return env


def seed_owner(node: Node, n: int) -> None:
    from citydata.access.actors import Actor
    from citydata.access.keys import create_key
    from citydata.catalog.context import Ctx
    from citydata.catalog.datasets import create_dataset
    from citydata.catalog.organizations import create_organization
    from citydata.platform import Platform
    from citydata.storage.migrate import upgrade

    node.home.mkdir(parents=True, exist_ok=True)
    platform = Platform(node.settings())
    short = node.title.rsplit(" ", 1)[-1]
    try:
        upgrade(platform.db)
        system = Actor.system()
        with platform.db.session() as s:
            create_organization(s, system, {"name": node.name, "title": node.title,
                                            "kind": "borough", "gss_code": node.gss})
            ctx = Ctx(s, system, platform.settings, platform.files)
            for i in range(n):
                slug, title, notes, tags = TOPICS[i % len(TOPICS)]
                year = 2015 + i // len(TOPICS)
                create_dataset(ctx, {
                    "name": f"{node.name}-{slug}-{year}", "owner_org": node.name,
                    "title": f"{short} {title} {year}", "notes": f"{notes} {node.title}.",
                    "tags": tags, "boroughs": [node.gss], "license_id": "OGL-UK-3.0",
                    "resources": [{"name": f"{title} {year} (CSV)", "format": "CSV",
                                   "url": f"https://data.{node.name}.example.gov.uk/"
                                          f"{slug}-{year}.csv"}]})
        create_key(platform.settings)
    finally:
        platform.close()


def seed_registry(node: Node, owners: list[Node]) -> dict[str, str]:
    from citydata.access.actors import Actor
    from citydata.access.keys import create_key
    from citydata.catalog.context import Ctx
    from citydata.catalog.organizations import create_organization
    from citydata.federation.nodes import invite
    from citydata.platform import Platform
    from citydata.storage.migrate import upgrade

    node.home.mkdir(parents=True, exist_ok=True)
    platform = Platform(node.settings())
    codes = {}
    try:
        upgrade(platform.db)
        system = Actor.system()
        with platform.db.session() as s:
            create_organization(s, system, {"name": "gla", "title": node.title, "kind": "gla"})
            ctx = Ctx(s, system, platform.settings, platform.files)
            for o in owners:
                create_organization(s, system, {"name": o.name, "title": o.title,
                                                "kind": "borough", "gss_code": o.gss})
                codes[o.name] = invite(ctx, o.name, o.name)
        create_key(platform.settings)
    finally:
        platform.close()
    return codes


def join_and_harvest(owner: Node, registry: Node, code: str) -> dict[str, Any]:
    from citydata.federation.harvest import run_harvest
    from citydata.federation.nodes import join
    from citydata.platform import Platform

    platform = Platform(owner.settings())
    try:
        join(platform.db, platform.settings, registry.url, code)
    finally:
        platform.close()
    platform = Platform(registry.settings())
    try:
        report = run_harvest(platform, f"node-{owner.name}")
    finally:
        platform.close()
    if report["status"] != "finished":
        raise RuntimeError(f"the registry's harvest of {owner.name} failed: {report['message']}")
    return {k: report[k] for k in ("status", "added", "errors")}


def serve_node(stack: ExitStack, node: Node, log_dir: Path) -> None:
    cmd = [sys.executable, "-m", "citydata.cli", "serve", "--host", HOST, "--port",
           str(node.port)]
    stack.enter_context(run_server(cmd, f"{node.url}/api/v1/federation/node",
                                   log_dir / f"{node.name}-server.log", env=node.env()))


def registry_searches(base: str, n: int, deadline_ms: int | None, slow: str | None,
                      warmup: int = 5) -> dict[str, Any]:
    """Sequential federated searches; latency measured by the client, answers checked after."""
    took: list[float] = []
    answers: list[dict[str, Any]] = []
    errors = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(warmup + n):
            params: dict[str, Any] = {"q": WORDS[i % len(WORDS)]}
            if deadline_ms is not None:
                params["deadline_ms"] = deadline_ms
            t0 = time.perf_counter()
            resp = client.get("/api/v1/federation/search", params=params)
            elapsed = time.perf_counter() - t0
            if i < warmup:
                continue
            took.append(elapsed)
            if resp.status_code != 200:
                errors += 1
                continue
            answers.append(resp.json())
    statuses: dict[str, dict[str, int]] = {}
    for a in answers:
        for node in a["nodes"]:
            per = statuses.setdefault(node["name"], {})
            per[node["status"]] = per.get(node["status"], 0) + 1
    lat = summarise(took, errors).as_dict()
    fast_ok = sum(v.get("ok", 0) for k, v in statuses.items() if k != slow)
    fast_asked = sum(sum(v.values()) for k, v in statuses.items() if k != slow)
    return {
        **lat,
        "deadline_ms": answers[0]["deadline_ms"] if answers else None,
        "server_took_ms_p50": sorted(a["took_ms"] for a in answers)[len(answers) // 2]
        if answers else None,
        "results_mean": round(sum(a["count"] for a in answers) / len(answers), 1)
        if answers else 0,
        "node_statuses": statuses,
        "fast_nodes_ok": f"{fast_ok}/{fast_asked}",
        "slow_timeouts": statuses.get(slow, {}).get("timeout", 0) if slow else None,
        "answers": len(answers),
    }


def set_delay(proxy: str, seconds: float) -> None:
    r = httpx.get(f"{proxy}/__proxy/delay", params={"seconds": seconds}, timeout=5)
    r.raise_for_status()


def run_search(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    root = work / "nodes"
    registry = Node("registry", "Greater London Authority city data registry", "", free_port(),
                    root / "registry")
    owners = [Node(name, title, gss, free_port(), root / name) for name, title, gss in OWNERS]
    slow = next(o for o in owners if o.name == SLOW)
    fast = [o for o in owners if o is not slow]
    proxy_port = free_port()
    proxy = f"http://{HOST}:{proxy_port}"
    slow.public_url = proxy
    log(f"seeding a registry and {len(owners)} owner nodes ({args.node_datasets} datasets "
        "each, SQLite)")
    for o in owners:
        seed_owner(o, args.node_datasets)
    codes = seed_registry(registry, owners)
    out: dict[str, Any] = {"nodes": {o.name: {"url": o.url, "registered_url": o.public_url
                                              or o.url} for o in owners},
                           "slow_node": SLOW, "slow_delay_s": args.slow_delay,
                           "deadline_ms_param": args.deadline_ms, "words": WORDS,
                           "node_datasets": args.node_datasets, "phases": {}}
    with ExitStack() as stack:
        log("serving the registry, 5 owners (citydata serve) and the proxy in front of "
            f"{SLOW}")
        for node in (registry, *owners):
            serve_node(stack, node, work)
        stack.enter_context(run_server(
            [sys.executable, "-m", "bench.federation_peer", "proxy", "--port", str(proxy_port),
             "--upstream", slow.url, "--delay", "0"],
            f"{proxy}/__proxy/ready", work / "proxy.log"))
        harvested = {}
        for o in fast:
            harvested[o.name] = join_and_harvest(o, registry, codes[o.name])
        log(f"  4 fast owners joined and harvested: {harvested}")
        phases = out["phases"]
        direct = [f"/api/3/action/package_search?q={w.replace(' ', '+')}&rows=20"
                  for w in WORDS]
        lat = http_latency(fast[0].url, direct, n=args.searches, warmup=5, budget_s=120,
                           check=lambda r: r.json()["result"]["count"] > 0)
        phases["direct_one_node"] = {**lat.as_dict(), "node": fast[0].name}
        log(f"  direct package_search at {fast[0].name}: p50 {lat.p50_ms:.1f} ms, "
            f"p95 {lat.p95_ms:.1f} ms")
        lat = http_latency(registry.url, direct, n=args.searches, warmup=5, budget_s=120,
                           check=lambda r: r.json()["result"]["count"] > 0)
        phases["registry_index_only"] = lat.as_dict()
        log(f"  package_search at the registry (its harvested index): p50 {lat.p50_ms:.1f} ms, "
            f"p95 {lat.p95_ms:.1f} ms")
        phases["registry_4_fast"] = r4 = registry_searches(registry.url, args.searches,
                                                           args.deadline_ms, None)
        log(f"  registry, 4 fast nodes: p50 {r4['p50_ms']:.1f} ms, p95 {r4['p95_ms']:.1f} ms, "
            f"nodes ok {r4['fast_nodes_ok']}")
        harvested[SLOW] = join_and_harvest(slow, registry, codes[SLOW])
        with httpx.Client(timeout=10) as c:
            known = {n["name"]: n["url"] for n in
                     c.get(f"{registry.url}/api/v1/federation/nodes").json()["results"]}
        out["registry_knows"] = known
        out["harvested"] = harvested
        if known.get(SLOW) != proxy:
            raise RuntimeError(f"the registry stored {known.get(SLOW)!r} for {SLOW}, not the "
                               f"proxy {proxy}")
        log(f"  {SLOW} joined as {proxy} (proxy → {slow.url}) and was harvested through it")
        phases["registry_5_healthy"] = r5 = registry_searches(registry.url, args.searches,
                                                              args.deadline_ms, SLOW)
        log(f"  registry, 5 nodes healthy (proxy delay 0): p50 {r5['p50_ms']:.1f} ms, "
            f"p95 {r5['p95_ms']:.1f} ms")
        set_delay(proxy, args.slow_delay)
        phases["registry_5_one_slow"] = rs = registry_searches(registry.url, args.slow_searches,
                                                               args.deadline_ms, SLOW)
        set_delay(proxy, 0)
        log(f"  registry, {SLOW} {args.slow_delay:g} s slow: p50 {rs['p50_ms']:.1f} ms, "
            f"p95 {rs['p95_ms']:.1f} ms, p99 {rs['p99_ms']:.1f} ms, {SLOW} timeout "
            f"{rs['slow_timeouts']}/{rs['answers']}, fast nodes ok {rs['fast_nodes_ok']}")
    return out


# ------------------------------------------------------------------------------- report

H_HEADERS = ["backend", "harvest", "seconds", "datasets/s", "vs first", "target", "verdict",
             "job report"]
S_HEADERS = ["search", "n", "p50 ms", "p95 ms", "p99 ms", "target", "verdict", "nodes"]


def _counts(run: dict[str, Any]) -> str:
    keys = ("added", "updated", "unchanged", "withdrawn", "errors")
    text = ", ".join(f"{k} {run[k]}" for k in keys if run[k] or k in ("added", "errors"))
    return text + ("" if run["ok"] else " (NOT as expected)")


def harvest_rows(result: dict[str, Any]) -> list[list[str]]:
    h = result.get("harvest")
    if not h:
        return []
    count = result["config"]["count"]
    rows = []
    for backend, b in h["backends"].items():
        first, inc, full = b["first"], b["incremental"], b["full"]
        rate = first["datasets_per_s"]
        rows.append([backend, f"first harvest, {count:,} new", f"{first['seconds']:.1f}",
                     f"{rate:,.0f}", "", f">= {TARGETS['harvest_datasets_per_s']:g}/s",
                     "met" if rate >= TARGETS["harvest_datasets_per_s"] else "MISSED",
                     _counts(first)])
        ratio = inc["ratio_to_first"]
        rows.append([backend, "re-harvest, nothing changed (incremental)",
                     f"{inc['seconds']:.2f}", "", f"{100 * ratio:.1f} %",
                     f"< {100 * TARGETS['reharvest_ratio']:g} %",
                     "met" if ratio < TARGETS["reharvest_ratio"] else "MISSED", _counts(inc)])
        rows.append([backend, "re-harvest full=True, all compared, none changed",
                     f"{full['seconds']:.1f}", f"{full['datasets_per_s']:,.0f}",
                     f"{100 * full['ratio_to_first']:.1f} %", "", "", _counts(full)])
    raw = h["adapter_alone"]
    rows.append(["(none)", "raw: adapter alone, listing + records(None), no database",
                 f"{raw['seconds']:.1f}", f"{raw['datasets_per_s']:,.0f}", "", "", "",
                 f"listing {raw['listing_seconds']:.1f} s ({raw['listed']:,}), records "
                 f"{raw['records_seconds']:.1f} s ({raw['records']:,})"])
    return rows


def search_rows(result: dict[str, Any]) -> list[list[str]]:
    s = result.get("search")
    if not s:
        return []
    p = s["phases"]
    d = p["direct_one_node"]
    rows = [[f"raw: package_search at one fast node ({d['node']}), direct", str(d["n"]),
             f"{d['p50_ms']:.1f}", f"{d['p95_ms']:.1f}", f"{d['p99_ms']:.1f}", "", "",
             f"errors {d['errors']}"]]
    i = p.get("registry_index_only")
    if i:
        rows.append(["raw: package_search at the registry (its harvested index only)",
                     str(i["n"]), f"{i['p50_ms']:.1f}", f"{i['p95_ms']:.1f}",
                     f"{i['p99_ms']:.1f}", "", "", f"errors {i['errors']}"])
    for key, label in (("registry_4_fast", "raw: registry, only the 4 fast nodes (before "
                        f"{SLOW} joined)"),
                       ("registry_5_healthy", "registry, 5 nodes, all healthy (proxy delay 0)"),
                       ("registry_5_one_slow", f"registry, 5 nodes, {SLOW} "
                        f"{s['slow_delay_s']:g} s slow")):
        r = p[key]
        target = verdict = ""
        nodes = f"fast nodes ok {r['fast_nodes_ok']}"
        if key != "registry_4_fast":
            nodes += f"; {SLOW} " + ", ".join(f"{k} {v}" for k, v in
                                               sorted(r["node_statuses"].get(SLOW, {}).items()))
        if key == "registry_5_one_slow":
            limit = r["deadline_ms"] + TARGETS["search_p95_over_ms"]
            target = f"p95 < {limit:g} (deadline {r['deadline_ms']} + 100)"
            verdict = "met" if r["p95_ms"] < limit else "MISSED"
        rows.append([label, str(r["n"]), f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                     f"{r['p99_ms']:.1f}", target, verdict, nodes + f"; errors {r['errors']}"])
    return rows


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *["| " + " | ".join(r) + " |" for r in rows]]


def markdown(result: dict[str, Any]) -> str:
    c, m = result["config"], result["machine"]
    lines = [f"# Federation benchmark — {result['started'][:10]}", "",
             f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), Python {m.get('python')}, "
             f"SQLite {m.get('sqlite')}, PostgreSQL {m.get('postgresql') or '-'}, httpx "
             f"{m.get('httpx')}, uvicorn {m.get('uvicorn')}; citydata "
             f"{m.get('citydata_commit')}{' (dirty tree)' if m.get('worktree_dirty') else ''}.",
             ""]
    if result.get("harvest"):
        lines += [f"## Harvest: {c['count']:,} datasets from a CKAN 2.10-shaped portal", "",
                  "The fake CKAN portal of the tests (`FakeCkan`, `ckan_package(i)`: 2 "
                  "resources, 2–3 tags, 2 extras each) in its own process on loopback; "
                  "`add_source` + `run_harvest` in the benchmark's process into a fresh "
                  "database. The raw row is the adapter alone (its JSON parsing and mapping, "
                  "no database): the harvester runs it in a fetch thread beside the import, "
                  "so it is the floor, not a part to add.", "",
                  *_table(H_HEADERS, harvest_rows(result)), ""]
    if result.get("search"):
        s = result["search"]
        lines += [f"## Federated search: registry + 5 owner nodes, {SLOW} "
                  f"{s['slow_delay_s']:g} s slow", "",
                  "Each node is `python -m citydata.cli serve` in its own process (SQLite, "
                  f"{s['node_datasets']} datasets per owner, all harvested by the registry). "
                  f"{SLOW} registered the URL of a proxy that waits before forwarding; the "
                  "all-healthy phase goes through the same proxy with no delay. One keep-alive "
                  f"client, sequential `/api/v1/federation/search?q=…` over {len(WORDS)} "
                  "words, latency measured by the client; deadline: "
                  + (f"`deadline_ms={s['deadline_ms_param']}`" if s["deadline_ms_param"]
                     else "the registry's default `federation_search_deadline_seconds`")
                  + ".", "", *_table(S_HEADERS, search_rows(result)), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    pg_base = pg_base_url()
    work = Path(tempfile.mkdtemp(prefix="citydata-fedbench-"))
    wants_pg = "harvest" in args.parts and "postgresql" in args.backends
    result: dict[str, Any] = {
        "benchmark": "federation", "started": started.isoformat(timespec="seconds"),
        "config": {k: getattr(args, k) for k in (
            "count", "backends", "parts", "searches", "slow_searches", "node_datasets",
            "slow_delay", "deadline_ms", "quick")},
        "targets": TARGETS,
    }
    try:
        result["machine"] = machine_info(pg_base if wants_pg else None)
        if "harvest" in args.parts:
            result["harvest"] = run_harvests(args, work, pg_base)
        if "search" in args.parts:
            result["search"] = run_search(args, work)
    except BaseException:
        print_server_logs(work, log)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    stamp = started.strftime("%Y-%m-%d")
    json_path = args.output / f"federation-{stamp}{suffix}.json"
    md_path = args.output / f"latest-federation{suffix}.md"
    json_path.write_text(json.dumps(result, indent=2))
    md_path.write_text(markdown(result))
    if result.get("harvest"):
        print_table(f"citydata harvest benchmark — {args.count:,} datasets", H_HEADERS,
                    harvest_rows(result), right=("seconds", "/s", "first"))
    if result.get("search"):
        print_table("citydata federated search — registry + 5 nodes, one slow", S_HEADERS,
                    search_rows(result), right=("ms", "n"))
    log(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

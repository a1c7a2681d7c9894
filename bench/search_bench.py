"""package_search / package_show benchmark on SQLite and PostgreSQL, with Datasette as a peer.

    python -m bench.search_bench                 # 100,000 datasets, both backends (make bench)
    python -m bench.search_bench --quick         # 5,000 datasets, shorter phases
    python -m bench.search_bench --backends sqlite --datasets 20000

Generates a seeded London catalog, bulk-loads it into the real migrated tables, serves it with
the real app under uvicorn on loopback, and times requests with httpx. The same query is timed
in-process (no HTTP) and per SQL statement, and Datasette serves the same rows from a copy of
the SQLite file. Prints a table and writes JSON + Markdown to ``bench/results/``. Nothing here
asserts a timing; the targets are reported as met or missed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import load, report
from bench.console import parse_backends, pg_base_url
from bench.generate import GENERATOR_VERSION, Catalog, generate
from bench.machine import machine_info
from bench.measure import call_latency, http_latency, http_throughput
from bench.servers import citydata_server, datasette_server
from bench.sqlprofile import profile_search
from bench.vocabulary import BROAD_WORD, QUERY_WORDS

FACETS = ["organization", "tags", "res_format", "license_id", "theme", "borough", "access_level"]
DATASETTE_FACETS = [("_facet", "owner_org"), ("_facet", "license_id"), ("_facet", "access_level"),
                    ("_facet_array", "tags"), ("_facet_array", "themes"),
                    ("_facet_array", "boroughs"), ("_facet_array", "formats")]
RESULTS = Path(__file__).parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.search_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=int, default=100_000, help="catalog size (default 100000)")
    p.add_argument("--quick", action="store_true",
                   help="5000 datasets and short phases, for development")
    p.add_argument("--backends", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--requests", type=int, default=300, help="timed package_search requests")
    p.add_argument("--concurrency", type=int, default=16, help="clients for the req/s phase")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per req/s phase")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--no-datasette", action="store_true", help="skip the Datasette peer")
    p.add_argument("--no-cache", action="store_true", help="rebuild the cached SQLite catalog")
    p.add_argument("--cache-dir", type=Path, default=Path(os.environ.get(
        "CITYDATA_BENCH_CACHE", Path.home() / ".cache" / "citydata-bench")))
    p.add_argument("--output", type=Path, default=RESULTS, help="where results are written")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets = 5000
        args.requests = min(args.requests, 100)
        args.duration = min(args.duration, 3.0)
    args.backends = parse_backends(p, args.backends)
    return args


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- requests ----------------------------------------------------------------------------------
def search_path(word: str) -> str:
    return "/api/3/action/package_search?" + urlencode(
        {"q": word, "facet.field": json.dumps(FACETS), "rows": 10})


def datasette_path(db_name: str, word: str) -> str:
    params = [("_search", word), *DATASETTE_FACETS, ("state", "active"),
              ("access_level__not", "private"), ("_size", "10")]
    return f"/{db_name}/datasets.json?" + urlencode(params)


def ckan_ok(resp: Any) -> bool:
    return bool(resp.json().get("success"))


# -- phases ------------------------------------------------------------------------------------
def sqlite_catalog(args: argparse.Namespace, cat: Catalog, workdir: Path) -> tuple[Path, dict]:
    """The loaded SQLite file (from the cache when it matches generator, seed, size, schema)."""
    from citydata.storage.migrate import head_revision

    key = f"catalog-g{GENERATOR_VERSION}-s{args.seed}-n{args.datasets}-m{head_revision()}.db"
    cached = args.cache_dir / key
    info: dict[str, Any] = {"cache": str(cached)}
    if args.no_cache or not cached.exists():
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = workdir / "building.db"
        t0 = time.perf_counter()
        load.load_sqlite(tmp, cat)
        info["load_s"] = round(time.perf_counter() - t0, 1)
        shutil.move(tmp, cached)
        info["cached"] = False
    else:
        info["cached"] = True
    # The server writes (WAL, sessions): run it on a copy so the cache stays pristine.
    target = workdir / "citydata.db"
    shutil.copy(cached, target)
    return target, info


def run_citydata(backend: str, url: str, cat: Catalog, args: argparse.Namespace,
                 home: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    log(f"{backend}: checking the bulk index against index_dataset")
    out["index_check"] = load.verify_index(url)
    names = random.Random(args.seed).sample(cat.public_names, min(300, len(cat.public_names)))
    search_paths = [search_path(w) for w in QUERY_WORDS]
    show_paths = ["/api/3/action/package_show?" + urlencode({"id": n}) for n in names]
    n_search = args.requests
    with citydata_server(url, home) as base:
        log(f"{backend}: server up at {base}")
        out["matches"] = {}
        import httpx

        for w in [*QUERY_WORDS, BROAD_WORD]:
            body = httpx.get(base + search_path(w), timeout=120).json()
            out["matches"][w] = body["result"]["count"]
        log(f"{backend}: package_search latency ({n_search} requests)")
        out["search_http"] = http_latency(base, search_paths, n=n_search, warmup=len(QUERY_WORDS),
                                          budget_s=60, check=ckan_ok).as_dict()
        log(f"{backend}: package_search, broad word {BROAD_WORD!r}")
        out["search_broad_http"] = http_latency(
            base, [search_path(BROAD_WORD)], n=max(10, n_search // 10), warmup=1, budget_s=30,
            check=ckan_ok).as_dict()
        log(f"{backend}: package_show latency")
        out["show_http"] = http_latency(base, show_paths, n=2 * n_search, warmup=20, budget_s=45,
                                        check=ckan_ok).as_dict()
        log(f"{backend}: package_search req/s, {args.concurrency} clients, {args.duration}s")
        out["search_rps"] = http_throughput(base, search_paths, concurrency=args.concurrency,
                                            duration_s=args.duration)
        log(f"{backend}: package_show req/s")
        out["show_rps"] = http_throughput(base, show_paths, concurrency=args.concurrency,
                                          duration_s=args.duration)
    log(f"{backend}: in-process engine cost (no HTTP)")
    out.update(run_in_process(url, home, QUERY_WORDS, names, n_search))
    return out


def run_in_process(url: str, home: Path, words: list[str], names: list[str],
                   n: int) -> dict[str, Any]:
    from citydata.access.actors import Actor
    from citydata.api import ckan
    from citydata.catalog import datasets
    from citydata.catalog.context import Ctx
    from citydata.catalog.search import search_datasets
    from citydata.platform import Platform
    from citydata.settings import Settings

    platform = Platform(Settings(env="dev", home=home / "inproc", database_url=url,
                                 postcodes="none"))
    anon = Actor.anonymous()
    facet_json = json.dumps(FACETS)

    def engine(word: str) -> None:
        with platform.db.session() as s:
            search_datasets(s, anon, q=word, rows=10, facet_fields=FACETS)

    def action(word: str) -> None:
        with platform.db.session() as s:
            ctx = Ctx(s, anon, platform.settings, platform.files)
            ckan.package_search(ctx, {"q": word, "facet.field": facet_json, "rows": "10"}, {})

    def show(name: str) -> None:
        with platform.db.session() as s:
            datasets.show_dataset(Ctx(s, anon, platform.settings, platform.files), name)

    try:
        return {
            "search_engine": call_latency(engine, words, n=n // 2, warmup=len(words),
                                          budget_s=30).as_dict(),
            "search_action": call_latency(action, words, n=n // 2, warmup=len(words),
                                          budget_s=30).as_dict(),
            "show_action": call_latency(show, names, n=n, warmup=20, budget_s=20).as_dict(),
            "profile": profile_search(platform.db, "crime", FACETS, runs=10),
            "profile_broad": profile_search(platform.db, BROAD_WORD, FACETS, runs=3),
        }
    finally:
        platform.close()


def run_datasette(sqlite_path: Path, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    copy = workdir / "bench.db"
    t0 = time.perf_counter()
    load.make_datasette_copy(sqlite_path, copy)
    out: dict[str, Any] = {"prepare_s": round(time.perf_counter() - t0, 1)}
    paths = [datasette_path(copy.stem, w) for w in QUERY_WORDS]
    with datasette_server(copy, workdir) as base:
        log(f"datasette: up at {base}")
        import httpx

        out["matches"] = {}
        for w in [*QUERY_WORDS, BROAD_WORD]:
            body = httpx.get(base + datasette_path(copy.stem, w), timeout=120).json()
            out["matches"][w] = body.get("filtered_table_rows_count")
            timed_out = body.get("facets_timed_out") or []
            if timed_out:
                out.setdefault("facets_timed_out", {})[w] = timed_out
        log(f"datasette: search latency ({args.requests} requests)")
        out["search_http"] = http_latency(base, paths, n=args.requests, warmup=len(paths),
                                          budget_s=60).as_dict()
        out["search_broad_http"] = http_latency(
            base, [datasette_path(copy.stem, BROAD_WORD)], n=max(10, args.requests // 10),
            warmup=1, budget_s=30).as_dict()
        log(f"datasette: search req/s, {args.concurrency} clients")
        out["search_rps"] = http_throughput(base, paths, concurrency=args.concurrency,
                                            duration_s=args.duration)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    pg_base = pg_base_url()
    workdir = Path(tempfile.mkdtemp(prefix="citydata-bench-"))
    result: dict[str, Any] = {
        "benchmark": "search",
        "started": started.isoformat(timespec="seconds"),
        "config": {"datasets": args.datasets, "seed": args.seed, "requests": args.requests,
                   "concurrency": args.concurrency, "duration_s": args.duration,
                   "facets": FACETS, "query_words": QUERY_WORDS, "broad_word": BROAD_WORD,
                   "generator_version": GENERATOR_VERSION, "quick": args.quick},
        "backends": {},
    }
    schema = None
    try:
        result["machine"] = machine_info(pg_base if "postgresql" in args.backends else None)
        log(f"generating {args.datasets} datasets (seed {args.seed})")
        t0 = time.perf_counter()
        cat = generate(args.datasets, args.seed)
        result["config"]["generate_s"] = round(time.perf_counter() - t0, 1)
        result["config"]["rows"] = {t: len(rows) for t, _, rows in cat.tables()}
        sqlite_path, sqlite_info = sqlite_catalog(args, cat, workdir)
        log(f"sqlite catalog ready ({sqlite_info})")
        if "sqlite" in args.backends:
            res = run_citydata("sqlite", f"sqlite:///{sqlite_path}", cat, args,
                               workdir / "home-sqlite")
            res["load"] = sqlite_info
            result["backends"]["sqlite"] = res
        if not args.no_datasette:
            log("datasette: preparing a copy with JSON array columns and an FTS table")
            result["datasette"] = run_datasette(sqlite_path, workdir, args)
        if "postgresql" in args.backends:
            schema = load.pg_schema_name()
            url = load.pg_schema_url(pg_base, schema)
            load.pg_create_schema(pg_base, schema)
            log(f"postgresql: loading into schema {schema}")
            t0 = time.perf_counter()
            load.load_postgresql(url, cat)
            load_s = round(time.perf_counter() - t0, 1)
            res = run_citydata("postgresql", url, cat, args, workdir / "home-pg")
            res["load"] = {"load_s": load_s, "schema": schema}
            result["backends"]["postgresql"] = res
    finally:
        if schema:
            load.pg_drop_schema(pg_base, schema)
        shutil.rmtree(workdir, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    written = report.write(result, args.output)
    report.print_table(result)
    for path in written:
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

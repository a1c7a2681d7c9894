"""Governed sharing benchmark: what the policy and the audit log cost, on SQLite and PostgreSQL.

    python -m bench.governance_bench             # 200 k-row resource, 1 M-entry audit verify
    python -m bench.governance_bench --quick     # 50 k rows, 100 k-entry verify, short phases
    python -m bench.governance_bench --backends sqlite --requests 500

Builds a catalog through the real domain functions (users, organisations, the same CSV
published open and restricted, an approved data sharing agreement, an API token), serves it with
the real app under uvicorn on loopback and times ``datastore_search`` on both resources,
interleaved on one keep-alive client; the policy decision and the audit commit are timed
in-process as the explanation of the difference. Then ``audit.append`` throughput (batched and
one entry per transaction) against plain INSERTs of the same rows, and ``audit.verify`` over a
filled log against streaming the same rows. Prints a table and writes JSON + Markdown to
``bench/results/``. Nothing asserts a timing; targets are reported as met or MISSED.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import governance_audit as audit_phase
from bench import governance_report as report
from bench import governance_setup as setup
from bench.console import parse_backends, pg_base_url
from bench.load import pg_create_schema, pg_drop_schema, pg_schema_name, pg_schema_url
from bench.machine import machine_info
from bench.measure import call_latency, summarise
from bench.servers import HOST, citydata_server
from citydata.platform import Platform

RESULTS = Path(__file__).parent / "results"
PURPOSE_HEADER = "X-Citydata-Purpose"
PAGE_LIMIT = 100
#: Clients staging audit entries at once in the group-commit phase.
CONCURRENT = 16


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.governance_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000, help="rows of the published CSV")
    p.add_argument("--requests", type=int, default=300,
                   help="timed requests per resource and query (open and governed each)")
    p.add_argument("--append-entries", type=int, default=50_000,
                   help="entries for each append-throughput phase")
    p.add_argument("--stage-entries", type=int, default=5_000,
                   help="entries for the one-entry-per-transaction phase")
    p.add_argument("--verify-entries", type=int, default=1_000_000,
                   help="entries appended before timing audit verify")
    p.add_argument("--quick", action="store_true",
                   help="50k rows, 60 requests, 100k-entry verify, for development")
    p.add_argument("--backends", default="sqlite,postgresql",
                   help="comma-separated: sqlite, postgresql (default both)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--output", type=Path, default=RESULTS, help="where results are written")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows, 50_000)
        args.requests = min(args.requests, 60)
        args.append_entries = min(args.append_entries, 10_000)
        args.stage_entries = min(args.stage_entries, 1_000)
        args.verify_entries = min(args.verify_entries, 100_000)
    args.backends = parse_backends(p, args.backends)
    return args


def log(msg: str) -> None:
    print(f"[governance {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- HTTP: open and governed datastore_search, interleaved ---------------------------------------
QUERIES = {"filtered": {"filters": json.dumps({"age_band": setup.FILTER_AGE_BAND})},
           "unfiltered": {}}


def search_path(resource_id: str, extra: dict[str, str]) -> str:
    return "/api/3/action/datastore_search?" + urlencode(
        {"resource_id": resource_id, "limit": PAGE_LIMIT, **extra})


def _records(resp: Any, what: str) -> int:
    """The number of records, or a loud failure: a refused read must not be timed as a read."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200 or not body.get("success"):
        raise RuntimeError(f"{what}: HTTP {resp.status_code}: {resp.text[:500]}")
    return len(body["result"]["records"])


def interleaved(base: str, cat: setup.Catalog, *, n: int, warmup: int,
                budget_s: float) -> dict[str, Any]:
    """For each query, ``n`` open and ``n`` governed requests, alternating (and alternating
    which goes first) on one keep-alive client, so drift in the machine hits both alike."""
    import httpx

    governed_headers = {PURPOSE_HEADER: setup.PURPOSE}
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=60, headers={"Authorization": cat.token}) as client:
        for label, extra in QUERIES.items():
            sides = {"open": (search_path(cat.open_resource, extra), {}),
                     "governed": (search_path(cat.restricted_resource, extra), governed_headers)}
            expected = _records(client.get(sides["open"][0]), f"open {label}")
            if _records(client.get(sides["governed"][0], headers=governed_headers),
                        f"governed {label}") != expected:
                raise RuntimeError(f"governed {label}: record count differs from the open one")
            for _ in range(warmup):
                for path, headers in sides.values():
                    client.get(path, headers=headers)
            took: dict[str, list[float]] = {"open": [], "governed": []}
            deadline = time.monotonic() + budget_s
            for i in range(n):
                order = ("open", "governed") if i % 2 == 0 else ("governed", "open")
                for side in order:
                    path, headers = sides[side]
                    t0 = time.perf_counter()
                    resp = client.get(path, headers=headers)
                    took[side].append(time.perf_counter() - t0)
                    if _records(resp, f"{side} {label} #{i}") != expected:
                        raise RuntimeError(f"{side} {label} #{i}: {expected} records expected")
                if time.monotonic() > deadline:
                    break
            lat = {side: summarise(v).as_dict() for side, v in took.items()}
            out[label] = {**lat, "records": expected, "paths": {s: p for s, (p, _) in
                                                                 sides.items()},
                          "governed_reads": 1 + warmup + len(took["governed"]),
                          "ratio_p50": round(lat["governed"]["p50_ms"] / lat["open"]["p50_ms"],
                                             3)}
    return out


def phase_http(platform: Platform, url: str, home: Path, cat: setup.Catalog,
               args: argparse.Namespace, backend: str) -> dict[str, Any]:
    before = audit_phase.head_seq(platform)
    with citydata_server(url, home) as base:
        log(f"{backend}: server up at {base}; datastore_search open vs governed "
            f"({args.requests} each per query, interleaved)")
        out = interleaved(base, cat, n=args.requests, warmup=10, budget_s=120)
    written = audit_phase.head_seq(platform) - before
    reads = sum(q["governed_reads"] for q in out.values())
    out["audit"] = {"entries_written": written, "governed_reads": reads,
                    "one_entry_per_read": written == reads}
    return out


# -- in-process: the policy decision and the audit commit -----------------------------------
def phase_policy(platform: Platform, cat: setup.Catalog, actor_entry: tuple[Any, Any],
                 n: int) -> dict[str, Any]:
    from citydata.catalog.context import Ctx
    from citydata.catalog.datasets import find_dataset
    from citydata.catalog.users import actor_for_token

    out: dict[str, Any] = {}
    with platform.db.session() as s:
        # The actor a request with the token and the purpose header resolves to.
        actor = actor_for_token(s, cat.token).declaring(purpose=setup.PURPOSE)
        targets = {"governed": (find_dataset(s, setup.RESTRICTED_NAME), cat.restricted_resource),
                   "open": (find_dataset(s, setup.OPEN_NAME), cat.open_resource)}

        def decide(target: tuple[Any, str]) -> None:
            # A fresh Ctx per call, as per request: the agreements are loaded on first use.
            Ctx(s, actor, platform.settings, platform.files).access.decide(
                target[0], "read", target[1])

        for side, target in targets.items():
            out[f"decide_{side}"] = call_latency(decide, [target], n=n, warmup=20,
                                                 budget_s=15).as_dict()
        s.rollback()  # drop the (one, deduplicated) staged read entry
    out.update(audit_phase.commit_one_entry(platform, *actor_entry, n=n))
    return out


# -- audit log ------------------------------------------------------------------------------
def phase_append(platform: Platform, actor_entry: tuple[Any, Any],
                 args: argparse.Namespace, backend: str) -> dict[str, Any]:
    actor, entry = actor_entry
    total, staged = args.append_entries, args.stage_entries
    log(f"{backend}: audit.append, 1000 per transaction ({total:,} entries)")
    out = {"batched": audit_phase.append_batched(platform, entry, batch=1000, total=total,
                                                 budget_s=60)}
    log(f"{backend}: audit.stage + commit, one per transaction ({staged:,} entries)")
    out["per_transaction"] = audit_phase.stage_per_transaction(platform, actor, entry,
                                                               total=staged, budget_s=60)
    log(f"{backend}: the same from {CONCURRENT} concurrent clients ({staged * 4:,} entries)")
    out["concurrent"] = audit_phase.stage_concurrent(platform, actor, entry,
                                                     threads=CONCURRENT, total=staged * 4,
                                                     budget_s=60)
    log(f"{backend}: engine: plain INSERT of the same rows, no hashing")
    out["raw_batched"] = audit_phase.raw_insert(platform, entry, batch=1000, total=total,
                                                budget_s=60)
    out["raw_per_transaction"] = audit_phase.raw_insert(platform, entry, batch=1, total=staged,
                                                        budget_s=60)
    return out


def phase_verify(platform: Platform, actor_entry: tuple[Any, Any], total: int,
                 backend: str) -> dict[str, Any]:
    _, entry = actor_entry
    log(f"{backend}: filling the audit log with {total:,} entries (10,000 per transaction)")
    before = audit_phase.head_seq(platform)
    filled = audit_phase.fill(platform, entry, total,
                              progress=lambda k: log(f"{backend}:   {k:,} appended"))
    log(f"{backend}: audit verify over {before + total:,} entries")
    out = {"fill": filled, "verify": audit_phase.verify(platform, before + total)}
    log(f"{backend}: verify {out['verify']['seconds']:.1f} s; engine: streaming the same rows")
    out["stream"] = audit_phase.stream(platform)
    out["entry_hash"] = audit_phase.hash_cost(platform)
    return out


# -- one backend ----------------------------------------------------------------------------
def engine_settings(platform: Platform) -> dict[str, Any]:
    """What decides the cost of a commit: fsync and journal settings of the database."""
    from sqlalchemy import text

    names = (["journal_mode", "synchronous"] if platform.db.dialect == "sqlite" else
             ["synchronous_commit", "fsync", "wal_sync_method", "shared_buffers"])
    with platform.db.engine.connect() as conn:
        if platform.db.dialect == "sqlite":
            return {n: conn.execute(text(f"PRAGMA {n}")).scalar() for n in names}
        return {n: conn.execute(text(f"SHOW {n}")).scalar() for n in names}


def run_backend(backend: str, url: str, home: Path, work: Path,
                args: argparse.Namespace) -> dict[str, Any]:
    from citydata.settings import Settings

    platform = Platform(Settings(env="dev", home=home, database_url=url, postcodes="none"))
    try:
        out: dict[str, Any] = {"backend": backend, "engine_settings": engine_settings(platform)}
        log(f"{backend}: building the catalog ({args.rows:,}-row CSV published twice)")
        t0 = time.perf_counter()
        cat = setup.build(platform, work, args.rows, args.seed)
        out["setup"] = {"seconds": round(time.perf_counter() - t0, 1), "rows": cat.rows,
                        "csv_bytes": cat.csv_bytes, "agreement": cat.agreement}
        actor_entry = audit_phase.read_entry(platform, cat)
        out["http"] = phase_http(platform, url, home, cat, args, backend)
        log(f"{backend}: in-process policy decision and audit commit")
        out["policy"] = phase_policy(platform, cat, actor_entry, n=max(100, args.requests))
        out["append"] = phase_append(platform, actor_entry, args, backend)
        out.update(phase_verify(platform, actor_entry, args.verify_entries, backend))
        return out
    finally:
        platform.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    pg_base = pg_base_url()
    work = Path(tempfile.mkdtemp(prefix="citydata-govbench-"))
    result: dict[str, Any] = {
        "benchmark": "governance",
        "started": started.isoformat(timespec="seconds"),
        "config": {"rows": args.rows, "requests": args.requests, "seed": args.seed,
                   "append_entries": args.append_entries, "stage_entries": args.stage_entries,
                   "verify_entries": args.verify_entries, "quick": args.quick,
                   "page_limit": PAGE_LIMIT, "queries": QUERIES, "purpose": setup.PURPOSE,
                   "columns": setup.COLUMNS, "loopback": HOST, "backends": args.backends},
        "backends": {},
    }
    schema = None
    try:
        result["machine"] = machine_info(pg_base if "postgresql" in args.backends else None)
        if "sqlite" in args.backends:
            home = work / "home-sqlite"
            result["backends"]["sqlite"] = run_backend(
                "sqlite", f"sqlite:///{home / 'citydata.db'}", home, work, args)
        if "postgresql" in args.backends:
            schema = pg_schema_name()
            pg_create_schema(pg_base, schema)
            log(f"postgresql: schema {schema}")
            res = run_backend("postgresql", pg_schema_url(pg_base, schema), work / "home-pg",
                              work, args)
            result["backends"]["postgresql"] = {**res, "schema": schema}
    finally:
        if schema:
            pg_drop_schema(pg_base, schema)
        shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    written = report.write(result, args.output)
    report.print_table(result)
    for path in written:
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Planning Datahub ingest benchmark (issue #7): 800,000 historical applications from the 35
authorities' mixed-format feeds, through the whole pipeline, on SQLite and PostgreSQL.

    python -m bench.planning_bench                   # 800,000 applications, both backends
    python -m bench.planning_bench --quick           # 35,000 (1,000 per authority)
    python -m bench.planning_bench --backends sqlite --per-authority 5000

**Data.** ``citydata.services.planning.demo_feeds.generate`` writes each authority's export in
its own source-system shape (CSV with Title Case headers and dd/mm/yyyy dates, semicolon CSV
with easting/northing, a JSON API with GeoJSON, a paged JSON API with WKT in EPSG:27700, CSV
with lat/long and one-line addresses) over real London postcodes, with the documented
messiness injected (impossible dates, free-text statuses, bad postcodes and geometries,
mangled UPRNs, duplicates). Generated once per size into a temporary folder (timed apart).

**Ingest.** Into a fresh database (SQLite file; PostgreSQL: a fresh schema, dropped at the end)
with the reference data the gazetteer needs (boroughs, London postcodes) loaded first:
``service.ingest_all`` — every feed collected, converted, normalised, mapped, harmonised
(postcodes checked against 180 k London postcodes, geometries reprojected and checked against
the borough), transformed and stored with one event per application and the issue log, one
transaction per feed. Then the same exports again (recognised unchanged by hash) and once more
with ``force`` (every row harmonised and compared; nothing changed).

**Raw cost in the same run.** *convert*: collect + convert of every export alone (reading and
parsing, no harmonising, no database); *engine insert*: the stored applications copied by a
plain multi-row ``INSERT`` into an empty table of the same shape (the database's floor for
writing them, without events or issues).

Prints a table, writes ``bench/results/planning-<date>.json`` and
``bench/results/latest-planning.md`` (``--quick``: ``…-quick``). Nothing asserts a timing; the
target (all 800,000 in under 5 minutes) is reported as met or MISSED.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.console import parse_backends, pg_base_url, print_table
from bench.load import pg_create_schema, pg_drop_schema, pg_schema_name, pg_schema_url
from bench.machine import machine_info

RESULTS = Path(__file__).parent / "results"
AUTHORITIES = 35
TARGET_SECONDS = 300.0
TODAY = date(2026, 11, 30)


def log(msg: str) -> None:
    print(f"[planning-bench {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.planning_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--per-authority", type=int, default=22_858,
                   help="applications per authority (35 authorities; 22,858 ≈ 800,000)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--workers", type=int, default=2,
                   help="processes ingesting feeds at once (this machine has 2 cores)")
    p.add_argument("--quick", action="store_true", help="1,000 per authority")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.backends = parse_backends(p, args.backends)
    if args.quick:
        args.per_authority = min(args.per_authority, 1_000)
    return args


def _settings(home: Path, url: str) -> Any:
    from citydata.settings import Settings

    return Settings(home=home, database_url=url, postcodes="london", jobs_interval_seconds=0,
                    webhook_interval_seconds=0)


def generate(per_authority: int, work: Path) -> tuple[Path, dict[str, Any], float]:
    from citydata.services.planning import demo_feeds

    out = work / "feeds"
    out.mkdir(parents=True)
    started = time.perf_counter()
    places = demo_feeds.london_places(_settings(work / "gen", f"sqlite:///{work}/gen.db"))
    manifest = demo_feeds.generate(out, places, per_authority=per_authority, seed=7,
                                   today=TODAY)
    return out, manifest, time.perf_counter() - started


def convert_only(out: Path, manifest: dict[str, Any]) -> tuple[int, float]:
    from citydata.services.planning.convert import collect
    from citydata.services.planning.mappings import feed_config, load_authorities

    rows = 0
    started = time.perf_counter()
    for authority in load_authorities():
        entry = manifest[authority.slug]
        rows += len(collect(str(out / entry["path"]), feed_config(authority)).records)
    return rows, time.perf_counter() - started


def engine_insert(db: Any) -> tuple[int, float]:
    """Copy the stored applications into an empty table of the same shape, plainly."""
    from sqlalchemy import MetaData, insert, select

    from citydata.storage.models_planning import PlanningApplication

    source = PlanningApplication.__table__
    meta = MetaData()
    copy = source.to_metadata(meta, name="bench_planning_copy")  # type: ignore[attr-defined]
    for index in list(copy.indexes):
        copy.indexes.discard(index)
    meta.create_all(db.engine)
    with db.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(source)).mappings()]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for i in range(0, len(rows), 2000):
            conn.execute(insert(copy), rows[i:i + 2000])
    elapsed = time.perf_counter() - started
    meta.drop_all(db.engine)
    return len(rows), elapsed


def run_backend(backend: str, url: str, work: Path, out: Path, manifest: dict[str, Any],
                workers: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from citydata.geo.reference import load_reference
    from citydata.platform import Platform
    from citydata.services.planning import service
    from citydata.storage.migrate import upgrade
    from citydata.storage.models_planning import PlanningApplication, PlanningIssue

    home = work / backend
    settings = _settings(home, url)
    platform = Platform(settings)
    try:
        upgrade(platform.db)
        log(f"{backend}: loading the reference data (boroughs, London postcodes)")
        started = time.perf_counter()
        load_reference(platform.db, settings)
        reference_s = time.perf_counter() - started
        service.register_demo_feeds(platform, out, manifest)
        log(f"{backend}: first ingest")
        started = time.perf_counter()
        first = service.ingest_all(platform, today=TODAY, workers=workers)
        first_s = time.perf_counter() - started
        with platform.db.session() as session:
            stored = session.scalar(select(func.count()).select_from(PlanningApplication))
            issues = session.scalar(select(func.count()).select_from(PlanningIssue))
        log(f"{backend}: unchanged re-ingest, then forced")
        started = time.perf_counter()
        again = service.ingest_all(platform, today=TODAY, workers=workers)
        again_s = time.perf_counter() - started
        started = time.perf_counter()
        forced = service.ingest_all(platform, today=TODAY, force=True, workers=workers)
        forced_s = time.perf_counter() - started
        log(f"{backend}: engine insert floor")
        copied, copy_s = engine_insert(platform.db)
        rows_read = sum(r["rows_read"] for r in first)
        return {
            "backend": backend,
            "reference_load_s": round(reference_s, 2),
            "rows_read": rows_read,
            "applications_stored": stored,
            "quarantined": sum(r["quarantined"] for r in first),
            "flagged": sum(r["flagged"] for r in first),
            "issues_logged": issues,
            "failed_runs": [r["feed"] for r in first if r["status"] == "failed"],
            "ingest_s": round(first_s, 2),
            "ingest_rows_per_s": round(rows_read / first_s),
            "unchanged_s": round(again_s, 2),
            "unchanged_statuses": sorted({r["status"] for r in again}),
            "forced_s": round(forced_s, 2),
            "forced_rows_per_s": round(rows_read / forced_s),
            "forced_changed": sum(r["created"] + r["updated"] for r in forced),
            "engine_insert_rows": copied,
            "engine_insert_s": round(copy_s, 2),
            "engine_insert_rows_per_s": round(copied / copy_s) if copy_s else None,
            "target_met": first_s < TARGET_SECONDS * rows_read / 800_000,
        }
    finally:
        platform.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    pg_base = pg_base_url()
    work = Path(tempfile.mkdtemp(prefix="citydata-planning-bench-"))
    results: dict[str, Any] = {"per_authority": args.per_authority, "authorities": AUTHORITIES,
                               "workers": args.workers}
    try:
        log(f"generating {args.per_authority} applications for each of 35 authorities")
        out, manifest, gen_s = generate(args.per_authority, work)
        results["generate_s"] = round(gen_s, 2)
        results["formats"] = sorted({m["format"] for m in manifest.values()})
        results["injected"] = {}
        for entry in manifest.values():
            for k, v in entry.get("injected", {}).items():
                results["injected"][k] = results["injected"].get(k, 0) + v
        converted, convert_s = convert_only(out, manifest)
        results["convert_rows"] = converted
        results["convert_s"] = round(convert_s, 2)
        results["convert_rows_per_s"] = round(converted / convert_s)
        results["backends"] = []
        for backend in args.backends:
            if backend == "sqlite":
                results["backends"].append(run_backend(
                    backend, f"sqlite:///{work}/bench.db", work, out, manifest, args.workers))
            else:
                schema = pg_schema_name()
                pg_create_schema(pg_base, schema)
                try:
                    results["backends"].append(run_backend(
                        backend, pg_schema_url(pg_base, schema), work, out, manifest,
                        args.workers))
                finally:
                    pg_drop_schema(pg_base, schema)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"] = machine_info(pg_base if "postgresql" in args.backends else None)
    report(results, args)


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    total = results["convert_rows"]
    rows = [["generate feeds (not timed in ingest)", f"{results['generate_s']:.1f}", "", ""],
            ["raw: collect + convert only", f"{results['convert_s']:.1f}",
             f"{results['convert_rows_per_s']:,}", ""]]
    for b in results["backends"]:
        name = b["backend"]
        budget = TARGET_SECONDS * total / 800_000
        rows += [
            [f"{name}: ingest (whole pipeline)", f"{b['ingest_s']:.1f}",
             f"{b['ingest_rows_per_s']:,}",
             ("met" if b["target_met"] else "MISSED") + f" (< {budget:.0f} s)"],
            [f"{name}: same exports again (unchanged)", f"{b['unchanged_s']:.1f}", "", ""],
            [f"{name}: forced re-ingest (all compared)", f"{b['forced_s']:.1f}",
             f"{b['forced_rows_per_s']:,}", f"{b['forced_changed']} changed"],
            [f"{name}: raw engine insert of the stored rows", f"{b['engine_insert_s']:.1f}",
             f"{b['engine_insert_rows_per_s']:,}", ""],
        ]
    title = (f"Planning ingest: {total:,} applications from 35 authorities "
             f"({', '.join(results['formats'])}), {results['workers']} worker process(es)")
    print_table(title, ["phase", "s", "rows/s", "target"], rows, right=("s", "rows/s"))
    args.output.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    (args.output / f"planning-{stamp}{suffix}.json").write_text(
        json.dumps(results, indent=2, default=str))
    lines = [f"# {title}", "", "| phase | s | rows/s | target |", "|---|---:|---:|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += ["", "Stored, quarantined, flagged and issues per backend:", ""]
    for b in results["backends"]:
        lines.append(f"- {b['backend']}: {b['applications_stored']:,} applications stored, "
                     f"{b['quarantined']:,} rows quarantined, {b['flagged']:,} with flagged "
                     f"values, {b['issues_logged']:,} issues logged, failed runs: "
                     f"{b['failed_runs'] or 'none'}")
    lines += ["", f"Injected by the generator: {results['injected']}", "",
              f"Machine: {results['machine'].get('cpu', '')}, generated {stamp}."]
    (args.output / f"latest-planning{suffix}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Datastore benchmark (issue #3): ingest a ~1 GB CSV, query 10 M rows, diff 1 M-row versions.

    python -m bench.datastore_bench              # 10 M rows (~1.1 GB CSV), 1 M-row diff
    python -m bench.datastore_bench --quick      # 500 k rows, 100 k-row diff, short phases
    python -m bench.datastore_bench --rows 2000000 --diff-rows 200000

Generates a deterministic CSV with DuckDB, then in one run: DuckDB's own read_csv → Parquet on
it (the engine's cost, child process); the real ``publish_file`` → ``ingest()`` on it (child
process, peak RSS from ``os.wait4``); the native rows API under uvicorn on loopback (filtered +
sorted page, facet), the same requests in-process and the same DuckDB SQL on the Parquet file;
Datasette on the same rows loaded into SQLite (with indexes) as the peer; ``diff_versions`` on
two generated versions. Prints a table and writes JSON + Markdown to ``bench/results/``.
Nothing asserts a timing; targets are reported as met or MISSED. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import datastore_data as data
from bench import datastore_report as report
from bench.datastore_queries import engine_costs
from bench.loadtest.memory import rss_kib
from bench.machine import machine_info
from bench.measure import http_latency
from bench.servers import HOST, citydata_server, datasette_server

RESULTS = Path(__file__).parent / "results"
FILTER_BOROUGHS = ["Camden", "Hackney", "Westminster", "Croydon", "Bexley", "Islington",
                   "City of London", "Newham", "Barnet", "Sutton"]
FACET_COLUMN = "category"
SORT_COLUMN = "amount"
SQLITE_TABLE = "service_requests"
VARIANT_MAX_LINE = 8 * 1024 * 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.datastore_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="CSV rows (default 10000000)")
    p.add_argument("--diff-rows", type=int, default=1_000_000, help="rows per diff version")
    p.add_argument("--quick", action="store_true", help="500k rows, 100k diff, short phases")
    p.add_argument("--requests", type=int, default=200, help="timed requests per query phase")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--no-datasette", action="store_true", help="skip the Datasette peer")
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the temporary files go (default: a new dir under $TMPDIR)")
    p.add_argument("--output", type=Path, default=RESULTS, help="where results are written")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = min(args.rows, 500_000)
        args.diff_rows = min(args.diff_rows, 100_000)
        args.requests = min(args.requests, 60)
    return args


def log(msg: str) -> None:
    print(f"[datastore {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- child processes with their own peak RSS -----------------------------------------------------
def _rss_kb(pid: int) -> int:
    return rss_kib(pid) or 0


def run_child(label: str, argv: list[str], result_path: Path, log_path: Path,
              timeout_s: float) -> dict[str, Any]:
    """Run ``python -m bench.datastore_worker argv``; its result plus wall time and peak RSS."""
    cmd = [sys.executable, "-m", "bench.datastore_worker", *argv]
    t0 = time.perf_counter()
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        last = polled_peak = 0
        status = None
        rusage = None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.perf_counter() - t0
            polled_peak = max(polled_peak, _rss_kb(proc.pid))
            if elapsed - last >= 5:
                last = elapsed
                log(f"  {label}: {elapsed:5.0f} s, RSS {_rss_kb(proc.pid) / 1024:6.0f} MB "
                    f"(peak so far {polled_peak / 1024:.0f} MB)")
            if elapsed > timeout_s:
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"{label} took over {timeout_s:.0f} s; see {log_path}")
            time.sleep(0.25)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}):\n"
                           + log_path.read_text(errors="replace")[-3000:])
    out_data = json.loads(result_path.read_text())
    # ru_maxrss of this one child (wait4), in KiB on Linux: the whole process's high-water mark.
    # Peak RSS = the child's own VmHWM at exit. ru_maxrss from wait4 is kept for reference but
    # includes the parent's RSS inherited at fork (Linux carries it across exec).
    return {**out_data, "wall_s": round(wall, 2),
            "peak_rss_mb": round(out_data["vmhwm_kb"] / 1024, 1),
            "wait4_ru_maxrss_mb": round(rusage.ru_maxrss / 1024, 1),
            "polled_peak_rss_mb": round(polled_peak / 1024, 1)}


# -- phases ----------------------------------------------------------------------------------------
def phase_ingest(args: argparse.Namespace, work: Path, csv: Path, home: Path,
                 db_url: str) -> dict[str, Any]:
    size = csv.stat().st_size
    log(f"engine: DuckDB read_csv → Parquet on the same file ({size / 1e9:.2f} GB)")
    raw = run_child("duckdb raw", ["raw", str(csv), str(work / "raw.parquet"),
                                   str(work / "raw.json")], work / "raw.json",
                    work / "raw.log", timeout_s=600)
    (work / "raw.parquet").unlink(missing_ok=True)
    log(f"engine: {raw['seconds']:.1f} s, peak RSS {raw['peak_rss_mb']:.0f} MB")
    log("ingest: publish_file → ingest() in a child process")
    pub = run_child("ingest", ["publish", str(home), db_url, str(csv), "big",
                               str(work / "pub.json")], work / "pub.json",
                    work / "publish.log", timeout_s=900)
    log(f"ingest: {pub['ingest_s']:.1f} s (publish total {pub['publish_s']:.1f} s), "
        f"peak RSS {pub['peak_rss_mb']:.0f} MB, status {pub['ingest_status']}")
    out: dict[str, Any] = {"csv_bytes": size, "rows": args.rows,
                           "raw": {**raw, "rows_per_s": round(raw["rows"] / raw["seconds"])},
                           "ingest": _ingest_stats(pub, raw, size)}
    if pub["ingest_status"] != "ok":
        log(f"ingest FAILED: {pub['report'].get('errors')}")
        # Measure the proposed fix too (and get a table for the query phase): the same real
        # ingest() with the line limit lowered so DuckDB's CSV buffer is 16 × 8 MB = 128 MB.
        log(f"ingest variant: MAX_LINE_BYTES={VARIANT_MAX_LINE:,} (CSV buffer 128 MB)")
        var = run_child("ingest variant", ["publish", str(home), db_url, str(csv), "big-variant",
                                           str(work / "var.json"), str(VARIANT_MAX_LINE)],
                        work / "var.json", work / "variant.log", timeout_s=900)
        log(f"ingest variant: {var['ingest_s']:.1f} s, peak RSS {var['peak_rss_mb']:.0f} MB, "
            f"status {var['ingest_status']}")
        out["variant"] = {**_ingest_stats(var, raw, size), "max_line_bytes": VARIANT_MAX_LINE}
    return out


def _ingest_stats(pub: dict[str, Any], raw: dict[str, Any], size: int) -> dict[str, Any]:
    ok = pub["ingest_status"] == "ok"
    rows = pub["rows"] or 0
    return {**pub, "rows_per_s": round(rows / pub["ingest_s"]) if ok else None,
            "mb_per_s": round(size / 1e6 / pub["ingest_s"], 1) if ok else None,
            "ratio_engine_to_ingest": round(raw["seconds"] / pub["ingest_s"], 3) if ok else None,
            "types_match_engine": pub["columns"] == raw["columns"]}


def load_sqlite(csv: Path, db: Path, types: dict[str, str]) -> dict[str, Any]:
    """The Datasette peer's copy: sqlite3 ``.import`` into a typed table, then indexes."""
    affinity = {"BIGINT": "INTEGER", "INTEGER": "INTEGER", "DOUBLE": "REAL", "DATE": "TEXT",
                "TIMESTAMP": "TEXT", "VARCHAR": "TEXT"}
    cols = ", ".join(f"[{c}] {affinity.get(types.get(c, 'VARCHAR'), 'TEXT')}"
                     for c in data.COLUMNS)
    script = (f"CREATE TABLE [{SQLITE_TABLE}] ({cols});\n"
              f".import --csv --skip 1 '{csv}' {SQLITE_TABLE}\n")
    t0 = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=script, text=True, check=True,
                   capture_output=True)
    import_s = time.perf_counter() - t0
    # What a Datasette user would add for this page and facet: the filter column with the sort
    # column after it (serves WHERE borough=? ORDER BY amount DESC and the count), and the facet.
    indexes = [f"CREATE INDEX idx_borough_amount ON [{SQLITE_TABLE}] (borough, amount)",
               f"CREATE INDEX idx_{FACET_COLUMN} ON [{SQLITE_TABLE}] ({FACET_COLUMN})"]
    t0 = time.perf_counter()
    subprocess.run(["sqlite3", str(db)], input=";\n".join(indexes) + ";\nANALYZE;\n", text=True,
                   check=True, capture_output=True)
    return {"import_s": round(import_s, 1), "index_s": round(time.perf_counter() - t0, 1),
            "indexes": indexes, "bytes": db.stat().st_size}


def rows_paths(prefix: str, facet: bool) -> list[str]:
    if facet:
        return [prefix + "?" + urlencode({"_facet": FACET_COLUMN, "_size": 10})]
    return [prefix + "?" + urlencode({"borough": b, "_sort_desc": SORT_COLUMN, "_size": 100})
            for b in FILTER_BOROUGHS]


def _ok_rows(resp: Any) -> bool:
    return len(resp.json().get("rows") or []) > 0


def phase_query(args: argparse.Namespace, work: Path, csv: Path, home: Path, db_url: str,
                rid: str, types: dict[str, str]) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {"filter_boroughs": FILTER_BOROUGHS, "facet_column": FACET_COLUMN,
                           "sort_column": SORT_COLUMN}
    n = args.requests
    ours = f"/api/v1/resources/{rid}/rows"
    with citydata_server(db_url, home) as base:
        log(f"query: citydata up at {base}")
        sample = httpx.get(base + rows_paths(ours, False)[0], timeout=120).json()
        out["filtered_total_first"] = sample.get("total")
        facet_body = httpx.get(base + rows_paths(ours, True)[0], timeout=120).json()
        out["facet_values"] = facet_body.get("facets", {}).get(FACET_COLUMN, {}).get("results")
        log(f"query: filtered + sorted page ({n} requests)")
        out["page_http"] = http_latency(base, rows_paths(ours, False), n=n, warmup=10,
                                        budget_s=60, check=_ok_rows).as_dict()
        log(f"query: facet on {FACET_COLUMN} ({n} requests)")
        out["facet_http"] = http_latency(base, rows_paths(ours, True), n=n, warmup=3,
                                         budget_s=60).as_dict()
    log("query: in-process run_page and the same DuckDB SQL on the Parquet file")
    out.update(engine_costs(home, db_url, rid, FILTER_BOROUGHS, SORT_COLUMN, FACET_COLUMN,
                            n=n))
    if args.no_datasette:
        return out
    db = work / "bench.db"
    log("datasette: loading the CSV into SQLite (sqlite3 .import) and indexing")
    out["datasette_load"] = load_sqlite(csv, db, types)
    log(f"datasette: loaded ({out['datasette_load']})")
    peer = f"/{db.stem}/{SQLITE_TABLE}.json"
    with datasette_server(db, work) as base:
        log(f"datasette: up at {base}")
        body = httpx.get(base + rows_paths(peer, False)[0], timeout=120).json()
        out["datasette_filtered_total_first"] = body.get("filtered_table_rows_count")
        fb = httpx.get(base + rows_paths(peer, True)[0], timeout=300).json()
        out["datasette_facet_values"] = [
            {"value": r["value"], "count": r["count"]}
            for r in (fb.get("facet_results", {}).get("results", fb.get("facet_results", {}))
                      .get(FACET_COLUMN, {}).get("results", []))]
        out["datasette_facets_timed_out"] = fb.get("facets_timed_out")
        log(f"datasette: filtered + sorted page ({n} requests)")
        out["datasette_page_http"] = http_latency(base, rows_paths(peer, False), n=n, warmup=10,
                                                  budget_s=60, check=_ok_rows).as_dict()
        log("datasette: facet")
        out["datasette_facet_http"] = http_latency(base, rows_paths(peer, True), n=n,
                                                   warmup=2, budget_s=90).as_dict()
    db.unlink(missing_ok=True)
    return out


def phase_diff(args: argparse.Namespace, work: Path, home: Path, db_url: str) -> dict[str, Any]:
    v1, v2 = work / "diff-v1.csv", work / "diff-v2.csv"
    log(f"diff: generating two versions of {args.diff_rows:,} rows")
    expected = data.write_diff_versions(v1, v2, args.diff_rows, args.seed)
    out: dict[str, Any] = {"rows": args.diff_rows, "expected": expected}
    for i, path in enumerate((v1, v2), 1):
        pub = run_child(f"diff v{i}", ["publish", str(home), db_url, str(path), "diff",
                                       str(work / f"diff{i}.json")], work / f"diff{i}.json",
                        work / f"diff{i}.log", timeout_s=300)
        out[f"v{i}_ingest_s"] = pub["ingest_s"]
        rid = pub["resource_id"]
        path.unlink()
    from bench.datastore_queries import time_diff

    log("diff: diff_versions(v1, v2)")
    out.update(time_diff(home, db_url, rid, runs=1 if args.quick else 3, budget_s=90))
    out["matches_expected"] = all(out["summary"][k] == v for k, v in expected.items())
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix="citydata-dsbench-", dir=args.workdir))
    home = work / "home"
    db_url = f"sqlite:///{home / 'citydata.db'}"
    home.mkdir()
    import duckdb

    result: dict[str, Any] = {
        "benchmark": "datastore",
        "started": started.isoformat(timespec="seconds"),
        "config": {"rows": args.rows, "diff_rows": args.diff_rows, "seed": args.seed,
                   "requests": args.requests, "quick": args.quick, "columns": data.COLUMNS,
                   "loopback": HOST},
        "machine": {**machine_info(None), "duckdb": duckdb.__version__},
    }
    try:
        csv = work / "big.csv"
        log(f"generating {args.rows:,} rows of CSV with DuckDB in {work}")
        t0 = time.perf_counter()
        data.write_csv(csv, args.rows, args.seed)
        result["config"]["generate_s"] = round(time.perf_counter() - t0, 1)
        log(f"generated {csv.stat().st_size / 1e9:.2f} GB in {result['config']['generate_s']} s")
        result["ingest"] = phase_ingest(args, work, csv, home, db_url)
        used = result["ingest"].get("variant") or result["ingest"]["ingest"]
        if used["ingest_status"] != "ok":
            raise RuntimeError(f"ingest failed: {used['report']}")
        result["query_resource"] = "variant" if "variant" in result["ingest"] else "ingest"
        rid, types = used["resource_id"], used["columns"]
        result["query"] = phase_query(args, work, csv, home, db_url, rid, types)
        csv.unlink()
        result["diff"] = phase_diff(args, work, home, db_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    written = report.write(result, args.output)
    report.print_table(result)
    for path in written:
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

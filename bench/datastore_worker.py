"""Child processes of the datastore benchmark, so each one's peak RSS is its own.

    python -m bench.datastore_worker raw CSV OUT.parquet RESULT.json
    python -m bench.datastore_worker publish HOME DB_URL CSV NAME RESULT.json [MAX_LINE_BYTES]

``raw``: DuckDB alone, ``COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet, ...)`` with
the same Parquet options and thread count as ingest — the engine's cost for the same work.
``publish``: the real catalog path, ``publish_file`` on a Platform (SQLite in ``HOME``): stage
the upload (hash + fsync), then ``resources.create_resource`` / ``update_resource`` which calls
the real ``citydata.datastore.ingest.ingest``; that call is timed by wrapping the function the
catalog imported (the function itself runs unchanged). The parent reads the peak RSS of this
whole process with ``os.wait4``.
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

# The engine baseline writes exactly what ingest writes.
from citydata.datastore.ingest import SNAPSHOT_OPTIONS  # noqa: E402

PARQUET_OPTIONS = SNAPSHOT_OPTIONS.strip("()")


def raw(csv: Path, out: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(config={"threads": 2, "memory_limit": "1GB"})
    t0 = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' ({PARQUET_OPTIONS})")
    took = time.perf_counter() - t0
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()
    cols = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    con.close()
    return {"seconds": round(took, 3), "rows": int(n[0]) if n else 0,
            "parquet_bytes": out.stat().st_size, "columns": {c[0]: c[1] for c in cols}}


def platform(home: Path, db_url: str, max_upload: int):  # type: ignore[no-untyped-def]
    from citydata.platform import Platform
    from citydata.settings import Settings
    from citydata.storage.migrate import upgrade

    p = Platform(Settings(env="dev", home=home, database_url=db_url, postcodes="none",
                          max_upload_bytes=max_upload))
    upgrade(p.db)
    return p


def publish(home: Path, db_url: str, csv: Path, name: str,
            max_line_bytes: int | None = None) -> dict[str, Any]:
    """``max_line_bytes`` (the variant run only) lowers ingest's line limit, which shrinks
    DuckDB's CSV buffer (16 × max_line_size) — the stand-in for the proposed ``buffer_size``."""
    from citydata.access.actors import Actor
    from citydata.catalog import organizations, resources
    from citydata.catalog.context import Ctx
    from citydata.catalog.publish import publish_file
    from citydata.datastore import ingest as ingest_module
    from citydata.errors import CitydataError

    # The default upload limit (512 MB) is below a 1 GB CSV; raise it like an operator would.
    p = platform(home, db_url, max_upload=max(csv.stat().st_size * 2, 1 << 30))
    timings: dict[str, float] = {}
    real_ingest = resources.datastore_ingest
    if max_line_bytes:
        ingest_module.MAX_LINE_BYTES = max_line_bytes

    def timed_ingest(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_ingest(*args, **kwargs)
        finally:
            timings["ingest_s"] = round(time.perf_counter() - t0, 3)

    resources.datastore_ingest = timed_ingest  # type: ignore[assignment]
    try:
        # The organisation is already there for the second version of the diff resource.
        with p.db.session() as s, contextlib.suppress(CitydataError):
                organizations.create_organization(s, Actor.system(), {
                    "name": "bench", "title": "Benchmark borough", "kind": "borough"})
        t0 = time.perf_counter()
        with p.db.session() as s:
            ctx = Ctx(s, Actor.system(), p.settings, p.files)
            _, res = publish_file(ctx, csv, org="bench", title=f"Benchmark {name}",
                                  dataset_name=name, resource_name=f"{name}.csv")
        total = time.perf_counter() - t0
    finally:
        resources.datastore_ingest = real_ingest  # type: ignore[assignment]
        p.close()
    current = next(v for v in res["versions"] if v["version"] == res["version"])
    return {"resource_id": res["id"], "version": res["version"],
            "publish_s": round(total, 3), **timings,
            "ingest_status": current["ingest_status"], "rows": current["row_count"],
            "columns": {c["name"]: c["type"] for c in current["columns"]},
            "report": current["report"]}


def _vmhwm_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str]) -> int:
    cmd, *rest = argv
    if cmd == "raw":
        out = raw(Path(rest[0]), Path(rest[1]))
        result_path = Path(rest[2])
    elif cmd == "publish":
        limit = int(rest[5]) if len(rest) > 5 else None
        out = publish(Path(rest[0]), rest[1], Path(rest[2]), rest[3], limit)
        result_path = Path(rest[4])
    else:
        raise SystemExit(f"unknown command {cmd!r}")
    # VmHWM is the high-water mark of this process image only; ru_maxrss (here or from wait4)
    # also counts the parent's RSS inherited at fork, before exec, so it over-reports.
    out["vmhwm_kb"] = _vmhwm_kb()
    out["ru_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result_path.write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

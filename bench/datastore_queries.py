"""In-process costs for the datastore benchmark: ``run_page`` without HTTP, the same DuckDB SQL
on the Parquet snapshot with nothing around it, EXPLAIN ANALYZE of each statement, and
``diff_versions``.

The SQL is not rewritten here: one ``run_page`` call is made with a recording connection
(``snapshot_connection`` wrapped), and exactly the statements and parameters it issued are
replayed on one plain DuckDB connection (same thread count) over the same file.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from bench.measure import call_latency


class _Recorder:
    """Forwards to a DuckDB connection and keeps every statement and its parameters."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: list[tuple[str, Any]]) -> None:
        self._con = con
        self._log = log

    def execute(self, sql: str, params: Any = None) -> Any:
        self._log.append((sql, params))
        return self._con.execute(sql, params) if params is not None else self._con.execute(sql)

    def sql(self, sql: str, params: Any = None) -> Any:
        self._log.append((sql, params))
        return self._con.sql(sql, params=params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@contextmanager
def _platform(home: Path, db_url: str) -> Iterator[Any]:
    from citydata.platform import Platform
    from citydata.settings import Settings

    p = Platform(Settings(env="dev", home=home, database_url=db_url, postcodes="none"))
    try:
        yield p
    finally:
        p.close()


def _snapshot(p: Any, rid: str) -> Any:
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.datastore.query import open_snapshot

    with p.db.session() as s:
        return open_snapshot(Ctx(s, Actor.anonymous(), p.settings, p.files), rid)


def _capture(snap: Any, q: Any) -> list[tuple[str, Any]]:
    from citydata.datastore import query as rows

    log: list[tuple[str, Any]] = []
    original = rows.snapshot_connection

    @contextmanager
    def recording(s: Any) -> Iterator[Any]:
        with original(s) as con:
            yield _Recorder(con, log)

    rows.snapshot_connection = recording  # type: ignore[assignment]
    try:
        rows.run_page(snap, q, keyset=True)
    finally:
        rows.snapshot_connection = original  # type: ignore[assignment]
    return log


def _raw_connection(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": 2})
    con.execute(f"CREATE VIEW snap AS SELECT * FROM read_parquet('{path}', "
                "file_row_number=true)")
    return con


def _replay(con: duckdb.DuckDBPyConnection, statements: list[tuple[str, Any]]) -> None:
    for sql, params in statements:
        con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()


def _explain(con: duckdb.DuckDBPyConnection, statements: list[tuple[str, Any]]) -> list[dict]:
    out = []
    for sql, params in statements:
        if sql.lstrip().upper().startswith("SELECT CAST(?"):
            out.append({"sql": sql, "params": params, "note": "value type check"})
            continue
        t0 = time.perf_counter()
        _replay(con, [(sql, params)])
        took = (time.perf_counter() - t0) * 1000
        plan = con.execute("EXPLAIN ANALYZE " + sql, params).fetchall()
        out.append({"sql": sql, "params": [str(p) for p in (params or [])],
                    "ms": round(took, 2), "explain_analyze": plan[0][1] if plan else ""})
    return out


def engine_costs(home: Path, db_url: str, rid: str, boroughs: list[str], sort_col: str,
                 facet_col: str, *, n: int) -> dict[str, Any]:
    from citydata.datastore import query as rows
    from citydata.datastore.query import Filter, RowQuery

    def page_query(b: str) -> RowQuery:
        return RowQuery(filters=[Filter("borough", "exact", b, "borough")],
                        sort=[(sort_col, True)], limit=100)

    def facet_query(_: Any = None) -> RowQuery:
        return RowQuery(limit=10, facets=[facet_col])

    with _platform(home, db_url) as p:
        snap = _snapshot(p, rid)
        out: dict[str, Any] = {"snapshot_bytes": snap.path.stat().st_size}
        out["page_inproc"] = call_latency(
            lambda b: rows.run_page(snap, page_query(b), keyset=True), boroughs,
            n=n, warmup=5, budget_s=40).as_dict()
        out["facet_inproc"] = call_latency(
            lambda _: rows.run_page(snap, facet_query(), keyset=True), [None],
            n=n, warmup=2, budget_s=40).as_dict()
        page_sql = {b: _capture(snap, page_query(b)) for b in boroughs}
        facet_sql = _capture(snap, facet_query())
        con = _raw_connection(snap.path)
        try:
            out["page_sql"] = call_latency(lambda b: _replay(con, page_sql[b]), boroughs,
                                           n=n, warmup=5, budget_s=40).as_dict()
            out["facet_sql"] = call_latency(lambda _: _replay(con, facet_sql), [None],
                                            n=n, warmup=2, budget_s=40).as_dict()
            out["page_statements"] = _explain(con, page_sql[boroughs[0]])
            out["facet_statements"] = _explain(con, facet_sql)
        finally:
            con.close()
    return out


def time_diff(home: Path, db_url: str, rid: str, *, runs: int, budget_s: float) -> dict[str, Any]:
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.datastore.diff import diff_versions

    took: list[float] = []
    summary: dict[str, Any] = {}
    deadline = time.monotonic() + budget_s
    with _platform(home, db_url) as p:
        for _ in range(runs):
            with p.db.session() as s:
                ctx = Ctx(s, Actor.system(), p.settings, p.files)
                t0 = time.perf_counter()
                d = diff_versions(ctx, rid, 1, 2)
                took.append(time.perf_counter() - t0)
            summary = {"summary": d["summary"], "key": d["key"], "key_source": d["key_source"]}
            if time.monotonic() > deadline:
                break
    return {"runs_s": [round(t, 3) for t in took], "median_s": round(statistics.median(took), 3),
            "max_s": round(max(took), 3), **summary}

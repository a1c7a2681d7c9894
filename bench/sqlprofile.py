"""Where a package_search spends its database time: per-statement timings and query plans.

``search_datasets`` issues a fixed sequence of statements (count, page, one per facet). We time
each one with SQLAlchemy cursor events over several calls, then ask the database for the plan of
each statement with the parameters it actually ran with (``EXPLAIN QUERY PLAN`` on SQLite,
``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from sqlalchemy import event

from citydata.access.actors import Actor
from citydata.catalog.search import search_datasets
from citydata.storage.database import Database


def profile_search(db: Database, word: str, facets: list[str], runs: int = 10) -> dict[str, Any]:
    calls: list[list[tuple[str, Any, float]]] = []
    current: list[tuple[str, Any, float]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:  # noqa: E501
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:  # noqa: E501
        current.append((statement, parameters, time.perf_counter() - conn.info["bench_t0"]))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        for _ in range(runs + 1):  # the first call warms caches and is dropped
            current = []
            with db.session() as session:
                search_datasets(session, Actor.anonymous(), q=word, rows=10, facet_fields=facets)
            calls.append(current)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    calls = calls[1:]
    labels = ["count", "page"] + [f"facet {f}" for f in facets]
    times: dict[str, list[float]] = defaultdict(list)
    sample: dict[str, tuple[str, Any]] = {}
    for call in calls:
        names = labels if len(call) == len(labels) else [f"stmt {i}" for i in range(len(call))]
        for label, (stmt, params, dt) in zip(names, call, strict=True):
            times[label].append(dt)
            sample.setdefault(label, (stmt, params))
    statements: list[dict[str, Any]] = []
    for label, dts in times.items():
        dts.sort()
        stmt, params = sample[label]
        statements.append({
            "statement": label,
            "median_ms": round(1000 * dts[len(dts) // 2], 3),
            "sql": " ".join(stmt.split()),
            "plan": explain(db, stmt, params),
        })
    total = sum(s["median_ms"] for s in statements)
    return {"word": word, "runs": len(calls), "sql_total_median_ms": round(total, 3),
            "statements": statements}


def explain(db: Database, statement: str, parameters: Any) -> list[str]:
    """The plan of one statement, as text lines (PostgreSQL: with real row counts and times)."""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if db.dialect == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            rows = cur.fetchall()
            parent = {r[0]: r[1] for r in rows}

            def depth(node: int) -> int:
                return 0 if parent.get(node, 0) == 0 else 1 + depth(parent[node])

            return [f"{'  ' * depth(r[0])}{r[3]}" for r in rows]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        return [r[0] for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


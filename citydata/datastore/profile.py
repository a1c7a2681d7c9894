"""Column profiles of a Parquet snapshot: type, empty cells, distinct values, range, histogram
or most common values — what a reader needs to decide whether a file is worth opening.

Framework-free and computed in a locked-down DuckDB over the snapshot (the same
:func:`~citydata.datastore.engine.connect` walls as row queries), under a time limit. One scan
gathers the counts and ranges of every column; then one small ``GROUP BY`` per column gives its
histogram or top values. Snapshots are immutable and named by their SHA-256, so results are
cached by (path, columns, top, bins).
"""

from __future__ import annotations

import copy
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from citydata.datastore.engine import NUMERIC_TYPES, Timeout, connect, sql_literal_path
from citydata.datastore.query import Column, explain_duckdb, json_value

DEFAULT_TIMEOUT_S = 10.0
#: Up to this many rows, distinct counts are exact; above, HyperLogLog estimates (about 2%).
EXACT_DISTINCT_ROWS = 1_000_000
#: Numeric and date columns with at most this many distinct values also get top values.
LOW_CARDINALITY = 20
#: Profiles kept per process. Dataset pages ask for one per tabular resource, so a cache
#: smaller than the catalog's working set thrashes (the demo has ~140; at 64 most page
#: views paid the scan again, see docs/performance.md "Load test"); a profile is a few KB.
_CACHE_SIZE = 512
_cache: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
_cache_lock = threading.Lock()


def _kind(col: Column) -> str:
    """``number``, ``date`` (dates and timestamps), ``text``, ``boolean`` or ``other``."""
    if not col.simple:
        return "other"
    base = col.type.split("(")[0].strip()
    if base in NUMERIC_TYPES:
        return "number"
    if base == "DATE" or base.startswith("TIMESTAMP"):
        return "date"
    if base == "BOOLEAN":
        return "boolean"
    if base in ("VARCHAR", "UUID", "ENUM"):
        return "text"
    return "other"


def _columns(columns: Iterable[Column | Mapping[str, Any]]) -> list[Column]:
    return [c if isinstance(c, Column) else Column(str(c["name"]), str(c["type"]))
            for c in columns]


def profile_snapshot(
    path: Path,
    columns: Iterable[Column | Mapping[str, Any]],
    *,
    top: int = 10,
    bins: int = 10,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """One profile per column, in order.

    Each is ``{"name", "type", "kind", "rows", "empty", "distinct", "distinct_approx", "min",
    "max", "histogram", "top"}``: ``empty`` counts missing cells (NULL, and empty text);
    ``min``/``max`` are set for numbers and dates; ``histogram`` (numbers) is ``bins``
    equal-width ``{"low", "high", "count"}`` buckets over [min, max], the last one closed;
    ``top`` (text, booleans, and numbers or dates with few distinct values) is the ``top``
    commonest non-empty values as ``{"value", "count"}``, ties by value. Raises ``QueryError``
    when the time limit is reached.
    """
    cols = _columns(columns)
    key = (str(path), tuple((c.name, c.type) for c in cols), top, bins)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return copy.deepcopy(_cache[key])
    result = _profile(Path(path), cols, top=top, bins=bins, timeout=timeout)
    with _cache_lock:
        _cache[key] = copy.deepcopy(result)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _profile(
    path: Path, cols: list[Column], *, top: int, bins: int, timeout: float
) -> list[dict[str, Any]]:
    con = connect(readable=[path], memory_limit="512MB")
    try:
        con.execute(f"CREATE VIEW snap AS SELECT * FROM read_parquet({sql_literal_path(path)})")
        with Timeout(con, timeout):
            try:
                return _run(con, cols, top=top, bins=bins)
            except duckdb.Error as exc:
                raise explain_duckdb(exc) from None
    finally:
        con.close()


def _run(
    con: duckdb.DuckDBPyConnection, cols: list[Column], *, top: int, bins: int
) -> list[dict[str, Any]]:
    found = con.execute("SELECT count(*) FROM snap").fetchone()
    rows = int(found[0]) if found else 0
    approx = rows > EXACT_DISTINCT_ROWS
    # One scan: for each column, empty cells, distinct values, min and max.
    select: list[str] = []
    for c in cols:
        kind = _kind(c)
        q = c.sql
        empty = f"count(*) FILTER (WHERE {q} IS NULL"
        empty += f" OR {q} = '')" if kind == "text" else ")"
        select.append(empty)
        if kind == "other":
            select.append("NULL")
        else:
            v = f"NULLIF({q}, '')" if kind == "text" else q
            select.append(f"approx_count_distinct({v})" if approx else f"count(DISTINCT {v})")
        ranged = kind in ("number", "date")
        select.append(f"min({q})" if ranged else "NULL")
        select.append(f"max({q})" if ranged else "NULL")
    stats = con.execute(f"SELECT {', '.join(select)} FROM snap").fetchone() if cols else ()
    out: list[dict[str, Any]] = []
    for i, c in enumerate(cols):
        kind = _kind(c)
        empty, distinct, lo, hi = (stats or ())[4 * i: 4 * i + 4]
        p: dict[str, Any] = {
            "name": c.name,
            "type": c.type,
            "kind": kind,
            "rows": rows,
            "empty": int(empty or 0),
            "distinct": None if distinct is None else int(distinct),
            "distinct_approx": approx and distinct is not None,
            "min": json_value(lo),
            "max": json_value(hi),
            "histogram": [],
            "top": [],
        }
        if kind == "number" and lo is not None:
            p["histogram"] = _histogram(con, c, float(lo), float(hi), bins)
        if kind in ("text", "boolean") or (
            kind in ("number", "date") and (p["distinct"] or 0) <= LOW_CARDINALITY
        ):
            p["top"] = _top(con, c, top, kind)
        out.append(p)
    return out


def _histogram(
    con: duckdb.DuckDBPyConnection, col: Column, lo: float, hi: float, bins: int
) -> list[dict[str, Any]]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi == lo:  # one value: one bucket
        found = con.execute(f"SELECT count({col.sql}) FROM snap").fetchone()
        return [{"low": json_value(lo), "high": json_value(hi),
                 "count": int(found[0]) if found else 0}]
    width = (hi - lo) / bins
    x = f"CAST({col.sql} AS DOUBLE)"
    sql = (
        f"SELECT least(CAST(floor(({x} - ?) / ?) AS BIGINT), ?) AS b, count(*) FROM snap "
        f"WHERE {col.sql} IS NOT NULL AND isfinite({x}) GROUP BY b"
    )
    counts = {int(b): int(n) for b, n in con.execute(sql, [lo, width, bins - 1]).fetchall()}
    return [
        {"low": lo + i * width, "high": hi if i == bins - 1 else lo + (i + 1) * width,
         "count": counts.get(i, 0)}
        for i in range(bins)
    ]


def _top(
    con: duckdb.DuckDBPyConnection, col: Column, top: int, kind: str
) -> list[dict[str, Any]]:
    not_empty = f"{col.sql} IS NOT NULL" + (f" AND {col.sql} != ''" if kind == "text" else "")
    sql = (
        f"SELECT {col.sql}, count(*) AS n FROM snap WHERE {not_empty} "
        f"GROUP BY 1 ORDER BY n DESC, 1 ASC LIMIT {int(top)}"
    )
    return [{"value": json_value(v), "count": int(n)} for v, n in con.execute(sql).fetchall()]


__all__ = ["profile_snapshot"]

"""A synthetic sample of a table: made-up rows with the real columns, types and rough shape.

For restricted data whose publisher lets outsiders see "a synthetic sample" — enough to judge
whether the data would serve a purpose before asking for it, never a real record:

* each column is drawn on its own, so no row combines real values of one record;
* a text column shows a real value only if it is a category — the column has few distinct
  values and that value occurs in at least ``k`` rows (e.g. ward codes, service types) —
  otherwise placeholders in the same shape ("Text 1", "AB12 3CD" → "XX00 0XX");
* numbers and dates are drawn uniformly between the 10th and 90th percentile, rounded, so
  neither extremes nor exact values show.

The sample is seeded by the snapshot and column, so it stays the same between requests (asking
again teaches nothing new).
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from citydata.datastore.engine import NUMERIC_TYPES, Timeout, connect, sql_literal_path
from citydata.datastore.query import Column, Snapshot, explain_duckdb, json_value

SAMPLE_ROWS = 10
#: A text value is shown only if at least this many rows hold it ...
MIN_CATEGORY_ROWS = 10
#: ... and the column has at most this many distinct values.
MAX_CATEGORIES = 50
TIMEOUT_S = 10.0


def _shape(text: str) -> str:
    """The shape of a value: letters → X, digits → 0, everything else kept."""
    return re.sub(r"\d", "0", re.sub(r"[^\W\d_]", "X", text))


def _categories(con: duckdb.DuckDBPyConnection, col: Column) -> list[str] | None:
    distinct = con.execute(f"SELECT count(DISTINCT {col.sql}) FROM snap").fetchone()
    if not distinct or int(distinct[0]) > MAX_CATEGORIES:
        return None
    rows = con.execute(
        f"SELECT {col.sql} FROM snap WHERE {col.sql} IS NOT NULL GROUP BY 1 "
        f"HAVING count(*) >= {MIN_CATEGORY_ROWS} ORDER BY 1").fetchall()
    return [str(r[0]) for r in rows] or None


def _text_column(con: duckdb.DuckDBPyConnection, col: Column, rng: random.Random) -> list[Any]:
    cats = _categories(con, col)
    if cats:
        return [rng.choice(cats) for _ in range(SAMPLE_ROWS)]
    found = con.execute(f"SELECT {col.sql} FROM snap WHERE {col.sql} IS NOT NULL "
                        "LIMIT 200").fetchall()
    shapes = sorted({_shape(str(r[0]))[:40] for r in found}) or [""]
    if len(shapes) > 5:  # free text: the shape says nothing useful
        return [f"{col.name} {i + 1}" for i in range(SAMPLE_ROWS)]
    return [rng.choice(shapes) for _ in range(SAMPLE_ROWS)]


def _range_column(con: duckdb.DuckDBPyConnection, col: Column, rng: random.Random,
                  kind: str) -> list[Any]:
    expr = col.sql if kind == "number" else f"epoch({col.sql})"
    lo_hi = con.execute(f"SELECT quantile_cont({expr}, 0.1), quantile_cont({expr}, 0.9) "
                        f"FROM snap WHERE {col.sql} IS NOT NULL").fetchone()
    if not lo_hi or lo_hi[0] is None:
        return [None] * SAMPLE_ROWS
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    base = col.type.split("(")[0]
    out: list[Any] = []
    for _ in range(SAMPLE_ROWS):
        x = rng.uniform(lo, hi)
        if kind == "number":
            out.append(round(x) if base not in ("DOUBLE", "FLOAT", "REAL", "DECIMAL")
                       else round(x, 1))
        elif base == "DATE":
            out.append((date(1970, 1, 1) + timedelta(seconds=x)).isoformat())
        else:
            out.append((datetime(1970, 1, 1) + timedelta(seconds=round(x / 3600) * 3600))
                       .isoformat())
    return out


def synthetic_sample(snap: Snapshot, seed: str) -> dict[str, Any]:
    """``{"columns": [...], "rows": [...], "synthetic": True}`` for the snapshot's columns."""
    con = connect(readable=[snap.path], memory_limit="256MB")
    columns: dict[str, list[Any]] = {}
    try:
        con.execute(f"CREATE VIEW snap AS SELECT * FROM read_parquet("
                    f"{sql_literal_path(snap.path)})")
        with Timeout(con, TIMEOUT_S):
            for col in snap.all_columns or snap.columns:
                rng = random.Random(f"{seed}:{col.name}")
                base = col.type.split("(")[0]
                if not col.simple:
                    columns[col.name] = [None] * SAMPLE_ROWS
                elif base in NUMERIC_TYPES:
                    columns[col.name] = _range_column(con, col, rng, "number")
                elif base == "DATE" or base.startswith("TIMESTAMP"):
                    columns[col.name] = _range_column(con, col, rng, "date")
                elif base == "BOOLEAN":
                    columns[col.name] = [rng.random() < 0.5 for _ in range(SAMPLE_ROWS)]
                else:
                    columns[col.name] = _text_column(con, col, rng)
    except duckdb.Error as exc:
        raise explain_duckdb(exc) from None
    finally:
        con.close()
    names = list(columns)
    rows = [{n: json_value(columns[n][i]) for n in names} for i in range(SAMPLE_ROWS)]
    return {"synthetic": True,
            "columns": [{"name": c.name, "type": c.ckan_type}
                        for c in (snap.all_columns or snap.columns)],
            "rows": rows,
            "note": "Made-up rows with the same columns and types as the data; not real "
                    "records."}

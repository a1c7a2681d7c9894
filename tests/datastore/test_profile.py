"""Column profiles: exact numbers on a generated snapshot, and the time limit."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from citydata.datastore.profile import profile_snapshot
from citydata.errors import QueryError


@pytest.fixture
def snapshot(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    path = tmp_path / "snap.parquet"
    con = duckdb.connect()
    # 100 rows: n = 0..99; s cycles a/b/c/d, NULL when i % 10 == 0, '' when i % 25 == 1.
    con.execute(f"""
        COPY (SELECT
            i AS n,
            CASE WHEN i % 10 = 0 THEN NULL WHEN i % 25 = 1 THEN ''
                 ELSE chr(97 + CAST(i % 4 AS INTEGER)) END AS s,
            DATE '2024-01-01' + CAST(i AS INTEGER) AS d,
            i % 3 = 0 AS flag,
            CAST(i % 5 AS DOUBLE) / 2 AS half,
            [i, i] AS pair
        FROM range(100) t(i)) TO '{path}' (FORMAT parquet)""")
    cols = [{"name": r[0], "type": r[1]}
            for r in con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()]
    return path, cols


def test_profile_numbers_are_exact(snapshot) -> None:  # type: ignore[no-untyped-def]
    path, cols = snapshot
    p = {c["name"]: c for c in profile_snapshot(path, cols, top=3, bins=4)}

    n = p["n"]
    assert (n["kind"], n["rows"], n["empty"], n["distinct"]) == ("number", 100, 0, 100)
    assert (n["min"], n["max"], n["distinct_approx"]) == (0, 99, False)
    assert [(b["low"], b["high"], b["count"]) for b in n["histogram"]] == [
        (0, 24.75, 25), (24.75, 49.5, 25), (49.5, 74.25, 25), (74.25, 99, 25)]
    assert n["top"] == []  # 100 distinct values: a histogram, not top values

    s = p["s"]
    assert s["empty"] == 10 + 4  # NULL at i = 0, 10, ..., 90; '' at i = 1, 26, 51, 76
    assert s["distinct"] == 4
    assert s["min"] is None and s["histogram"] == []
    counts = {"a": 0, "b": 0, "c": 0, "d": 0}
    for i in range(100):
        if i % 10 and i % 25 != 1:
            counts["abcd"[i % 4]] += 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert [(t["value"], t["count"]) for t in s["top"]] == expected

    d = p["d"]
    assert (d["kind"], d["min"], d["max"]) == ("date", "2024-01-01", "2024-04-09")
    assert d["distinct"] == 100

    flag = p["flag"]
    assert flag["kind"] == "boolean"
    assert [(t["value"], t["count"]) for t in flag["top"]] == [(False, 66), (True, 34)]

    half = p["half"]  # 5 distinct values: gets both a histogram and top values
    assert (half["min"], half["max"], half["distinct"]) == (0.0, 2.0, 5)
    assert sum(b["count"] for b in half["histogram"]) == 100
    assert [t["count"] for t in half["top"]] == [20, 20, 20]

    pair = p["pair"]
    assert pair["kind"] == "other" and pair["distinct"] is None and pair["empty"] == 0


def test_one_value_column_has_one_bucket(tmp_path: Path) -> None:
    path = tmp_path / "one.parquet"
    duckdb.execute(f"COPY (SELECT 7 AS x FROM range(3)) TO '{path}' (FORMAT parquet)")
    (x,) = profile_snapshot(path, [{"name": "x", "type": "INTEGER"}])
    assert x["histogram"] == [{"low": 7.0, "high": 7.0, "count": 3}]
    assert x["top"] == [{"value": 7, "count": 3}]


def test_time_limit_is_a_query_error(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    duckdb.execute(
        f"COPY (SELECT i AS n, CAST(i AS VARCHAR) AS s FROM range(3000000) t(i)) "
        f"TO '{path}' (FORMAT parquet)")
    with pytest.raises(QueryError, match="longer than"):
        profile_snapshot(path, [{"name": "n", "type": "BIGINT"},
                                {"name": "s", "type": "VARCHAR"}], timeout=0.001)


def test_only_the_snapshot_is_readable(snapshot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, cols = snapshot
    # A column name is quoted, never run: a hostile recorded name is just an unknown column.
    with pytest.raises(QueryError):
        profile_snapshot(path, [{"name": "x\") FROM read_csv('/etc/passwd') --",
                                 "type": "VARCHAR"}])

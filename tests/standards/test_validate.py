"""validate_snapshot: every problem kind found with its row, field and value; counts exact."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from citydata.standards.core_standards import EV_CHARGE_POINTS
from citydata.standards.validate import validate_snapshot

SCHEMA = {
    "name": "test-points",
    "version": "1.0.0",
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True, "unique": True}},
        {"name": "kind", "type": "string", "constraints": {"enum": ["a", "b"]}},
        {"name": "code", "type": "string", "constraints": {"pattern": "[A-Z]{2}[0-9]"}},
        {"name": "power", "type": "number", "constraints": {"minimum": 0, "maximum": 350}},
        {"name": "count", "type": "integer"},
        {"name": "opened", "type": "date"},
        {"name": "seen", "type": "datetime"},
        {"name": "web", "type": "string", "format": "uri"},
    ],
}
HEADER = "id, kind, code, power, count, opened, seen, web"


def parquet(tmp_path: Path, rows: list[tuple], header: str = HEADER) -> Path:
    """Write rows (all as text, as a CSV would give) to Parquet with DuckDB COPY."""
    out = tmp_path / "snap.parquet"
    con = duckdb.connect()
    cols = [c.strip() for c in header.split(",")]
    con.execute(f"CREATE TABLE t ({', '.join(f'{c} VARCHAR' for c in cols)})")
    con.executemany(f"INSERT INTO t VALUES ({', '.join('?' for _ in cols)})", rows)
    con.execute(f"COPY t TO '{out}' (FORMAT parquet)")
    con.close()
    return out


GOOD = ("p1", "a", "AB1", "7.4", "3", "2024-01-02", "2024-01-02T10:00:00Z", "https://x.org")


def test_valid_file_passes(tmp_path):
    rows = [GOOD, ("p2", "b", "CD2", "0", "-1", "2023-12-31", "2023-12-31 23:59:59", None)]
    report = validate_snapshot(parquet(tmp_path, rows), SCHEMA)
    assert report == {
        "valid": True,
        "error_count": 0,
        "errors": [],
        "by_field": {},
        "extra_columns": [],
        "missing_optional_columns": [],
    }


@pytest.mark.parametrize(
    ("column", "bad", "problem", "message"),
    [
        ("id", None, "required", "A value is required"),
        ("kind", "c", "enum", "‘c’ is not one of the allowed values: a, b"),
        ("code", "ab1", "pattern", "‘ab1’ does not match the pattern [A-Z]{2}[0-9]"),
        ("power", "abc", "type", "‘abc’ is not a number"),
        ("power", "-0.5", "minimum", "‘-0.5’ is below the minimum of 0"),
        ("power", "351", "maximum", "‘351’ is above the maximum of 350"),
        ("count", "2.5", "type", "‘2.5’ is not a whole number"),
        ("opened", "2024-02-30", "type", "‘2024-02-30’ is not a date (YYYY-MM-DD)"),
        ("seen", "yesterday", "type", "‘yesterday’ is not a date and time (ISO 8601)"),
        ("web", "not a url", "format", "‘not a url’ is not a valid uri"),
    ],
)
def test_each_problem_kind(tmp_path, column, bad, problem, message):
    cols = [c.strip() for c in HEADER.split(",")]
    broken = list(GOOD)
    broken[cols.index(column)] = bad
    if column != "id":
        broken[0] = "p2"
    rows = [("p1", *GOOD[1:]), tuple(broken), ("p3", *GOOD[1:])]
    report = validate_snapshot(parquet(tmp_path, rows), SCHEMA)
    assert not report["valid"] and report["error_count"] == 1
    assert report["by_field"] == {column: {problem: 1}}
    assert report["errors"] == [
        {"row": 2, "field": column, "value": bad, "problem": problem, "message": message}
    ]


def test_unique_counts_every_repeat_after_the_first(tmp_path):
    rows = [(v, *GOOD[1:]) for v in ["p1", "p2", "p1", "p3", "p1", "p2"]]
    report = validate_snapshot(parquet(tmp_path, rows), SCHEMA)
    assert report["by_field"] == {"id": {"unique": 3}}
    assert [(e["row"], e["value"]) for e in report["errors"]] == [(3, "p1"), (5, "p1"), (6, "p2")]
    assert report["errors"][0]["message"].startswith("‘p1’ appears more than once (first in row 1)")


def test_missing_and_extra_columns(tmp_path):
    path = parquet(tmp_path, [("p1", "a", "x")], header="id, kind, colour")
    schema = {
        **SCHEMA,
        "fields": [
            {**f, "constraints": {**f.get("constraints", {}), "required": True}}
            if f["name"] in ("code", "power")
            else f
            for f in SCHEMA["fields"]
        ],
    }
    report = validate_snapshot(path, schema)
    missing = {e["field"] for e in report["errors"] if e["problem"] == "missing-column"}
    assert missing == {"code", "power"}
    assert report["error_count"] == 2 and report["extra_columns"] == ["colour"]
    assert report["missing_optional_columns"] == ["count", "opened", "seen", "web"]
    assert report["errors"][0]["row"] is None
    assert report["errors"][0]["message"] == "The column ‘code’ is missing"


def test_counts_exact_examples_capped(tmp_path):
    out = tmp_path / "big.parquet"
    duckdb.sql(
        "COPY (SELECT 'p' || i AS id, CASE WHEN i % 10 = 0 THEN 'zzz' ELSE 'a' END AS kind, "
        "'AB1' AS code, CASE WHEN i % 4 = 0 THEN 'n/a' ELSE '1' END AS power, '1' AS count, "
        "'2024-01-01' AS opened, '2024-01-01 00:00:00' AS seen, NULL AS web "
        f"FROM range(1, 200001) r(i)) TO '{out}' (FORMAT parquet)"
    )
    report = validate_snapshot(out, SCHEMA, max_examples=10)
    assert report["by_field"] == {"kind": {"enum": 20000}, "power": {"type": 50000}}
    assert report["error_count"] == 70000 and len(report["errors"]) == 10
    assert report["errors"][0] == {
        "row": 4,
        "field": "power",
        "value": "n/a",
        "problem": "type",
        "message": "‘n/a’ is not a number",
    }


def test_typed_columns_and_composite_key(tmp_path):
    out = tmp_path / "aq.parquet"
    duckdb.sql(
        "COPY (SELECT * FROM (VALUES ('CD1', 'NO2', 40.5, TIMESTAMP '2024-01-01 10:00'), "
        "('CD1', 'NO2', -3.0, TIMESTAMP '2024-01-01 10:00'), "
        "('CD1', 'PM10', 12.0, TIMESTAMP '2024-01-01 10:00')) v(site, pollutant, value, ts)) "
        f"TO '{out}' (FORMAT parquet)"
    )
    schema = {
        "name": "aq",
        "version": "1.0.0",
        "fields": [
            {"name": "site"},
            {"name": "pollutant"},
            {"name": "value", "type": "number", "minimum": 0},
            {"name": "ts", "type": "datetime"},
        ],
        "primaryKey": ["site", "pollutant", "ts"],
    }
    report = validate_snapshot(out, schema)
    assert report["by_field"] == {"value": {"minimum": 1}, "site, pollutant, ts": {"unique": 1}}
    dup = next(e for e in report["errors"] if e["problem"] == "unique")
    assert dup["row"] == 2 and dup["value"] == ["CD1", "NO2", "2024-01-01T10:00:00"]


def test_core_ev_standard_on_a_realistic_file(tmp_path):
    header = (
        "id, name, operator, address, postcode, lat, lon, connector_type, power_kw, "
        "status, last_updated"
    )
    rows = [
        (
            "cp-1",
            "Camden Town",
            "Source London",
            "1 High St",
            "NW1 7JE",
            "51.539",
            "-0.142",
            "IEC_62196_T2",
            "7",
            "AVAILABLE",
            "2024-05-01T09:00:00Z",
        ),
        (
            "cp-2",
            "Euston Rd",
            "ubitricity",
            None,
            "nw18nh",
            "51.527",
            "-0.133",
            "TYPE2",
            "22",
            "AVAILABLE",
            "2024-05-01T09:00:00Z",
        ),
    ]
    report = validate_snapshot(parquet(tmp_path, rows, header), EV_CHARGE_POINTS)
    assert report["by_field"] == {"connector_type": {"enum": 1}}

"""Validate a Parquet snapshot against a Table Schema, in DuckDB, and apply the verdict.

Every constraint of every field is counted in a single scan (one ``count(*) FILTER (WHERE ...)``
per check); uniqueness takes one ``GROUP BY`` per unique field or key. Examples are then read
with ``LIMIT`` only for the checks that failed, so a valid file costs one or two passes however
many rows it has. Counts are exact; examples are capped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from citydata.datastore.engine import INTEGER_TYPES, NUMERIC_TYPES, connect, sql_literal_path
from citydata.datastore.engine import quote_ident as q
from citydata.errors import NotFound, field_error

TRUE_VALUES = ("true", "yes", "1", "t", "y")
FALSE_VALUES = ("false", "no", "0", "f", "n")
FORMAT_PATTERNS = {
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "uri": r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+",
    "uuid": r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
}
TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (ISO 8601)",
    "time": "a time (HH:MM:SS)",
    "year": "a year",
    "yearmonth": "a year and month",
}


def lit(value: Any) -> str:
    """A SQL literal for a schema value (strings quoted, numbers as they are)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Check:
    field: str
    problem: str
    condition: str  # SQL: true for a failing row
    message: str  # format string with {value}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _shown(value: Any) -> str:
    text = str(value)
    return "\u2018" + (text if len(text) <= 60 else text[:57] + "...") + "\u2019"


def _field_checks(f: dict[str, Any], col_type: str) -> list[Check]:
    """The SQL conditions that find rows breaking ``f``, given the snapshot column's type."""
    name, ftype = f["name"], f.get("type", "string")
    cons = f.get("constraints", {})
    c = q(name)
    s = f"CAST({c} AS VARCHAR)"
    present = f"({c} IS NOT NULL AND trim({s}) <> '')"
    base = col_type.split("(")[0]
    checks: list[Check] = []
    if cons.get("required"):
        checks.append(Check(name, "required", f"NOT {present}", "A value is required"))
    typed: str | None = None  # SQL for the value as its schema type (NULL when it is not one)
    bad: str | None = None
    if ftype == "number":
        typed = c if base in NUMERIC_TYPES else f"TRY_CAST({s} AS DOUBLE)"
        bad = None if base in NUMERIC_TYPES else f"{typed} IS NULL"
    elif ftype == "integer":
        if base in INTEGER_TYPES:
            typed = c
        elif base in NUMERIC_TYPES:
            typed, bad = c, f"{c} <> trunc({c})"
        else:
            typed = f"TRY_CAST({s} AS HUGEINT)"
            bad = f"NOT regexp_full_match(trim({s}), '[+-]?[0-9]+')"
    elif ftype == "boolean" and base != "BOOLEAN":
        words = ", ".join(lit(w) for w in TRUE_VALUES + FALSE_VALUES)
        bad = f"lower(trim({s})) NOT IN ({words})"
    elif ftype == "date":
        typed = c if base == "DATE" else f"TRY_CAST(trim({s}) AS DATE)"
        bad = None if base == "DATE" else f"{typed} IS NULL"
    elif ftype == "datetime":
        ok = base.startswith("TIMESTAMP")
        typed = c if ok else f"TRY_CAST(trim({s}) AS TIMESTAMP)"
        bad = None if ok else f"{typed} IS NULL"
    elif ftype == "time" and base != "TIME":
        bad = f"TRY_CAST(trim({s}) AS TIME) IS NULL"
    elif ftype == "year":
        typed = f"TRY_CAST({s} AS INTEGER)"
        bad = f"NOT regexp_full_match(trim({s}), '[0-9]{{4}}')"
    elif ftype == "yearmonth":
        bad = f"NOT regexp_full_match(trim({s}), '[0-9]{{4}}-(0[1-9]|1[0-2])')"
    elif ftype == "string" and f.get("format") in FORMAT_PATTERNS:
        pattern = FORMAT_PATTERNS[f["format"]]
        checks.append(
            Check(
                name,
                "format",
                f"{present} AND NOT regexp_full_match({s}, {lit(pattern)})",
                "{value} is not a valid " + f["format"],
            )
        )
    if bad:
        checks.append(
            Check(
                name,
                "type",
                f"{present} AND {bad}",
                "{value} is not " + TYPE_WORDS.get(ftype, ftype),
            )
        )
    ok_type = f"{present}" + (f" AND NOT ({bad})" if bad else "")
    if "enum" in cons:
        allowed = cons["enum"]
        if ftype in ("number", "integer") and typed:
            cond = f"{typed} NOT IN ({', '.join(lit(float(v)) for v in allowed)})"
        else:
            cond = f"{s} NOT IN ({', '.join(lit(str(v)) for v in allowed)})"
        shown = ", ".join(str(v) for v in allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        checks.append(
            Check(
                name,
                "enum",
                f"{ok_type} AND {cond}",
                "{value} is not one of the allowed values: " + shown,
            )
        )
    if "pattern" in cons:
        checks.append(
            Check(
                name,
                "pattern",
                f"{present} AND NOT regexp_full_match({s}, {lit(cons['pattern'])})",
                "{value} does not match the pattern " + cons["pattern"],
            )
        )
    for key, op, words in (
        ("minimum", "<", "below the minimum of"),
        ("maximum", ">", "above the maximum of"),
    ):
        if key in cons and typed:
            bound = cons[key]
            if ftype == "date":
                bound_sql = f"DATE {lit(str(bound))}"
            elif ftype == "datetime":
                bound_sql = f"TIMESTAMP {lit(str(bound))}"
            else:
                bound_sql = lit(bound)
            checks.append(
                Check(
                    name,
                    key,
                    f"{ok_type} AND {typed} {op} {bound_sql}",
                    "{value} is " + f"{words} {bound}",
                )
            )
    for key, op, words in (("minLength", "<", "shorter than"), ("maxLength", ">", "longer than")):
        if key in cons:
            checks.append(
                Check(
                    name,
                    key,
                    f"{present} AND length({s}) {op} {int(cons[key])}",
                    "{value} is " + f"{words} {cons[key]} characters",
                )
            )
    return checks


def validate_snapshot(
    parquet_path: Path,
    schema: dict[str, Any],
    *,
    max_examples: int = 50,
    memory_limit: str = "1GB",
) -> dict[str, Any]:
    """Check a snapshot against a (normalised) Table Schema.

    Returns ``{"valid", "error_count", "errors": [{"row", "field", "value", "problem",
    "message"}], "by_field": {field: {problem: count}}, "extra_columns": [...]}``; ``row`` is
    the 1-based data row (``None`` for a missing column). Counts are exact, ``errors`` holds at
    most ``max_examples`` examples, earliest rows first.
    """
    from citydata.standards.registry import normalise

    schema = normalise(schema)
    con = connect(readable=[parquet_path], memory_limit=memory_limit)
    try:
        con.execute(
            "CREATE TEMP VIEW t AS SELECT file_row_number + 1 AS __citydata_row, * "
            f"FROM read_parquet({sql_literal_path(parquet_path)}, file_row_number=true)"
        )
        columns = {
            str(r[0]): str(r[1])
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({sql_literal_path(parquet_path)})"
            ).fetchall()
        }
        fields = schema["fields"]
        wanted = [f["name"] for f in fields]
        errors: list[dict[str, Any]] = []
        by_field: dict[str, dict[str, int]] = {}

        def count(field: str, problem: str, n: int) -> None:
            if n:
                by_field.setdefault(field, {})[problem] = n

        pk = schema.get("primaryKey") or []
        # A missing column is an error when the standard needs its values (required or part of
        # the key); an optional column may be left out, and is listed so publishers can see it.
        missing_optional = []
        for f in fields:
            name = f["name"]
            if name in columns:
                continue
            if not (f["constraints"].get("required") or name in pk):
                missing_optional.append(name)
                continue
            count(name, "missing-column", 1)
            errors.append(
                {
                    "row": None,
                    "field": name,
                    "value": None,
                    "problem": "missing-column",
                    "message": f"The column {_shown(name)} is missing",
                }
            )
        checks: list[Check] = []
        for f in fields:
            if f["name"] not in columns:
                continue
            if f["name"] in pk and len(pk) == 1:
                f = {**f, "constraints": {**f["constraints"], "required": True, "unique": True}}
            elif f["name"] in pk:
                f = {**f, "constraints": {**f["constraints"], "required": True}}
            checks.extend(_field_checks(f, columns[f["name"]]))
        examples: list[dict[str, Any]] = []
        if checks:
            counts = (
                con.execute(
                    "SELECT "
                    + ", ".join(f"count(*) FILTER (WHERE {ch.condition})" for ch in checks)
                    + " FROM t"
                ).fetchone()
                or ()
            )
            for ch, n in zip(checks, counts, strict=True):
                count(ch.field, ch.problem, int(n))
                if n:
                    rows = con.execute(
                        f"SELECT __citydata_row, {q(ch.field)} FROM t WHERE {ch.condition} "
                        f"ORDER BY __citydata_row LIMIT {int(max_examples)}"
                    ).fetchall()
                    for row, value in rows:
                        examples.append(
                            {
                                "row": int(row),
                                "field": ch.field,
                                "value": _jsonable(value),
                                "problem": ch.problem,
                                "message": ch.message.replace(
                                    "{value}", _shown("" if value is None else value)
                                ),
                            }
                        )
        unique_sets = [
            [f["name"]] for f in fields if f["constraints"].get("unique") or (pk == [f["name"]])
        ]
        if len(pk) > 1:
            unique_sets.append(pk)
        for keys in unique_sets:
            if not all(k in columns for k in keys):
                continue
            n, found = _duplicates(con, keys, max_examples)
            label = ", ".join(keys)
            count(label, "unique", n)
            for row, values, first in found:
                shown = _shown(values[0] if len(values) == 1 else ", ".join(map(str, values)))
                examples.append(
                    {
                        "row": row,
                        "field": label,
                        "value": _jsonable(values[0])
                        if len(values) == 1
                        else [_jsonable(v) for v in values],
                        "problem": "unique",
                        "message": f"{shown} appears more than once (first in row {first}); "
                        f"{label} must be unique",
                    }
                )
        examples.sort(key=lambda e: (e["row"], e["field"]))
        errors.extend(examples)
        error_count = sum(sum(p.values()) for p in by_field.values())
        return {
            "valid": error_count == 0,
            "error_count": error_count,
            "errors": errors[:max_examples],
            "by_field": by_field,
            "extra_columns": [c for c in columns if c not in wanted],
            "missing_optional_columns": missing_optional,
        }
    finally:
        con.close()


def _duplicates(con: Any, keys: list[str], limit: int) -> tuple[int, list[tuple]]:
    """How many rows repeat an earlier row's key, and the first few of them."""
    cols = ", ".join(q(k) for k in keys)
    not_null = " AND ".join(f"{q(k)} IS NOT NULL" for k in keys)
    ranked = (
        f"SELECT __citydata_row, {cols}, "
        f"row_number() OVER (PARTITION BY {cols} ORDER BY __citydata_row) AS __k, "
        f"min(__citydata_row) OVER (PARTITION BY {cols}) AS __first "
        f"FROM t WHERE {not_null}"
    )
    counted = con.execute(
        f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM t WHERE {not_null} "
        f"GROUP BY {cols} HAVING count(*) > 1)"
    ).fetchone()
    n = int(counted[0]) if counted else 0
    if not n:
        return 0, []
    rows = con.execute(
        f"SELECT * FROM ({ranked}) WHERE __k > 1 ORDER BY __citydata_row LIMIT {int(limit)}"
    ).fetchall()
    return n, [(int(r[0]), list(r[1 : 1 + len(keys)]), int(r[-1])) for r in rows]


# -- wiring into the catalog -----------------------------------------------------------------
def check_conforms_to(value: str, *, registry: Any = None) -> str:
    """A dataset's ``conforms_to`` made canonical ("name@version"; a bare name means the newest
    version), or ``ValidationError`` on the field if no such standard is registered."""
    from citydata.standards.registry import default_registry

    value = (value or "").strip()
    if not value:
        return ""
    registry = registry or default_registry()
    try:
        schema = registry.resolve(value)
    except NotFound as exc:
        raise field_error("conforms_to", exc.message) from None
    return f"{schema['name']}@{schema['version']}"


def apply_standard(ctx: Any, dataset: Any, version: Any, *, registry: Any = None) -> None:
    """Validate a freshly ingested version against its dataset's declared standard.

    Sets ``version.ingest_status`` to ``"invalid"`` if the snapshot breaks the standard and
    records the validation report under ``"validation"`` in ``version.report``. Does nothing for
    datasets without ``conforms_to`` or versions without a snapshot. A standard that is no longer
    registered is noted in the report and does not block the upload.
    """
    from citydata.standards.registry import default_registry

    conforms_to = (getattr(dataset, "conforms_to", "") or "").strip()
    if not conforms_to or version.ingest_status != "ok" or not version.snapshot_sha256:
        return
    registry = registry or default_registry()
    report = json.loads(version.report or "{}")
    try:
        schema = registry.resolve(conforms_to)
    except NotFound as exc:
        report["validation"] = {"standard": conforms_to, "skipped": exc.message}
        version.report = json.dumps(report)
        return
    result = validate_snapshot(ctx.files.blob_path(version.snapshot_sha256), schema)
    report["validation"] = {"standard": f"{schema['name']}@{schema['version']}", **result}
    version.report = json.dumps(report)
    if not result["valid"]:
        version.ingest_status = "invalid"


__all__ = ["apply_standard", "check_conforms_to", "validate_snapshot"]

"""Compare two versions of a tabular resource: which rows were added, removed or changed.

Rows are matched on a key: the columns the caller names, else the primary key of the dataset's
declared standard, else a column called ``id`` or ending ``_id`` that is unique and filled in
both versions. Without any key the versions are compared as bags of whole rows (a changed row
then shows as one removed and one added). Everything runs in DuckDB over the two Parquet
snapshots; only the example rows (at most ``limit`` of each kind) come back to Python.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from citydata.catalog.context import Ctx
from citydata.catalog.resources import show_resource, version_for_download
from citydata.datastore.engine import NUMERIC_TYPES, Timeout, connect, sql_literal_path
from citydata.datastore.engine import quote_ident as q
from citydata.errors import Forbidden, NotFound, QueryError, field_error
from citydata.storage.models import Dataset, ResourceVersion

MAX_LIMIT = 10_000
TIMEOUT_SECONDS = 120.0


def jsonable(value: Any) -> Any:
    """A DuckDB value as plain JSON (dates as ISO strings, decimals as numbers)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _version(
    ctx: Ctx, resource_id: str, number: int, which: str
) -> tuple[Dataset, ResourceVersion]:
    try:
        ds, _, v, decision = version_for_download(ctx, resource_id, number, action="read",
                                                   whole_file=False)
    except NotFound:
        show_resource(ctx, resource_id)  # the resource itself missing or hidden stays a 404
        raise field_error(which, f"Version {number} of this resource does not exist") from None
    if decision.columns is not None and decision.grant is not None:
        raise Forbidden(f"Comparing versions shows every column, and agreement "
                        f"{decision.grant.reference} allows only some")
    if not v.snapshot_sha256:
        why = (
            f"it could not be read as a table ({v.ingest_status})"
            if v.ingest_status
            else f"{v.format or 'this format'} is not tabular data"
        )
        raise field_error(which, f"Version {number} cannot be compared: {why}")
    return ds, v


def _comparable(col: str, side: str, types: tuple[str, str]) -> str:
    """``side.col`` in a type both versions share: numbers as DOUBLE if either changed type,
    text otherwise, so a column retyped between versions still compares."""
    ref = f"{side}.{q(col)}" if side else q(col)
    if types[0] == types[1]:
        return ref
    if all(t.split("(")[0] in NUMERIC_TYPES for t in types):
        return f"CAST({ref} AS DOUBLE)"
    return f"CAST({ref} AS VARCHAR)"


def _standard_key(dataset: Dataset) -> list[str]:
    if not dataset.conforms_to:
        return []
    try:
        from citydata.standards.registry import default_registry

        schema = default_registry().resolve(dataset.conforms_to)
    except (NotFound, ImportError):
        return []
    return list(schema.get("primaryKey") or [])


def _check_key(con: duckdb.DuckDBPyConnection, view: str, key: list[str], number: int) -> None:
    cols = ", ".join(q(k) for k in key)
    label = ", ".join(key)
    nulls = con.execute(
        f"SELECT count(*) FROM {view} WHERE " + " OR ".join(f"{q(k)} IS NULL" for k in key)
    ).fetchone()
    if nulls and nulls[0]:
        raise field_error(
            "key",
            f"The key ({label}) is empty in {nulls[0]:,} rows of version "
            f"{number}; choose a key that identifies every row",
        )
    dups = con.execute(
        f"SELECT {cols}, count(*) AS n FROM {view} GROUP BY ALL HAVING count(*) > 1 "
        f"ORDER BY n DESC, {cols} LIMIT 3"
    ).fetchall()
    if dups:
        shown = "; ".join(
            f"{', '.join(str(x) for x in row[:-1])} ({row[-1]} times)" for row in dups
        )
        raise field_error("key", f"The key ({label}) is not unique in version {number}: {shown}")


def _detect_key(con: duckdb.DuckDBPyConnection, common: list[str]) -> list[str]:
    candidates = [c for c in common if c.lower() == "id"]
    candidates += [c for c in common if c.lower().endswith("_id") and c.lower() != "id"]
    for col in candidates:
        fine = True
        for view in ("a", "b"):
            row = con.execute(
                f"SELECT count(*), count({q(col)}), count(DISTINCT {q(col)}) FROM {view}"
            ).fetchone()
            if not row or not (row[0] == row[1] == row[2]):
                fine = False
                break
        if fine:
            return [col]
    return []


def diff_versions(
    ctx: Ctx,
    resource_id: str,
    from_version: int,
    to_version: int,
    *,
    key: list[str] | None = None,
    limit: int = 1000,
) -> dict[str, Any]:
    """What changed from ``from_version`` to ``to_version`` of a tabular resource.

    Both versions are reached through the access policy. Returns the key used and how it was
    chosen, summary counts (added, removed, changed, unchanged), schema changes and up to
    ``limit`` example rows of each kind; changed rows list each changed field's old and new
    value. Raises ``ValidationError`` (400) for an unknown version, a non-tabular version, or
    a key column that is missing or does not identify rows.
    """
    if not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise field_error("limit", f"Give a limit between 0 and {MAX_LIMIT:,}")
    ds, va = _version(ctx, resource_id, from_version, "from")
    _, vb = _version(ctx, resource_id, to_version, "to")
    paths = [
        ctx.files.blob_path(va.snapshot_sha256 or ""),
        ctx.files.blob_path(vb.snapshot_sha256 or ""),
    ]
    spill = ctx.files.tmp_dir / f"diff-{uuid.uuid4().hex}"
    con = connect(readable=paths, temp_dir=spill)
    try:
        with Timeout(con, TIMEOUT_SECONDS):
            return _diff(con, ds, paths, va, vb, key, limit) | {"resource_id": resource_id}
    except duckdb.Error as exc:
        raise QueryError(
            f"The versions could not be compared: {str(exc).splitlines()[0][:300]}"
        ) from None
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _diff(
    con: duckdb.DuckDBPyConnection,
    ds: Dataset,
    paths: list,
    va: ResourceVersion,
    vb: ResourceVersion,
    key: list[str] | None,
    limit: int,
) -> dict[str, Any]:
    for view, path in zip(("a", "b"), paths, strict=True):
        con.execute(
            f"CREATE TEMP VIEW {view} AS SELECT * FROM read_parquet({sql_literal_path(path)})"
        )
    ta = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE a").fetchall()}
    tb = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE b").fetchall()}
    common = [c for c in tb if c in ta]
    schema = {
        "added": [{"name": c, "type": t} for c, t in tb.items() if c not in ta],
        "removed": [{"name": c, "type": t} for c, t in ta.items() if c not in tb],
        "retyped": [{"name": c, "from": ta[c], "to": tb[c]} for c in common if ta[c] != tb[c]],
    }
    if key:
        source = "given"
        for k in key:
            for number, types in ((va.version, ta), (vb.version, tb)):
                if k not in types:
                    raise field_error("key", f"The key column {k!r} is not in version {number}")
    else:
        key = [k for k in _standard_key(ds) if k in ta and k in tb]
        source = "standard" if key else ""
        if not key:
            key = _detect_key(con, common)
            source = "detected" if key else "row"
    if source != "row":
        _check_key(con, "a", key, va.version)
        _check_key(con, "b", key, vb.version)
    cmp = {
        c: (_comparable(c, "a", (ta[c], tb[c])), _comparable(c, "b", (ta[c], tb[c])))
        for c in common
    }
    counts = {
        "rows_from": _scalar(con, "SELECT count(*) FROM a"),
        "rows_to": _scalar(con, "SELECT count(*) FROM b"),
    }
    out: dict[str, Any] = {
        "dataset": ds.name,
        "from": va.version,
        "to": vb.version,
        "key": key,
        "key_source": source,
        "schema": schema,
        "columns": common,
        "limit": limit,
    }
    if source == "row":
        out.update(_row_diff(con, common, {c: (ta[c], tb[c]) for c in common}, counts, limit))
    else:
        out.update(_keyed_diff(con, key, common, cmp, counts, list(ta), list(tb), limit))
    out["truncated"] = {k: out["summary"][k] > len(out[k]) for k in ("added", "removed", "changed")}
    return out


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description or []]
    return [{n: jsonable(v) for n, v in zip(names, r, strict=True)} for r in cur.fetchall()]


def _keyed_diff(
    con: duckdb.DuckDBPyConnection,
    key: list[str],
    common: list[str],
    cmp: dict[str, tuple[str, str]],
    counts: dict[str, int],
    cols_a: list[str],
    cols_b: list[str],
    limit: int,
) -> dict[str, Any]:
    on = " AND ".join(f"{cmp[k][0]} = {cmp[k][1]}" for k in key)
    others = [c for c in common if c not in key]
    differs = [f"({cmp[c][0]} IS DISTINCT FROM {cmp[c][1]})" for c in others]
    any_diff = " OR ".join(differs) or "false"
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {any_diff}) FROM a JOIN b ON {on}"
    ).fetchone() or (0, 0)
    matched, changed = int(row[0]), int(row[1])
    order_b = ", ".join(f"b.{q(k)}" for k in key)
    order_a = ", ".join(f"a.{q(k)}" for k in key)
    added = _rows(con, f"SELECT b.* FROM b ANTI JOIN a ON {on} ORDER BY {order_b} LIMIT {limit}")
    removed = _rows(con, f"SELECT a.* FROM a ANTI JOIN b ON {on} ORDER BY {order_a} LIMIT {limit}")
    changed_rows: list[dict[str, Any]] = []
    if others and limit:
        select = ", ".join([f"b.{q(c)}" for c in common] + [f"a.{q(c)}" for c in others] + differs)
        cur = con.execute(
            f"SELECT {select} FROM a JOIN b ON {on} WHERE {any_diff} ORDER BY {order_b} "
            f"LIMIT {limit}"
        )
        n, m = len(common), len(others)
        for r in cur.fetchall():
            new = dict(zip(common, (jsonable(v) for v in r[:n]), strict=True))
            old = dict(zip(others, (jsonable(v) for v in r[n : n + m]), strict=True))
            flags = r[n + m :]
            changed_rows.append(
                {
                    "key": {k: new[k] for k in key},
                    "row": new,
                    "changes": [
                        {"field": c, "old": old[c], "new": new[c]}
                        for c, f in zip(others, flags, strict=True)
                        if f
                    ],
                }
            )
    summary = {
        "added": counts["rows_to"] - matched,
        "removed": counts["rows_from"] - matched,
        "changed": changed,
        "unchanged": matched - changed,
        **counts,
    }
    return {"summary": summary, "added": added, "removed": removed, "changed": changed_rows}


def _row_diff(
    con: duckdb.DuckDBPyConnection,
    common: list[str],
    types: dict[str, tuple[str, str]],
    counts: dict[str, int],
    limit: int,
) -> dict[str, Any]:
    # Bag semantics (EXCEPT ALL): a row present twice before and once after counts as removed
    # once. Only the columns both versions have are compared.
    if not common:
        added_n, removed_n = counts["rows_to"], counts["rows_from"]
        return {
            "summary": {
                "added": added_n,
                "removed": removed_n,
                "changed": 0,
                "unchanged": 0,
                **counts,
            },
            "added": [],
            "removed": [],
            "changed": [],
        }
    sel_a = ", ".join(f"{_comparable(c, '', types[c])} AS {q(c)}" for c in common)
    sel_b = ", ".join(f"{_comparable(c, '', types[c])} AS {q(c)}" for c in common)
    con.execute(f"CREATE TEMP VIEW ra AS SELECT {sel_a} FROM a")
    con.execute(f"CREATE TEMP VIEW rb AS SELECT {sel_b} FROM b")
    added_sql = "SELECT * FROM rb EXCEPT ALL SELECT * FROM ra"
    removed_sql = "SELECT * FROM ra EXCEPT ALL SELECT * FROM rb"
    added_n = _scalar(con, f"SELECT count(*) FROM ({added_sql})")
    removed_n = _scalar(con, f"SELECT count(*) FROM ({removed_sql})")
    order = ", ".join(q(c) for c in common)
    return {
        "summary": {
            "added": added_n,
            "removed": removed_n,
            "changed": 0,
            "unchanged": counts["rows_to"] - added_n,
            **counts,
        },
        "added": _rows(con, f"SELECT * FROM ({added_sql}) ORDER BY {order} LIMIT {limit}"),
        "removed": _rows(con, f"SELECT * FROM ({removed_sql}) ORDER BY {order} LIMIT {limit}"),
        "changed": [],
    }


__all__ = ["diff_versions", "jsonable", "MAX_LIMIT"]

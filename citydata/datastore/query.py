"""Row queries over one tabular snapshot: filters, full-text, sort, paging, facets, projection.

Framework-free: the CKAN ``datastore_search`` action, the native rows API and the exports all
build a :class:`RowQuery` and run it here. Column identifiers are only ever taken from the
snapshot's recorded columns (a name the caller gives is looked up, never interpolated); every
value is a bound parameter.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from citydata.catalog.context import Ctx
from citydata.catalog.resources import version_for_description, version_for_download
from citydata.datastore.engine import Timeout, quote_ident, sql_literal_path
from citydata.datastore.pool import readers
from citydata.errors import NotFound, QueryError

if TYPE_CHECKING:
    from citydata.access.policy import Decision
    from citydata.storage.models import Dataset, Resource, ResourceVersion

log = logging.getLogger("citydata.datastore")

DEFAULT_TIMEOUT_S = 10.0
FACET_LIMIT = 30
#: The snapshot's stable row position (DuckDB's parquet ``file_row_number``), the tiebreaker
#: that makes every order total and keyset pages gap- and duplicate-free.
ROWNUM = "file_row_number"
#: Below this many rows a page is one SELECT: reading a small snapshot whole costs less than
#: the second statement of late materialisation (see ``_late_rows``).
LATE_ROWS_MIN = 50_000
OPERATORS = (
    "exact",
    "not",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "notin",
    "contains",
    "startswith",
    "isnull",
)
_COMPARE = {"exact": "=", "not": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SIMPLE_TYPE = re.compile(r"^[A-Z][A-Z0-9_ ]*(\(\d+(\s*,\s*\d+)?\))?$")
_CKAN_TYPES = (
    (("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
      "UINTEGER", "UBIGINT", "UHUGEINT"), "int"),
    (("DOUBLE", "FLOAT", "REAL", "DECIMAL"), "numeric"),
    (("VARCHAR", "UUID", "ENUM"), "text"),
    (("TIMESTAMP",), "timestamp"),
    (("DATE",), "date"),
    (("TIME",), "time"),
    (("BOOLEAN",), "bool"),
    (("INTERVAL",), "interval"),
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type as recorded at ingest

    @property
    def simple(self) -> bool:
        """A scalar type (not STRUCT/LIST/MAP/JSON): sortable, facetable, castable."""
        return bool(_SIMPLE_TYPE.match(self.type)) and self.type not in ("JSON", "BLOB")

    @property
    def is_text(self) -> bool:
        return self.type == "VARCHAR"

    @property
    def ckan_type(self) -> str:
        if not self.simple:
            return "json"
        base = self.type.split("(")[0].strip()
        for names, kind in _CKAN_TYPES:
            if any(base == n or base.startswith(n + " ") for n in names):
                return kind
        return "text"

    @property
    def sql(self) -> str:
        return quote_ident(self.name)


@dataclass
class Snapshot:
    """One queryable version of a tabular resource, after the access policy said yes.

    ``columns`` are only those the reader may see: under an agreement that allows some
    columns, the others are not there — no query can select, filter, sort or search them."""

    resource_id: str
    version: int
    path: Path
    columns: list[Column]
    row_count: int
    dataset_name: str = ""
    access_level: str = "open"
    decision: Decision | None = None
    #: Every column of the snapshot, for callers that describe (not read) it.
    all_columns: list[Column] = field(default_factory=list)

    @property
    def restricted(self) -> bool:
        return len(self.columns) != len(self.all_columns)

    def column(self, name: str, *, param: str | None = None) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        valid = [c.name for c in self.columns]
        key = param or name
        raise QueryError(
            f"Unknown column {name!r}; valid columns are: {', '.join(valid)}",
            fields={key: [f"Unknown column; valid columns: {', '.join(valid)}"]},
        )


def open_snapshot(
    ctx: Ctx, resource_id: str, version: int | None = None, *, action: str = "read"
) -> Snapshot:
    """The snapshot behind ``resource_id`` (newest version by default), after the policy said
    yes to ``action`` (read | query | aggregate), cut to the columns the reader may see."""
    ds, r, v, decision = version_for_download(ctx, resource_id, version, action=action,
                                              whole_file=False)
    return snapshot_of(ctx, ds, r, v, decision)


def snapshot_of(ctx: Ctx, ds: Dataset, r: Resource, v: ResourceVersion,
                decision: Decision) -> Snapshot:
    """The queryable snapshot of a version the policy already decided on (``decision``)."""
    if v.ingest_status != "ok" or not v.snapshot_sha256:
        if v.ingest_status in ("failed", "invalid"):
            raise NotFound(
                f"Version {v.version} of this resource could not be read as a table; "
                "see its ingest report"
            )
        raise NotFound("This resource has no table to query (it is not a tabular file)")
    every = [Column(c["name"], c["type"]) for c in json.loads(v.columns or "[]")]
    allowed = decision.columns
    return Snapshot(
        resource_id=r.id,
        version=v.version,
        path=ctx.files.blob_path(v.snapshot_sha256),
        columns=[c for c in every if allowed is None or c.name in allowed],
        row_count=v.row_count or 0,
        dataset_name=ds.name,
        access_level=ds.access_level,
        decision=decision,
        all_columns=every,
    )


def describe_snapshot(
    ctx: Ctx, resource_id: str, version: int | None = None, *, need: str = "schema"
) -> Snapshot:
    """The snapshot for describing a resource (all its columns, a synthetic sample) to a reader
    whose metadata view includes that; the reader gets no rows from it."""
    ds, r, v = version_for_description(ctx, resource_id, version, need=need)
    if v.ingest_status != "ok" or not v.snapshot_sha256:
        raise NotFound("This resource has no table (it is not a tabular file)")
    every = [Column(c["name"], c["type"]) for c in json.loads(v.columns or "[]")]
    allowed = ctx.access.visible_columns(ds, r.id)
    shown = [c for c in every if allowed is None or c.name in allowed]
    return Snapshot(resource_id=r.id, version=v.version,
                    path=ctx.files.blob_path(v.snapshot_sha256), columns=shown,
                    row_count=v.row_count or 0, dataset_name=ds.name,
                    access_level=ds.access_level, all_columns=shown)


@dataclass
class Filter:
    column: str
    op: str  # one of OPERATORS
    value: Any  # str, a list of str for in/notin, bool for isnull
    param: str = ""  # the request parameter it came from, for error messages


@dataclass
class RowQuery:
    filters: list[Filter] = field(default_factory=list)
    #: Case-insensitive "contains" across every text column (CKAN ``q`` as a string).
    search: str = ""
    #: Per-column "contains" (CKAN ``q`` as an object).
    search_columns: dict[str, str] = field(default_factory=dict)
    #: (column, descending) pairs.
    sort: list[tuple[str, bool]] = field(default_factory=list)
    #: Projection; None means every column.
    columns: list[str] | None = None
    distinct: bool = False
    limit: int | None = None
    offset: int = 0
    #: Keyset cursor from a previous page's ``next`` token (native API).
    after: str | None = None
    facets: list[str] = field(default_factory=list)
    #: Add CKAN's ``_id`` (1-based row position) as the first output column.
    with_id: bool = False


@dataclass
class Page:
    columns: list[Column]
    rows: list[list[Any]]
    total: int | None
    next: str | None
    facets: dict[str, dict[str, Any]]


# -- compiling ----------------------------------------------------------------------------------
def _check_type_value(con: duckdb.DuckDBPyConnection, col: Column, value: Any, key: str) -> None:
    try:
        con.execute(f"SELECT CAST(? AS {col.type})", [value]).fetchall()
    except duckdb.Error:
        msg = f"{value!r} is not a valid {col.ckan_type} value for column {col.name!r}"
        raise QueryError(f"{key}: {msg}", fields={key: [msg]}) from None


def _typed(col: Column) -> str:
    """Placeholder for a value compared with ``col``: cast to its type when scalar."""
    return f"CAST(? AS {col.type})" if col.simple else "?"


def _lhs(col: Column) -> str:
    return col.sql if col.simple else f"CAST({col.sql} AS VARCHAR)"


def _where(
    con: duckdb.DuckDBPyConnection, snap: Snapshot, q: RowQuery
) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for f in q.filters:
        key = f.param or f"{f.column}__{f.op}"
        col = snap.column(f.column, param=key)
        if f.op not in OPERATORS:
            raise QueryError(
                f"Unknown operator {f.op!r}; valid operators are: {', '.join(OPERATORS)}",
                fields={key: [f"Unknown operator; valid: {', '.join(OPERATORS)}"]},
            )
        if f.op == "isnull":
            clauses.append(f"{col.sql} IS {'' if f.value else 'NOT '}NULL")
        elif f.op in ("contains", "startswith"):
            fn = "contains" if f.op == "contains" else "starts_with"
            clauses.append(f"{fn}(lower(CAST({col.sql} AS VARCHAR)), lower(?))")
            params.append(str(f.value))
        elif f.op in ("in", "notin"):
            values = f.value if isinstance(f.value, list) else [f.value]
            if not values:
                clauses.append("FALSE" if f.op == "in" else "TRUE")
                continue
            for v in values:
                if col.simple:
                    _check_type_value(con, col, v, key)
            marks = ", ".join(_typed(col) for _ in values)
            neg = "NOT " if f.op == "notin" else ""
            clauses.append(f"{_lhs(col)} {neg}IN ({marks})")
            params.extend(values)
        else:
            if col.simple:
                _check_type_value(con, col, f.value, key)
            clauses.append(f"{_lhs(col)} {_COMPARE[f.op]} {_typed(col)}")
            params.append(f.value)
    if q.search:
        texts = [c for c in snap.columns if c.is_text]
        if texts:
            ors = " OR ".join(f"contains(lower({c.sql}), lower(?))" for c in texts)
            clauses.append(f"({ors})")
            params.extend([q.search] * len(texts))
        else:
            clauses.append("FALSE")
    for name, text in q.search_columns.items():
        col = snap.column(name, param="q")
        clauses.append(f"contains(lower(CAST({col.sql} AS VARCHAR)), lower(?))")
        params.append(str(text))
    return clauses, params


def _sort(snap: Snapshot, q: RowQuery) -> list[tuple[Column, bool]]:
    out = []
    for name, desc in q.sort:
        col = snap.column(name, param="sort")
        if not col.simple:
            raise QueryError(f"Column {name!r} holds nested values and cannot be sorted")
        out.append((col, desc))
    return out


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("r"), int):
            raise ValueError
        return data
    except (ValueError, TypeError):
        raise QueryError(
            "_next: not a token this API issued", fields={"_next": ["Invalid token"]}
        ) from None


def _keyset(
    con: duckdb.DuckDBPyConnection, sort: list[tuple[Column, bool]], token: str
) -> tuple[str, list[Any]]:
    data = decode_token(token)
    spec = [[c.name, d] for c, d in sort]
    if data.get("s", []) != spec:
        raise QueryError(
            "_next: the token belongs to a different sort order", fields={"_next": ["Mismatch"]}
        )
    rn = data["r"]
    if not sort:
        return f"{ROWNUM} > ?", [rn]
    col, desc = sort[0]
    value = data.get("v")
    if value is None:  # NULLs sort last: only later NULLs remain
        return f"({col.sql} IS NULL AND {ROWNUM} > ?)", [rn]
    _check_type_value(con, col, value, "_next")
    op = "<" if desc else ">"
    return (
        f"({col.sql} {op} {_typed(col)} OR ({col.sql} = {_typed(col)} AND {ROWNUM} > ?) "
        f"OR {col.sql} IS NULL)",
        [value, value, rn],
    )


@dataclass
class _Parts:
    """The pieces of one row SELECT over ``snap``, before they are joined into SQL."""

    select: list[str]
    out_cols: list[Column]
    where: list[str]
    params: list[Any]
    order: list[str]
    sort: list[tuple[Column, bool]]


def _compile_parts(
    con: duckdb.DuckDBPyConnection, snap: Snapshot, q: RowQuery, *, for_keyset: bool = False
) -> _Parts:
    if for_keyset and len(q.sort) > 1:
        raise QueryError("Sort by one column at a time (_sort or _sort_desc)")
    names = q.columns if q.columns else [c.name for c in snap.columns]
    out_cols = [snap.column(n, param="fields") for n in names]
    select = [c.sql for c in out_cols]
    if q.with_id and not q.distinct:
        select.insert(0, f"{ROWNUM} + 1 AS _id")
        out_cols = [Column("_id", "BIGINT"), *out_cols]
    if for_keyset:
        select.append(ROWNUM)
        if q.sort and q.sort[0][0] not in names:  # the cursor needs the sort value
            select.append(snap.column(q.sort[0][0], param="sort").sql)
    where, params = _where(con, snap, q)
    sort = _sort(snap, q)
    if q.after:
        clause, extra = _keyset(con, sort, q.after)
        where.append(clause)
        params.extend(extra)
    order = [f"{c.sql} {'DESC' if d else 'ASC'} NULLS LAST" for c, d in sort]
    if q.distinct:
        order += [f"{c.sql} ASC NULLS LAST" for c in out_cols if c.simple]
    else:
        order.append(f"{ROWNUM} ASC")
    return _Parts(select, out_cols, where, params, order, sort)


def _assemble(select: list[str], parts: _Parts, q: RowQuery, *, distinct: bool = False) -> str:
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(select)} FROM snap"
    if parts.where:
        sql += " WHERE " + " AND ".join(parts.where)
    if parts.order:
        sql += " ORDER BY " + ", ".join(parts.order)
    if q.limit is not None:
        sql += f" LIMIT {int(q.limit)}"
    if q.offset:
        sql += f" OFFSET {int(q.offset)}"
    return sql


def compile_rows(
    con: duckdb.DuckDBPyConnection, snap: Snapshot, q: RowQuery, *, for_keyset: bool = False
) -> tuple[str, list[Any], list[Column]]:
    """SELECT over the ``snap`` view for ``q``: (sql, params, output columns)."""
    parts = _compile_parts(con, snap, q, for_keyset=for_keyset)
    return _assemble(parts.select, parts, q, distinct=q.distinct), parts.params, parts.out_cols


# -- running ------------------------------------------------------------------------------------
@contextmanager
def snapshot_connection(snap: Snapshot) -> Iterator[duckdb.DuckDBPyConnection]:
    """A locked-down DuckDB that can read only this snapshot, exposed as the view ``snap``."""
    with readers.cursor([snap.path], memory_limit="512MB") as con:
        # TEMP: the view belongs to this cursor alone (the database is shared, see pool.py).
        try:
            con.execute(
                f"CREATE TEMP VIEW snap AS SELECT {visible_select(snap, with_rownum=True)} FROM "
                f"read_parquet({sql_literal_path(snap.path)}, file_row_number=true)"
            )
        except duckdb.IOException:
            if snap.path.is_file():
                raise
            # evicted from the file cache since it was looked up (the next request fetches it)
            log.error("snapshot %s went missing before it could be read", snap.path.name)
            raise NotFound("The stored table is missing") from None
        yield con


def visible_select(snap: Snapshot, *, with_rownum: bool = False) -> str:
    """The select list of a view over the snapshot: ``*``, or only the allowed columns."""
    if not snap.restricted:
        return "*"
    names = [c.sql for c in snap.columns] + ([ROWNUM] if with_rownum else [])
    return ", ".join(names) if names else "NULL AS no_columns_allowed"


def explain_duckdb(exc: duckdb.Error) -> QueryError:
    text = str(exc).split("\n")[0]
    text = re.sub(r"^[A-Za-z ]+Error: ", "", text)
    return QueryError(f"The query could not be run: {text[:300]}")


def run_page(
    snap: Snapshot,
    q: RowQuery,
    *,
    include_total: bool = True,
    keyset: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Page:
    """One page of rows (and the total, facets and keyset ``next`` token when asked)."""
    with snapshot_connection(snap) as con:
        limit = q.limit
        probe = RowQuery(**{**q.__dict__, "limit": None if limit is None else limit + 1})
        parts = _compile_parts(con, snap, probe, for_keyset=keyset)
        out_cols = parts.out_cols
        try:
            with Timeout(con, timeout):
                if limit is None or q.distinct or snap.row_count < LATE_ROWS_MIN:
                    sql = _assemble(parts.select, parts, probe, distinct=q.distinct)
                    rows = con.sql(sql, params=parts.params).to_arrow_table().to_pylist()
                else:
                    rows = _late_rows(con, parts, probe)
                total = _total(con, snap, q) if include_total else None
                facets = {name: _facet(con, snap, q, name) for name in q.facets}
        except duckdb.Error as exc:
            raise explain_duckdb(exc) from None
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    next_token = None
    if keyset and more and rows:
        last = rows[-1]
        data: dict[str, Any] = {"s": [[n, d] for n, d in q.sort], "r": last[ROWNUM]}
        if q.sort:
            data["v"] = json_value(last[q.sort[0][0]])
        next_token = encode_token(data)
    names = [c.name for c in out_cols]
    return Page(
        columns=out_cols,
        rows=[[json_value(r[n]) for n in names] for r in rows],
        total=total,
        next=next_token,
        facets=facets,
    )


def _late_rows(con: duckdb.DuckDBPyConnection, parts: _Parts, q: RowQuery) -> list[dict[str, Any]]:
    """One page in two steps ("late materialisation"), the rows exactly as one SELECT gives.

    A top-N over a filter would otherwise decode every column of every matching row before
    keeping ``limit`` of them. First the page's row numbers (and sort values) are chosen reading
    only the filter and sort columns; then just those rows are read, by row number, which lets
    the Parquet reader skip every row group that holds none of them. The order is the first
    step's; the sort values come from it too, so the second step does not read those columns.
    """
    keys = [ROWNUM, *(c.sql for c, _ in parts.sort)]
    chosen = con.sql(_assemble(keys, parts, q), params=parts.params).to_arrow_table().to_pylist()
    if not chosen:
        return []
    have = set(keys)
    rest = [s for s in parts.select if s not in have]
    if not rest:
        return chosen
    numbers = [int(r[ROWNUM]) for r in chosen]
    sql = (
        f"SELECT {ROWNUM}, {', '.join(rest)} FROM snap "
        f"WHERE {ROWNUM} BETWEEN {min(numbers)} AND {max(numbers)} AND {ROWNUM} = ANY(?)"
    )
    fetched = con.sql(sql, params=[numbers]).to_arrow_table().to_pylist()
    by_number = {r[ROWNUM]: r for r in fetched}
    return [{**r, **by_number[r[ROWNUM]]} for r in chosen]


def _total(con: duckdb.DuckDBPyConnection, snap: Snapshot, q: RowQuery) -> int:
    where, params = _where(con, snap, q)
    if q.distinct:
        names = q.columns or [c.name for c in snap.columns]
        cols = ", ".join(snap.column(n).sql for n in names)
        sql = f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM snap"
        sql += (" WHERE " + " AND ".join(where) if where else "") + ")"
    elif not where:
        return snap.row_count
    else:
        sql = "SELECT count(*) FROM snap WHERE " + " AND ".join(where)
    found = con.execute(sql, params).fetchall()
    return int(found[0][0]) if found else 0


def _facet(
    con: duckdb.DuckDBPyConnection, snap: Snapshot, q: RowQuery, name: str
) -> dict[str, Any]:
    col = snap.column(name, param="_facet")
    if not col.simple:
        raise QueryError(f"Column {name!r} holds nested values and cannot be faceted")
    where, params = _where(con, snap, q)
    sql = f"SELECT {col.sql} AS value, count(*) AS n FROM snap"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" GROUP BY 1 ORDER BY n DESC, value ASC NULLS LAST LIMIT {FACET_LIMIT + 1}"
    found = con.execute(sql, params).fetchall()
    return {
        "results": [{"value": json_value(v), "count": int(n)} for v, n in found[:FACET_LIMIT]],
        "truncated": len(found) > FACET_LIMIT,
    }


@contextmanager
def stream_batches(
    snap: Snapshot, q: RowQuery, *, batch_size: int = 10_000, text_nested: bool = False
) -> Iterator[tuple[list[Column], pa.RecordBatchReader]]:
    """Every matching row as Arrow record batches, never materialised whole.

    ``text_nested`` renders nested columns as JSON text (for CSV)."""
    with snapshot_connection(snap) as con:
        sql, params, out_cols = compile_rows(con, snap, q)
        if text_nested and any(not c.simple for c in out_cols):
            inner = ", ".join(
                c.sql if c.simple else f"CAST(to_json({c.sql}) AS VARCHAR) AS {c.sql}"
                for c in out_cols
            )
            sql = f"SELECT {inner} FROM ({sql})"
        try:
            reader = con.sql(sql, params=params).to_arrow_reader(batch_size)
        except duckdb.Error as exc:
            raise explain_duckdb(exc) from None
        yield out_cols, reader


def json_value(v: Any) -> Any:
    """A value JSON can carry: dates as ISO 8601, decimals as numbers, NaN as null."""
    if v is None or isinstance(v, (str, bool, int)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Decimal):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, (date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    return str(v)


__all__ = [
    "Column",
    "Filter",
    "OPERATORS",
    "Page",
    "RowQuery",
    "Snapshot",
    "open_snapshot",
    "run_page",
    "stream_batches",
]

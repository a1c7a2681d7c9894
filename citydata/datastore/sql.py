"""``datastore_search_sql``: one read-only SELECT over the resources the caller may read.

Two walls, either of which would hold alone:

1. **The statement is checked** (sqlglot, DuckDB dialect): exactly one statement, and it must be
   a query (SELECT / UNION / ...). Every table it names must be a resource id (or a CTE the
   query itself defines): no schema-qualified names, no system catalogs, no table functions
   (``read_csv``, ``read_parquet``, ``glob``, ``range``, ``generate_series``, ``query`` ...),
   and no function that reads files, settings or the environment anywhere in the statement.
   What runs is sqlglot's rendering of the checked tree, not the caller's text.
2. **The engine is locked down**: a fresh in-memory DuckDB per request that can read exactly the
   snapshot files of the referenced resources (each one a VIEW named by its resource id), with
   external access, extension loading and configuration changes off, a memory cap, a statement
   timeout and a row cap.

Every referenced resource passes the access policy for the caller (action ``query``) before
anything runs; under an agreement that allows only some columns, each resource's view has only
those columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from citydata.catalog.context import Ctx
from citydata.datastore.engine import Timeout, connect, sql_literal_path
from citydata.datastore.query import (
    DEFAULT_TIMEOUT_S,
    Column,
    explain_duckdb,
    json_value,
    open_snapshot,
    visible_select,
)
from citydata.errors import QueryError

ROW_CAP = 32_000
MAX_SQL_CHARS = 20_000
MAX_TABLES = 10
RESOURCE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
#: Functions refused anywhere in a statement (defence in depth: the engine refuses them too).
DENIED_FUNCTION = re.compile(
    r"^(read_\w*|glob|query|query_table|sniff_csv|parquet_\w*|duckdb_\w*|pragma_\w*|"
    r"getenv|current_setting|getvariable|set_variable|which_secret|iceberg_\w*|delta_\w*|"
    r"json_execute_serialized_sql|\w*_scan|load_\w*|install_\w*|system|shell)$",
    re.IGNORECASE,
)
#: Node types never allowed inside a query, whatever their position.
DENIED_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Into",
        "Create",
        "Insert",
        "Update",
        "Delete",
        "Drop",
        "Copy",
        "Attach",
        "Detach",
        "Pragma",
        "Set",
        "Command",
        "Use",
        "Install",
        "Load",
        "ReadCSV",
        "ReadParquet",
        "Merge",
        "Alter",
    )
    if hasattr(exp, name)
)


@dataclass
class SqlResult:
    sql: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    truncated: bool


def _refuse(why: str) -> QueryError:
    return QueryError(why, fields={"sql": [why]})


def check_sql(sql: str) -> tuple[exp.Query, list[str]]:
    """Parse and check a statement; return the tree and the resource ids it reads."""
    if not isinstance(sql, str) or not sql.strip():
        raise _refuse("Give one SELECT statement in sql")
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(f"The statement is longer than {MAX_SQL_CHARS:,} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except (ParseError, sqlglot.errors.TokenError) as exc:
        first = str(exc).splitlines()[0][:200]
        raise _refuse(f"The statement could not be parsed: {first}") from None
    if len(statements) != 1:
        raise _refuse("Exactly one statement is allowed (no ';'-separated statements)")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise _refuse("Only SELECT statements are allowed")
    for node in tree.walk():
        if isinstance(node, DENIED_NODES):
            raise _refuse(f"{node.key.upper()} is not allowed: only read-only SELECT statements")
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if DENIED_FUNCTION.match(name or ""):
                raise _refuse(f"The function {name.lower()} is not allowed")
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    ids: list[str] = []
    for table in tree.find_all(exp.Table):
        ident = table.this
        if not isinstance(ident, exp.Identifier):
            raise _refuse(
                "Table functions (read_csv, read_parquet, glob, range, generate_series, ...) "
                "are not allowed: select from resources by their id"
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise _refuse(
                f"Schema-qualified names ({table.sql(dialect='duckdb')}) and system catalogs "
                "are not allowed"
            )
        name = ident.this
        # An id-shaped name is always a resource (checked), even if a CTE reuses it.
        if not RESOURCE_ID.match(name) and name.lower() in ctes:
            continue
        if not RESOURCE_ID.match(name):
            raise _refuse(
                f'Unknown table {name!r}: tables are resource ids, e.g. SELECT * FROM "<id>"'
            )
        if name.lower() not in ids:
            ids.append(name.lower())
    if len(ids) > MAX_TABLES:
        raise _refuse(f"A statement may read at most {MAX_TABLES} resources")
    return tree, ids


def run_sql(
    ctx: Ctx,
    sql: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    row_cap: int = ROW_CAP,
) -> SqlResult:
    """Check ``sql``, check access to every resource it reads, run it in a sandbox."""
    tree, ids = check_sql(sql)
    snaps = [open_snapshot(ctx, rid, action="query") for rid in ids]  # raises if refused
    rendered = tree.sql(dialect="duckdb")
    con = connect(readable=[s.path for s in snaps], memory_limit="1GB")
    try:
        for s in snaps:
            con.execute(
                f'CREATE VIEW "{s.resource_id}" AS SELECT {visible_select(s)} FROM '
                f"read_parquet({sql_literal_path(s.path)})"
            )
        try:
            with Timeout(con, timeout):
                rel = con.sql(rendered)
                types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=False))
                reader = rel.to_arrow_reader(2048)
                rows: list[dict[str, Any]] = []
                truncated = False
                for batch in reader:
                    rows.extend(batch.to_pylist())
                    if len(rows) > row_cap:
                        truncated = True
                        del rows[row_cap:]
                        break
                schema = reader.schema
        except duckdb.Error as exc:
            raise explain_duckdb(exc) from None
    finally:
        con.close()
    names = list(schema.names)
    cols = [Column(n, types.get(n, "VARCHAR")) for n in names]
    for s in snaps:
        if s.decision is not None:
            s.decision.note(rows=len(rows), sql=sql[:2000])
    return SqlResult(
        sql=sql,
        columns=cols,
        rows=[{n: json_value(r.get(n)) for n in names} for r in rows],
        truncated=truncated,
    )


__all__ = ["SqlResult", "check_sql", "run_sql", "ROW_CAP"]

"""Grouped counts (and sums or means) over a snapshot, with small-cell suppression.

This is the only way to use data an agreement grants as *aggregate-only*: groups of fewer rows
than the agreement's minimum cell count are left out (only how many were left out is said),
no total over all rows is given (it would let a suppressed group be worked out by
subtraction), and neither ``min`` nor ``max`` is offered (each is one person's value). Open
data and ordinary agreements use the same endpoint with no minimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from citydata.datastore.engine import Timeout
from citydata.datastore.query import (
    DEFAULT_TIMEOUT_S,
    RowQuery,
    Snapshot,
    _where,
    explain_duckdb,
    json_value,
    snapshot_connection,
)
from citydata.errors import QueryError

MAX_GROUP_COLUMNS = 4
MAX_MEASURES = 5
GROUPS_DEFAULT = 100
GROUPS_MAX = 1000
FUNCTIONS = ("sum", "avg", "min", "max")
#: min and max disclose single values, so aggregate-only access does without them.
DISCLOSIVE = ("min", "max")
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "REAL",
           "DECIMAL", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


@dataclass
class Aggregate:
    group_by: list[str]
    measures: list[tuple[str, str]] = field(default_factory=list)  # (function, column)
    limit: int = GROUPS_DEFAULT


def parse_measure(text: str) -> tuple[str, str]:
    fn, _, column = text.partition(":")
    if fn not in FUNCTIONS or not column:
        raise QueryError(f"_measure {text!r}: give function:column with a function of "
                         f"{', '.join(FUNCTIONS)}", fields={"_measure": ["Invalid measure"]})
    return fn, column


def run_aggregate(snap: Snapshot, rows: RowQuery, agg: Aggregate, *, min_cell_count: int = 0,
                  timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Groups of ``agg.group_by`` over the rows ``rows.filters`` select."""
    if not agg.group_by:
        raise QueryError("Give at least one _group column", fields={"_group": ["Missing"]})
    if len(agg.group_by) > MAX_GROUP_COLUMNS or len(agg.measures) > MAX_MEASURES:
        raise QueryError(f"At most {MAX_GROUP_COLUMNS} _group columns and {MAX_MEASURES} "
                         "_measure values")
    groups = []
    for name in dict.fromkeys(agg.group_by):
        col = snap.column(name, param="_group")
        if not col.simple:
            raise QueryError(f"Column {name!r} holds nested values and cannot be grouped by")
        groups.append(col)
    measures = []
    for fn, name in agg.measures:
        col = snap.column(name, param="_measure")
        if min_cell_count and fn in DISCLOSIVE:
            raise QueryError(f"{fn} is not available under aggregate-only access (it discloses "
                             "a single value); use sum or avg",
                             fields={"_measure": ["Not available"]})
        if col.type.split("(")[0] not in NUMERIC:
            raise QueryError(f"_measure {fn}:{name}: {name!r} is not a numeric column",
                             fields={"_measure": ["Not numeric"]})
        measures.append((fn, col))
    keys = ", ".join(c.sql for c in groups)
    select = [*(f"{c.sql} AS {c.sql}" for c in groups), "count(*) AS n"]
    select += [f"{fn}({c.sql}) AS m{i}" for i, (fn, c) in enumerate(measures)]
    with snapshot_connection(snap) as con:
        where, params = _where(con, snap, rows)
        base = "FROM snap" + (" WHERE " + " AND ".join(where) if where else "")
        having = f" HAVING count(*) >= {int(min_cell_count)}" if min_cell_count else ""
        sql = (f"SELECT {', '.join(select)} {base} GROUP BY {keys}{having} "
               f"ORDER BY n DESC, {keys} NULLS LAST LIMIT {int(agg.limit) + 1}")
        try:
            with Timeout(con, timeout):
                found = con.execute(sql, params).fetchall()
                suppressed = 0
                if min_cell_count:
                    small = con.execute(
                        f"SELECT count(*) FROM (SELECT 1 {base} GROUP BY {keys} "
                        f"HAVING count(*) < {int(min_cell_count)})", params).fetchone()
                    suppressed = int(small[0]) if small else 0
        except duckdb.Error as exc:
            raise explain_duckdb(exc) from None
    truncated = len(found) > agg.limit
    out_groups = []
    for row in found[: agg.limit]:
        item = {c.name: json_value(v) for c, v in zip(groups, row, strict=False)}
        item["count"] = int(row[len(groups)])
        for i, (fn, c) in enumerate(measures):
            item[f"{fn}_{c.name}"] = json_value(row[len(groups) + 1 + i])
        out_groups.append(item)
    return {
        "resource_id": snap.resource_id,
        "version": snap.version,
        "group_by": [c.name for c in groups],
        "measures": [f"{fn}:{c.name}" for fn, c in measures],
        "groups": out_groups,
        "truncated": truncated,
        "min_cell_count": min_cell_count or None,
        "suppressed_groups": suppressed if min_cell_count else 0,
    }

"""CKAN DataStore actions: ``datastore_search``, ``datastore_search_sql``, ``datastore_info``.

Thin: parameters are translated into a :class:`~citydata.datastore.query.RowQuery` (or a SQL
string) and the answer into CKAN's shape. ``version`` is our extension on all of them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

from citydata.api.ckan import _bool, _int, action
from citydata.catalog.context import Ctx
from citydata.datastore import query as rows
from citydata.datastore import sql as sandbox
from citydata.datastore.query import (
    Filter,
    RowQuery,
    describe_snapshot,
    open_snapshot,
    run_page,
)
from citydata.errors import QueryError, ValidationError

LIMIT_DEFAULT = 100
LIMIT_MAX = 32_000
SEARCH_PARAMS = {
    "resource_id",
    "id",
    "filters",
    "q",
    "fields",
    "sort",
    "limit",
    "offset",
    "include_total",
    "records_format",
    "distinct",
    "version",
    "plain",
    "language",
    "full_text",
    "total_estimation_threshold",
}
RECORDS_FORMATS = ("objects", "lists", "csv", "tsv")


def timeout_for(ctx: Ctx) -> float:
    """The statement time limit; ``query_timeout_seconds`` in settings when it is defined."""
    return float(getattr(ctx.settings, "query_timeout_seconds", rows.DEFAULT_TIMEOUT_S))


def _json_param(data: dict, key: str) -> Any:
    raw = data.get(key)
    if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except ValueError:
            raise QueryError(f"{key}: not valid JSON", fields={key: ["Not valid JSON"]}) from None
    return raw


def _names(data: dict, key: str) -> list[str]:
    raw = _json_param(data, key)
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        return [x.strip() for x in raw.split(",") if x.strip()]
    if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        return raw
    raise QueryError(f"{key}: a list of column names or a comma-separated string")


def _version(data: dict) -> int | None:
    if data.get("version") in (None, ""):
        return None
    return _int(data, "version", 1, minimum=1, query=True)


def _resource_id(data: dict) -> str:
    rid = data.get("resource_id") or data.get("id")
    if not isinstance(rid, str) or not rid:
        raise ValidationError(
            "resource_id: Missing value", fields={"resource_id": ["Missing value"]}
        )
    return rid


def parse_sort(raw: Any) -> list[tuple[str, bool]]:
    """CKAN sort: ``"col asc, col2 desc"`` (or a list of such parts)."""
    if raw in (None, ""):
        return []
    parts = raw if isinstance(raw, list) else str(raw).split(",")
    out = []
    for part in parts:
        words = str(part).strip().rsplit(" ", 1)
        if not words[0]:
            continue
        direction = words[1].lower() if len(words) == 2 else ""
        if direction in ("asc", "desc"):
            out.append((words[0].strip().strip('"'), direction == "desc"))
        else:
            out.append((str(part).strip().strip('"'), False))
    return out


def build_query(data: dict) -> RowQuery:
    filters: list[Filter] = []
    raw_filters = _json_param(data, "filters")
    if raw_filters not in (None, ""):
        if not isinstance(raw_filters, dict):
            raise QueryError('filters: a JSON object such as {"borough": "Camden"}')
        for col, value in raw_filters.items():
            if isinstance(value, list):
                filters.append(Filter(col, "in", [str(v) for v in value], "filters"))
            elif value is None:
                filters.append(Filter(col, "isnull", True, "filters"))
            else:
                v = value if not isinstance(value, bool) else str(value).lower()
                filters.append(Filter(col, "exact", str(v), "filters"))
    q = _json_param(data, "q")
    search, search_columns = "", {}
    if isinstance(q, dict):
        search_columns = {str(k): str(v) for k, v in q.items()}
    elif q not in (None, ""):
        search = str(q)
    records_format = data.get("records_format") or "objects"
    if records_format not in RECORDS_FORMATS:
        raise QueryError(f"records_format: one of {', '.join(RECORDS_FORMATS)}")
    fields = _names(data, "fields")
    distinct = _bool(data, "distinct", False)
    with_id = "_id" in fields or not fields
    return RowQuery(
        filters=filters,
        search=search,
        search_columns=search_columns,
        sort=[(c, d) for c, d in parse_sort(data.get("sort")) if c != "_id"],
        columns=[f for f in fields if f != "_id"] or None,
        distinct=distinct,
        limit=_int(data, "limit", LIMIT_DEFAULT, maximum=LIMIT_MAX, query=True),
        offset=_int(data, "offset", 0, query=True),
        with_id=with_id and not distinct,
    )


@action("datastore_search")
def datastore_search(ctx: Ctx, data: dict, files: dict) -> dict:
    """Search a resource's rows: filters, q, fields, sort, limit, offset, distinct,
    records_format (objects|lists|csv|tsv), include_total; ``version`` picks a version."""
    unknown = sorted(k for k in data if k not in SEARCH_PARAMS)
    if unknown:
        raise QueryError(f"Unknown parameters {unknown}; valid: {sorted(SEARCH_PARAMS)}")
    rid = _resource_id(data)
    snap = open_snapshot(ctx, rid, _version(data))
    q = build_query(data)
    include_total = _bool(data, "include_total", True)
    page = run_page(snap, q, include_total=include_total, timeout=timeout_for(ctx))
    if snap.decision is not None:
        snap.decision.note(rows=len(page.rows), query={
            k: v for k, v in data.items() if k in ("filters", "q", "fields", "sort", "limit",
                                                    "offset", "distinct")})
    fmt = data.get("records_format") or "objects"
    names = [c.name for c in page.columns]
    records: Any
    if fmt == "objects":
        records = [dict(zip(names, r, strict=True)) for r in page.rows]
    elif fmt == "lists":
        records = page.rows
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        for r in page.rows:
            writer.writerow(["" if v is None else _cell(v) for v in r])
        records = buf.getvalue()
    params = {k: v for k, v in data.items() if k not in ("offset",) and v not in (None, "")}
    params = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
    base = "/api/3/action/datastore_search"
    out: dict[str, Any] = {
        "include_total": include_total,
        "resource_id": snap.resource_id,
        "version": snap.version,
        "fields": [{"id": c.name, "type": c.ckan_type} for c in page.columns],
        "records_format": fmt,
        "records": records,
        "limit": q.limit,
        "_links": {
            "start": f"{base}?{urlencode(params)}",
            "next": f"{base}?{urlencode({**params, 'offset': q.offset + (q.limit or 0)})}",
        },
    }
    if q.offset:
        out["offset"] = q.offset
    if q.filters:
        out["filters"] = _json_param(data, "filters")
    if data.get("q") not in (None, ""):
        out["q"] = data["q"]
    if data.get("sort"):
        out["sort"] = data["sort"]
    if include_total:
        out["total"] = page.total
        out["total_was_estimated"] = False
    return out


def _cell(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (dict, list)) else str(v)


@action("datastore_info")
def datastore_info(ctx: Ctx, data: dict, files: dict) -> dict:
    """A resource's table: its fields (CKAN and native types) and meta (row count, version).

    A description, not a read: anyone whose view of the dataset includes its schema gets it
    (under an agreement that allows some columns, only those)."""
    snap = describe_snapshot(ctx, _resource_id(data), _version(data))
    return {
        "meta": {
            "id": snap.resource_id,
            "count": snap.row_count,
            "version": snap.version,
            "table_type": "BASE TABLE",
            "format": "parquet",
        },
        "fields": [
            {"id": c.name, "type": c.ckan_type, "schema": {"native_type": c.type}}
            for c in snap.columns
        ],
    }


@action("datastore_search_sql")
def datastore_search_sql(ctx: Ctx, data: dict, files: dict) -> dict:
    """Run one read-only SELECT; tables are resource ids, e.g. SELECT * FROM "<id>"."""
    sql = data.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError("sql: Missing value", fields={"sql": ["Missing value"]})
    result = sandbox.run_sql(
        ctx,
        sql,
        timeout=timeout_for(ctx),
        row_cap=int(getattr(ctx.settings, "sql_row_cap", sandbox.ROW_CAP)),
    )
    out: dict[str, Any] = {
        "sql": result.sql,
        "fields": [{"id": c.name, "type": c.ckan_type} for c in result.columns],
        "records": result.rows,
    }
    if result.truncated:
        out["records_truncated"] = True
    return out

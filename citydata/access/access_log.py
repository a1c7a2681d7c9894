"""The data owner's view of the audit log: who used which of their datasets, when, how much,
for which purpose and under which agreement — as pages, JSON and CSV.

Only the publisher's data owners (its organisation admins) read it; entries are those whose
``org_id`` is the publisher (reads of its data and governance actions concerning it).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from citydata.access.policy import require_data_owner
from citydata.catalog.context import Ctx
from citydata.datastore.export import FORMULA_START
from citydata.errors import QueryError
from citydata.storage.models import Organization
from citydata.storage.models_access import Agreement, AuditEntry

PAGE_MAX = 500
CSV_COLUMNS = ("seq", "at", "user", "action", "dataset", "resource_id", "agreement", "purpose",
               "via", "rows", "bytes", "query")


@dataclass
class LogFilter:
    dataset: str = ""
    user: str = ""
    agreement: str = ""
    #: "data" (reads only), "governance" (everything else) or "" (all).
    kind: str = ""
    since: str = ""
    until: str = ""


def _when(value: str, field: str) -> str:
    try:
        return datetime.fromisoformat(value.replace("Z", "")).isoformat(timespec="microseconds")
    except ValueError:
        raise QueryError(f"{field}: a date or time such as 2026-12-01",
                         fields={field: ["Invalid date"]}) from None


def _conditions(org: Organization, f: LogFilter, ctx: Ctx) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = [AuditEntry.org_id == org.id]
    if f.dataset:
        from citydata.catalog.datasets import find_dataset

        ds = find_dataset(ctx.session, f.dataset)
        cond.append(AuditEntry.dataset_id == (ds.id if ds else f.dataset))
    if f.user:
        cond.append(AuditEntry.actor_name == f.user)
    if f.agreement:
        ag = ctx.session.scalar(select(Agreement).where(
            (Agreement.reference == f.agreement.upper()) | (Agreement.id == f.agreement)))
        cond.append(AuditEntry.agreement_id == (ag.id if ag else f.agreement))
    if f.kind == "data":
        cond.append(AuditEntry.action.like("data.%"))
    elif f.kind == "governance":
        cond.append(AuditEntry.action.not_like("data.%"))
    elif f.kind:
        raise QueryError("kind: data, governance or empty", fields={"kind": ["Invalid"]})
    if f.since:
        cond.append(AuditEntry.at >= _when(f.since, "since"))
    if f.until:
        cond.append(AuditEntry.at < _when(f.until, "until"))
    return cond


def _org(ctx: Ctx, name: str) -> Organization:
    from citydata.catalog.organizations import get_organization

    org = get_organization(ctx.session, name)
    require_data_owner(ctx.actor, org.id)
    return org


def entry_dict(e: AuditEntry, references: dict[str, str]) -> dict[str, Any]:
    detail = json.loads(e.detail or "{}")
    return {
        "seq": e.seq, "at": e.at, "user": e.actor_name, "action": e.action,
        "dataset": detail.get("dataset", ""), "dataset_id": e.dataset_id,
        "resource_id": e.resource_id,
        "agreement": references.get(e.agreement_id, detail.get("agreement", "")),
        "purpose": e.purpose, "via": detail.get("via", ""), "rows": detail.get("rows"),
        "bytes": detail.get("bytes"), "query": detail.get("query") or detail.get("sql") or "",
        "detail": detail, "hash": e.hash,
    }


def _references(ctx: Ctx, entries: list[AuditEntry]) -> dict[str, str]:
    ids = {e.agreement_id for e in entries if e.agreement_id}
    if not ids:
        return {}
    return dict(ctx.session.execute(
        select(Agreement.id, Agreement.reference).where(Agreement.id.in_(ids))).all())


def access_log(ctx: Ctx, org_name: str, f: LogFilter, *, limit: int = 100,
               offset: int = 0) -> dict[str, Any]:
    """One page of the organisation's entries, newest first, with totals for the filter."""
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise QueryError(f"limit: 1 to {PAGE_MAX}; offset: 0 or more")
    org = _org(ctx, org_name)
    cond = _conditions(org, f, ctx)
    total = int(ctx.session.scalar(select(func.count()).select_from(AuditEntry)
                                   .where(*cond)) or 0)
    rows = list(ctx.session.scalars(select(AuditEntry).where(*cond)
                                    .order_by(AuditEntry.seq.desc()).offset(offset)
                                    .limit(limit)))
    refs = _references(ctx, rows)
    return {"organization": org.name, "count": total,
            "results": [entry_dict(e, refs) for e in rows], "summary": summary(ctx, org, cond)}


def summary(ctx: Ctx, org: Organization, cond: list[ColumnElement[bool]]) -> dict[str, Any]:
    """Reads per user, dataset and agreement over the filtered entries."""
    reads = [*cond, AuditEntry.action.like("data.%")]

    def top(column: Any) -> list[dict[str, Any]]:
        found = ctx.session.execute(
            select(column, func.count()).where(*reads).group_by(column)
            .order_by(func.count().desc()).limit(20)).all()
        return [{"key": k or "", "reads": int(n)} for k, n in found]

    by_agreement = top(AuditEntry.agreement_id)
    refs = dict(ctx.session.execute(select(Agreement.id, Agreement.reference).where(
        Agreement.id.in_([r["key"] for r in by_agreement if r["key"]]))).all())
    for r in by_agreement:
        r["key"] = refs.get(r["key"], "(no agreement: member or registered access)")
    by_dataset = top(AuditEntry.dataset_id)
    from citydata.storage.models import Dataset

    names = dict(ctx.session.execute(select(Dataset.id, Dataset.name).where(
        Dataset.id.in_([r["key"] for r in by_dataset]))).all())
    for r in by_dataset:
        r["key"] = names.get(r["key"], r["key"])
    return {"by_user": top(AuditEntry.actor_name), "by_dataset": by_dataset,
            "by_agreement": by_agreement, "by_purpose": top(AuditEntry.purpose)}


def access_log_csv(ctx: Ctx, org_name: str, f: LogFilter) -> Iterator[str]:
    """Every matching entry as CSV, oldest first (read in batches, never all at once)."""
    org = _org(ctx, org_name)
    cond = _conditions(org, f, ctx)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    after = 0
    while True:
        batch = list(ctx.session.scalars(select(AuditEntry).where(*cond, AuditEntry.seq > after)
                                         .order_by(AuditEntry.seq).limit(2000)))
        if not batch:
            return
        refs = _references(ctx, batch)
        buf.seek(0)
        buf.truncate()
        for e in batch:
            d = entry_dict(e, refs)
            query = d["query"] if isinstance(d["query"], str) else json.dumps(d["query"])
            writer.writerow([_safe(d[c] if c != "query" else query) for c in CSV_COLUMNS])
        yield buf.getvalue()
        after = batch[-1].seq


def _safe(value: Any) -> Any:
    """Spreadsheet-safe, as the datastore's CSV exports: formula-like text gets a leading '."""
    if isinstance(value, str) and re.match(FORMULA_START, value):
        return "'" + value
    return "" if value is None else value

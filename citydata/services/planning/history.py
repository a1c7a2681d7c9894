"""An application's history and the provenance of each of its values, read from its events,
and the issue log.

The provenance of a value is the latest event that set it: its feed, run, export hash and row,
and — when the value is not the source's text as it came — the source value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citydata.errors import NotFound
from citydata.events import log as events
from citydata.services.planning.ingest import STANDARD_FIELDS, STREAM, run_dict
from citydata.storage.models_planning import PlanningIssue, PlanningRun


def events_of(session: Session, app_id: str) -> list[Any]:
    return events.for_key(session, STREAM, app_id)


def provenance(app: dict[str, Any], history: list[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for event in history:
        data = event.data
        fields = data.get("fields")
        if fields is None:  # received: it set every value it had
            fields = [f for f in STANDARD_FIELDS if (data.get("application") or {}).get(f)
                      is not None or f == "site_geometry"]
        original = data.get("original") or {}
        for name in fields:
            if name == "site_geometry" and app.get("site_geometry") is None:
                continue
            out[name] = {**(data.get("source") or {}), "event": event.id,
                         "at": event.as_dict()["created_at"],
                         "original": original.get(name)}
    for name in ("id", "lpa_code", "lpa_name"):
        if name in out:
            out[name] = {**out[name], "original": None, "derived": True}
    return {name: out[name] for name in STANDARD_FIELDS if name in out}


def change_dict(event: Any) -> dict[str, Any]:
    data = event.data
    app = data.get("application") or {}
    changed = data.get("changed")
    return {
        "event": event.id, "type": event.type, "at": event.as_dict()["created_at"],
        "source": data.get("source"),
        "changes": None if changed is None else {
            f: {"from": old, "to": app.get(f)} for f, old in changed.items()},
        "original": data.get("original") or {},
    }


def issue_dict(i: PlanningIssue) -> dict[str, Any]:
    return {"id": i.id, "run": i.run_id, "feed": i.feed, "application": i.application_id or None,
            "row": i.row, "field": i.field, "value": i.value, "code": i.code,
            "severity": i.severity, "message": i.message,
            "created": i.created.isoformat() + "Z" if i.created else None,
            "resolved_at": i.resolved_at.isoformat() + "Z" if i.resolved_at else None}


def issues(session: Session, *, feed: str | None = None, code: str | None = None,
           open_only: bool = True, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    where = []
    if feed:
        where.append(PlanningIssue.feed == feed)
    if code:
        where.append(PlanningIssue.code == code)
    if open_only:
        where.append(PlanningIssue.resolved_at.is_(None))
    total = session.scalar(select(func.count()).select_from(PlanningIssue).where(*where)) or 0
    rows = session.scalars(select(PlanningIssue).where(*where).order_by(
        PlanningIssue.feed, PlanningIssue.id.desc()).offset(offset).limit(limit))
    return {"count": total, "results": [issue_dict(i) for i in rows]}


def open_issues_of(session: Session, app_id: str) -> list[dict[str, Any]]:
    """The open issues of one application, oldest first."""
    return [issue_dict(i) for i in session.scalars(
        select(PlanningIssue).where(PlanningIssue.application_id == app_id,
                                    PlanningIssue.resolved_at.is_(None))
        .order_by(PlanningIssue.id))]


def runs(session: Session, *, feed: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Ingest runs, newest first."""
    stmt = select(PlanningRun).order_by(PlanningRun.started.desc()).limit(limit)
    if feed:
        stmt = stmt.where(PlanningRun.feed == feed)
    return [run_dict(r) for r in session.scalars(stmt)]


def run_report(session: Session, run_id: str, *, issue_limit: int = 1000) -> dict[str, Any]:
    """One run's report with (the first ``issue_limit`` of) its issues, in row order."""
    run = session.get(PlanningRun, run_id)
    if run is None:
        raise NotFound(f"No ingest run {run_id!r}")
    return {**run_dict(run), "issues": [issue_dict(i) for i in session.scalars(
        select(PlanningIssue).where(PlanningIssue.run_id == run_id)
        .order_by(PlanningIssue.row, PlanningIssue.id).limit(issue_limit))]}

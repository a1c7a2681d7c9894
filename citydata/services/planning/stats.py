"""Dashboards and the data quality scorecard, per authority, from the stored applications and
the issue log. Plain aggregate queries; medians in Python over the decided applications."""

from __future__ import annotations

import json
from datetime import date, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citydata.services.planning.ingest import STANDARD_FIELDS
from citydata.storage.models_planning import PlanningApplication as A
from citydata.storage.models_planning import PlanningFeed, PlanningIssue, PlanningRun

APPROVALS = ("approved", "approved_with_conditions", "lawful", "prior_approval_not_required",
             "no_objection")
REFUSALS = ("refused", "prior_approval_refused", "not_lawful")
PENDING = ("received", "validated", "under_consideration")
#: The fields the scorecard measures completeness of (the polygon is not asked of every
#: authority: many publish a point only).
MEASURED = tuple(f for f in STANDARD_FIELDS if f not in ("id", "lpa_code", "lpa_name"))


def _days(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    try:
        return (date.fromisoformat(b[:10]) - date.fromisoformat(a[:10])).days
    except ValueError:
        return None


def _where(feed: str | None) -> list[Any]:
    return [A.feed == feed] if feed else []


def overview(session: Session) -> list[dict[str, Any]]:
    """One line per authority: applications, pending, decided, last run."""
    counts = dict(session.execute(select(A.feed, func.count()).group_by(A.feed)).all())
    pending_by_feed = dict(session.execute(select(A.feed, func.count()).where(
        A.status.in_(PENDING)).group_by(A.feed)).all())
    runs = {r.id: r for r in session.scalars(select(PlanningRun).where(
        PlanningRun.id.in_(select(PlanningFeed.last_run_id))))}
    out = []
    for feed in session.scalars(select(PlanningFeed).order_by(PlanningFeed.lpa_name)):
        n, pending = counts.get(feed.slug, 0), pending_by_feed.get(feed.slug, 0)
        run = runs.get(feed.last_run_id or "")
        out.append({"slug": feed.slug, "lpa_code": feed.lpa_code, "lpa_name": feed.lpa_name,
                    "applications": n, "pending": int(pending or 0),
                    "last_run": {"status": run.status, "finished": run.finished,
                                 "id": run.id} if run else None,
                    "last_success_at": feed.last_success_at})
    return out


def dashboard(session: Session, feed: str | None = None, *, today: date | None = None,
              months: int = 24) -> dict[str, Any]:
    today = today or date.today()
    where = _where(feed)
    total = session.scalar(select(func.count()).select_from(A).where(*where)) or 0
    by_status = dict(session.execute(select(A.status, func.count()).where(*where)
                                     .group_by(A.status)).all())
    by_type = dict(session.execute(select(A.application_type, func.count()).where(*where)
                                   .group_by(A.application_type)).all())
    start = date(today.year - (months // 12), today.month, 1)
    month = func.substr(A.received_date, 1, 7)
    volumes: dict[str, int] = {m: n for m, n in session.execute(
        select(month, func.count()).where(*where, A.received_date >= start.isoformat())
        .group_by(month))}
    series = []
    cursor = start
    while cursor <= today:
        key = cursor.strftime("%Y-%m")
        series.append({"month": key, "received": int(volumes.get(key, 0))})
        cursor = date(cursor.year + (cursor.month // 12), cursor.month % 12 + 1, 1)
    year_ago = (today - timedelta(days=365)).isoformat()
    decided = session.execute(
        select(A.application_type, A.received_date, A.valid_date, A.decision_date, A.decision)
        .where(*where, A.decision_date >= year_ago, A.decision.is_not(None))).all()
    times: dict[str, list[int]] = {}
    approvals = refusals = 0
    for kind, received, valid, decided_on, decision in decided:
        days = _days(valid or received, decided_on)
        if days is not None and days >= 0:
            times.setdefault(kind or "unknown", []).append(days)
            times.setdefault("all", []).append(days)
        approvals += decision in APPROVALS
        refusals += decision in REFUSALS
    units_pending = session.scalar(select(func.coalesce(func.sum(
        A.proposed_residential_units), 0)).where(*where, A.status.in_(PENDING))) or 0
    three_years = (today - timedelta(days=3 * 365)).isoformat()
    units_approved = session.scalar(select(func.coalesce(func.sum(
        A.proposed_residential_units), 0)).where(
        *where, A.decision.in_(APPROVALS), A.decision_date >= three_years)) or 0
    return {
        "feed": feed, "applications": total,
        "by_status": {k or "unknown": v for k, v in by_status.items()},
        "by_type": {k or "unknown": v for k, v in sorted(by_type.items(), key=lambda kv:
                                                          -kv[1])},
        "received_by_month": series,
        "decided_last_12_months": len(decided),
        "median_decision_days": {k: round(median(v)) for k, v in sorted(
            times.items(), key=lambda kv: -len(kv[1])) if v},
        "approval_rate": round(approvals / (approvals + refusals), 3)
        if approvals + refusals else None,
        "units_awaiting_decision": int(units_pending),
        "units_approved_last_3_years": int(units_approved),
    }


def scorecard(session: Session, feed: str) -> dict[str, Any]:
    """Completeness per field, validity, timeliness and open issues for one authority."""
    total = session.scalar(select(func.count()).select_from(A).where(A.feed == feed)) or 0
    filled = session.execute(select(*[func.count(getattr(A, f)) for f in MEASURED])
                             .where(A.feed == feed)).one()
    completeness = {f: round(n / total, 3) if total else None
                    for f, n in zip(MEASURED, filled, strict=True)}
    by_code = dict(session.execute(
        select(PlanningIssue.code, func.count()).where(
            PlanningIssue.feed == feed, PlanningIssue.resolved_at.is_(None))
        .group_by(PlanningIssue.code)).all())
    flagged_apps = session.scalar(select(func.count(func.distinct(PlanningIssue.application_id)))
                                  .where(PlanningIssue.feed == feed,
                                         PlanningIssue.resolved_at.is_(None),
                                         PlanningIssue.severity == "warning",
                                         PlanningIssue.application_id != "")) or 0
    quarantined = session.scalar(select(func.count()).select_from(
        select(PlanningIssue.run_id, PlanningIssue.row).where(
            PlanningIssue.feed == feed, PlanningIssue.resolved_at.is_(None),
            PlanningIssue.severity == "error").distinct().subquery())) or 0
    lags = [d for d in (_days(a, b) for a, b in session.execute(
        select(A.decision_date, A.decision_published).where(
            A.feed == feed, A.decision_date.is_not(None),
            A.decision_published.is_not(None)))) if d is not None and d >= 0]
    feed_row = session.get(PlanningFeed, feed)
    run = session.get(PlanningRun, feed_row.last_run_id) if feed_row and \
        feed_row.last_run_id else None
    return {
        "feed": feed, "lpa_name": feed_row.lpa_name if feed_row else feed,
        "applications": total,
        "completeness": completeness,
        "completeness_overall": round(sum(v for v in completeness.values() if v is not None)
                                      / len(MEASURED), 3) if total else None,
        "validity": round(1 - flagged_apps / total, 3) if total else None,
        "applications_flagged": int(flagged_apps),
        "rows_quarantined": int(quarantined),
        "timeliness_median_days": round(median(lags)) if lags else None,
        "timeliness_90th_days": sorted(lags)[int(len(lags) * 0.9)] if lags else None,
        "issues_open": int(sum(by_code.values())),
        "issues_by_code": dict(sorted(by_code.items(), key=lambda kv: -kv[1])),
        "last_run": {"id": run.id, "status": run.status, "finished": run.finished,
                     "error": run.error, "notes": json.loads(run.notes or "[]")}
        if run else None,
    }


def scorecards(session: Session) -> list[dict[str, Any]]:
    return [scorecard(session, f.slug) for f in session.scalars(
        select(PlanningFeed).order_by(PlanningFeed.lpa_name))]

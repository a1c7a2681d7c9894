"""One ingest run of an authority's feed: collect → convert → normalise/map/harmonise →
transform → store, with an event for every application created or changed.

A run is all or nothing. The export is read and harmonised before anything is written; then
one transaction stores the changed applications, their events, the issue log and the run
report. An export that cannot be read fails the run and changes nothing; a bad row is
quarantined with its reasons; a bad value is left out and the stored value stays — so the last
good state stays live whatever a feed sends. A full export that lacks applications stored
earlier does not delete them: the run reports them as missing.

Each event carries the provenance of the values it changed: the feed, the run, the content
hash of the export, the row number and the source value of every value that was rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from citydata.events import log as events
from citydata.services.planning.convert import Collected, FeedError, collect, shown
from citydata.services.planning.harmonise import (
    Authority,
    Gazetteer,
    Harmonised,
    Harmoniser,
    Issue,
)
from citydata.services.planning.standard import PLANNING_APPLICATIONS
from citydata.storage.models import utcnow
from citydata.storage.models_planning import (
    PlanningApplication,
    PlanningFeed,
    PlanningIssue,
    PlanningRun,
)

log = logging.getLogger("citydata.planning")

STREAM = "planning"
STANDARD_FIELDS = tuple(f["name"] for f in PLANNING_APPLICATIONS["fields"])
#: What the table stores besides the standard's fields (derived, ours).
STORED = (*STANDARD_FIELDS, "lon", "lat")
#: The fields an event's ``application`` summary carries (the polygon is left out).
SUMMARY = tuple(f for f in STORED if f != "site_geometry")
_BATCH = 2000


@dataclass
class Prepared:
    """A harmonised row ready to store."""

    id: str
    row: int
    harmonised: Harmonised
    digest: str


@dataclass
class Plan:
    """What a run will write, worked out before the transaction opens."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, str, dict]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0
    quarantined: int = 0
    flagged: int = 0
    missing: int = 0
    touched: list[str] = field(default_factory=list)


def _digest(values: Mapping[str, Any]) -> str:
    return hashlib.md5(json.dumps(values, sort_keys=True, default=str).encode(),
                       usedforsecurity=False).hexdigest()


def authority_of(feed: PlanningFeed) -> Authority:
    return Authority(feed.slug, feed.lpa_code, feed.lpa_name, feed.id_prefix)


def _shape_notes(config: Mapping[str, Any], collected: Collected) -> tuple[list[str], bool]:
    """Notes about columns that appeared or went away; True when the reference is gone."""
    mapped = dict(config.get("columns") or {})
    seen = set(collected.columns)
    top = {c.split(".")[0]: c for c in mapped}
    notes: list[str] = []
    if not collected.records:
        return notes, False
    gone = sorted(c for c in mapped if c not in seen and c.split(".")[0] not in seen)
    new = sorted(c for c in seen if c not in mapped and c not in top)
    if gone:
        notes.append("Columns in the mapping that the feed no longer has (their values are "
                     "kept as stored): " + ", ".join(gone))
    if new:
        notes.append("Columns the feed has that the mapping does not know (ignored until the "
                     "mapping says what they are): " + ", ".join(new))
    references = [c for c, t in mapped.items() if t == "lpa_app_no"]
    return notes, all(c in gone for c in references)


def _issue_row(run_id: str, feed: str, app_id: str, row: int, issue: Issue) -> dict[str, Any]:
    return {"run_id": run_id, "feed": feed, "application_id": app_id or "", "row": row,
            "field": issue.field, "value": issue.value, "code": issue.code,
            "severity": issue.severity, "message": issue.message, "created": utcnow(),
            "resolved_at": None}


def _event_type(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    if old is None:
        return "application.received"
    if new.get("status") != old.get("status"):
        status = new.get("status")
        if status == "decided" or (new.get("decision") and not old.get("decision")):
            return "application.decided"
        if status in ("validated", "withdrawn", "appealed"):
            return f"application.{status}"
    if new.get("decision") and new.get("decision") != old.get("decision"):
        return "application.decided"
    if new.get("appeal_status") != old.get("appeal_status") and new.get("appeal_status"):
        return "application.appealed"
    return "application.updated"


def harmonise_all(harmoniser: Harmoniser, collected: Collected, run_id: str
                  ) -> tuple[dict[str, Prepared], list[dict[str, Any]], int]:
    """Harmonise every record; settle duplicates. Returns the rows by id, the issue rows of
    quarantined records, and how many records were quarantined."""
    slug = harmoniser.authority.slug
    by_id: dict[str, list[Prepared]] = {}
    issues: list[dict[str, Any]] = []
    quarantined = 0
    for number, record in collected.records:
        if "__malformed__" in record or "__not_an_object__" in record:
            quarantined += 1
            why = record.get("__malformed__") or "the record is not an object"
            issues.append(_issue_row(run_id, slug, "", number, Issue(
                "", str(why), "malformed_row", f"The row cannot be read: {why}.", "error")))
            continue
        app_id, h = harmoniser.row(record)
        if app_id is None or h.quarantined:
            quarantined += 1
            issues.extend(_issue_row(run_id, slug, app_id or "", number, i) for i in h.issues)
            continue
        by_id.setdefault(app_id, []).append(Prepared(app_id, number, h, _digest(h.values)))
    rows: dict[str, Prepared] = {}
    for app_id, candidates in by_id.items():
        first = candidates[0]
        if len(candidates) > 1 and len({c.digest for c in candidates}) > 1:
            # The same application twice, saying different things: which is right is not
            # ours to guess. None of them is stored; the stored state stays.
            quarantined += len(candidates)
            numbers = ", ".join(str(c.row) for c in candidates)
            for c in candidates:
                issues.append(_issue_row(run_id, slug, app_id, c.row, Issue(
                    "lpa_app_no", app_id, "conflicting_duplicate",
                    f"The feed has this application {len(candidates)} times (rows {numbers}) "
                    "with different values; none is taken.", "error")))
            continue
        for c in candidates[1:]:
            issues.append(_issue_row(run_id, slug, app_id, c.row, Issue(
                "lpa_app_no", app_id, "duplicate_row",
                f"An exact repeat of row {first.row}; taken once.")))
        rows[app_id] = first
    return rows, issues, quarantined


def plan_changes(prepared: Mapping[str, Prepared], stored: Mapping[str, dict[str, Any]],
                 *, authority: Authority, run_id: str, resource_hash: str, today: date,
                 now: datetime) -> Plan:
    plan = Plan()
    source_base = {"feed": authority.slug, "run": run_id, "resource": resource_hash}
    for app_id, p in prepared.items():
        h = p.harmonised
        old = stored.get(app_id)
        if old is not None and old["digest"] == p.digest:
            plan.unchanged += 1
            # Still open: a full run supersedes the earlier runs' issues, so say them again.
            plan.issues.extend(_issue_row(run_id, authority.slug, app_id, p.row, i)
                               for i in h.issues)
            continue
        base = {f: None for f in STORED} if old is None else {f: old[f] for f in STORED}
        new = {**base, **h.values}
        new["id"] = app_id
        new["lpa_code"], new["lpa_name"] = authority.lpa_code, authority.lpa_name
        changed = {f: base[f] for f in STANDARD_FIELDS if base[f] != new[f]}
        issues = [_issue_row(run_id, authority.slug, app_id, p.row, i) for i in h.issues]
        plan.issues.extend(issues)
        if issues:
            plan.flagged += 1
        plan.touched.append(app_id)
        if old is not None and not changed:
            # Only what we derive moved (or a flagged value): remember the new digest.
            plan.updates.append({"b_id": app_id, **{f: old[f] for f in STORED},
                                 "decision_published": old["decision_published"],
                                 "digest": p.digest, "updated_at": old["updated_at"]})
            plan.unchanged += 1
            continue
        published = old["decision_published"] if old is not None else None
        if new.get("decision") and not published:
            stamp = new.get("last_updated")
            published = stamp[:10] if isinstance(stamp, str) else today.isoformat()
        row = {**{f: new[f] for f in STORED}, "feed": authority.slug,
               "decision_published": published, "digest": p.digest, "updated_at": now}
        kind = _event_type(old and {f: old[f] for f in STORED}, new)
        data: dict[str, Any] = {
            "application": {f: new[f] for f in SUMMARY},
            "source": {**source_base, "row": p.row},
        }
        if old is not None:
            data["changed"] = {f: v for f, v in changed.items() if f != "site_geometry"}
            data["fields"] = sorted(changed)
        if h.original:
            data["original"] = h.original
        plan.events.append((kind, app_id, data))
        if old is None:
            plan.inserts.append({**row, "first_seen": now})
        else:
            plan.updates.append({"b_id": app_id, **row})
    return plan


def _stored(session: Session, feed: str, ids: Iterable[str] | None) -> dict[str, dict]:
    table = PlanningApplication.__table__
    cols = [table.c[c] for c in (*STORED, "decision_published", "digest", "updated_at")]
    out: dict[str, dict] = {}
    if ids is None:
        for r in session.execute(select(*cols).where(table.c.feed == feed)).mappings():
            out[r["id"]] = dict(r)
        return out
    wanted = list(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        for r in session.execute(select(*cols).where(table.c.id.in_(chunk))).mappings():
            out[r["id"]] = dict(r)
    return out


def _write(session: Session, plan: Plan, run: PlanningRun, kind: str) -> None:
    table = cast(Table, PlanningApplication.__table__)
    for start in range(0, len(plan.inserts), _BATCH):
        session.execute(insert(table), plan.inserts[start:start + _BATCH])
    if plan.updates:
        columns = [c for c in plan.updates[0] if c != "b_id"]
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(
            {c: bindparam(c) for c in columns})
        for start in range(0, len(plan.updates), _BATCH):
            session.execute(stmt, plan.updates[start:start + _BATCH],
                            execution_options={"synchronize_session": False})
    if plan.events:
        events.append_many(session, STREAM, plan.events)
    issues = cast(Table, PlanningIssue.__table__)
    now = utcnow()
    resolve = update(issues).where(issues.c.feed == run.feed, issues.c.resolved_at.is_(None),
                                   issues.c.run_id != run.id)
    if kind == "full":
        session.execute(resolve.values(resolved_at=now))
    elif plan.touched:
        for start in range(0, len(plan.touched), 500):
            session.execute(resolve.where(issues.c.application_id.in_(
                plan.touched[start:start + 500])).values(resolved_at=now))
    for start in range(0, len(plan.issues), _BATCH):
        session.execute(insert(issues), plan.issues[start:start + _BATCH])


def run_feed(db: Any, slug: str, *, location: str | None = None, kind: str = "full",
             fetcher: Any = None, gazetteer: Gazetteer | None = None,
             value_rules: Mapping[str, Mapping[str, Any]] | None = None,
             today: date | None = None, force: bool = False,
             max_bytes: int = 512 * 1024 * 1024) -> dict[str, Any]:
    """Ingest one export of feed ``slug`` (its registered location unless ``location``);
    returns the run report. ``kind="delta"`` for a file of changes only."""
    from citydata.services.planning.sources import load_value_rules

    if kind not in ("full", "delta"):
        raise ValueError("kind is 'full' or 'delta'")
    today = today or date.today()
    with db.session() as session:
        feed = session.get(PlanningFeed, slug)
        if feed is None:
            from citydata.errors import NotFound

            raise NotFound(f"No planning feed {slug!r}")
        config, authority = json.loads(feed.config), authority_of(feed)
        last_good, where = feed.last_good_hash, location or feed.location
    failure = ""
    try:
        rules = value_rules if value_rules is not None else load_value_rules()
        harmoniser = Harmoniser(authority, config, rules, gazetteer, today=today)
        collected = collect(where, config, fetcher=fetcher, max_bytes=max_bytes)
    except (FeedError, ValueError) as exc:
        failure = str(exc)
    if not failure and kind == "full" and not force and collected.sha256 == last_good:
        # The export applied last time, again: nothing to do, and nothing is written.
        return {**_report_of(slug, kind, where), "status": "unchanged",
                "resource_hash": collected.sha256, "rows_read": len(collected.records)}
    with db.session() as session:
        _close_interrupted(session, slug)
        run = PlanningRun(feed=slug, kind=kind, location=where)
        session.add(run)
        session.flush()
        feed = session.get(PlanningFeed, slug)
        assert feed is not None
        feed.last_run_id = run.id
        run_id = run.id
    if failure:
        return _finish_failed(db, run_id, failure)
    notes, reference_gone = _shape_notes(config, collected)
    if reference_gone:
        return _finish_failed(db, run_id, "The feed has none of the reference columns the "
                              "mapping names: its columns have changed. Nothing was stored; "
                              + " ".join(notes), resource_hash=collected.sha256)
    try:
        prepared, bad_issues, quarantined = harmonise_all(harmoniser, collected, run_id)
        now = utcnow()
        with db.session() as session:
            stored = _stored(session, slug, None if kind == "full" else prepared.keys())
            plan = plan_changes(prepared, stored, authority=authority, run_id=run_id,
                                resource_hash=collected.sha256, today=today, now=now)
            plan.issues.extend(bad_issues)
            plan.quarantined = quarantined
            if kind == "full":
                plan.missing = len(set(stored) - set(prepared))
            run = session.get(PlanningRun, run_id)
            assert run is not None
            _write(session, plan, run, kind)
            run.status, run.finished = "ok", utcnow()
            run.resource_hash, run.rows_read = collected.sha256, len(collected.records)
            run.created, run.updated = len(plan.inserts), len(plan.events) - len(plan.inserts)
            run.unchanged, run.quarantined = plan.unchanged, plan.quarantined
            run.flagged, run.missing = plan.flagged, plan.missing
            run.notes = json.dumps(notes)
            feed = session.get(PlanningFeed, slug)
            assert feed is not None
            feed.last_success_at = run.finished
            if kind == "full":
                feed.last_good_hash = collected.sha256
            report = run_dict(run)
    except Exception:
        log.exception("planning ingest of %s failed", slug)
        return _finish_failed(db, run_id, "The run failed on our side and stored nothing; "
                              "the error is in the server log.")
    return report


#: A run still "running" after this long was cut off (its process stopped): nothing of it
#: was stored, since a run writes in one transaction.
INTERRUPTED_AFTER = timedelta(minutes=30)


def _close_interrupted(session: Session, feed: str) -> None:
    """Report earlier runs of ``feed`` whose process died mid-run as failed."""
    cutoff = utcnow() - INTERRUPTED_AFTER
    session.execute(update(cast(Table, PlanningRun.__table__)).where(
        PlanningRun.feed == feed, PlanningRun.status == "running",
        PlanningRun.started < cutoff).values(
        status="failed", finished=utcnow(),
        error="Interrupted: the process stopped before the run finished; nothing of it was "
              "stored."))


def _report_of(feed: str, kind: str, location: str) -> dict[str, Any]:
    """The report of a run that was not stored (its export had not changed)."""
    return {"id": None, "feed": feed, "kind": kind, "status": "", "started": None,
            "finished": None, "location": shown(location), "resource_hash": "",
            "rows_read": 0, "created": 0, "updated": 0, "unchanged": 0, "quarantined": 0,
            "flagged": 0, "missing": 0, "notes": [], "error": ""}


def _finish(db: Any, run_id: str, **values: Any) -> dict[str, Any]:
    with db.session() as session:
        run = session.get(PlanningRun, run_id)
        assert run is not None
        for k, v in values.items():
            setattr(run, k, v)
        run.finished = utcnow()
        return run_dict(run)


def _finish_failed(db: Any, run_id: str, error: str, **values: Any) -> dict[str, Any]:
    return _finish(db, run_id, status="failed", error=error, **values)


def run_dict(run: PlanningRun) -> dict[str, Any]:
    return {
        "id": run.id, "feed": run.feed, "kind": run.kind, "status": run.status,
        "started": run.started.isoformat() + "Z" if run.started else None,
        "finished": run.finished.isoformat() + "Z" if run.finished else None,
        "location": shown(run.location), "resource_hash": run.resource_hash,
        "rows_read": run.rows_read, "created": run.created, "updated": run.updated,
        "unchanged": run.unchanged, "quarantined": run.quarantined, "flagged": run.flagged,
        "missing": run.missing, "notes": json.loads(run.notes or "[]"), "error": run.error,
    }

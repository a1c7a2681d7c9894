"""The dispatcher's side of the database: claiming work under a lease, and recording what
became of it. Synchronous, each function one short transaction (the async dispatcher in
:mod:`citydata.events.webhook_dispatch` calls them from a worker thread).

**Claims.** A subscription behind its stream's newest event, or a queued delivery that is
due, is claimed by setting ``lease_owner`` and ``lease_until`` on its row. Candidates are
picked with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL: two processes skip each other's
rows instead of waiting) and the ``UPDATE`` repeats the "free" condition, which is what
decides on SQLite (one writer at a time, no row locks). Whoever holds the lease sends; every
later write is conditional on still holding it, so a lease that ran out (a process that died)
or was taken away (a replay) cannot move the cursor behind its new holder's back.

**Released** subscriptions keep ``lease_until`` as the time they were last served, and the
least recently served are claimed first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update

from citydata.errors import CitydataError
from citydata.events import log as event_log
from citydata.events.log import Event
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.database import Database
from citydata.storage.models import utcnow
from citydata.storage.models_webhooks import WebhookDelivery, WebhookSubscription

Sub, D = WebhookSubscription, WebhookDelivery
#: The outcome of a retry whose event has left the log: it is dead at once.
GONE = "The event is no longer in the log"


def backoff_seconds(attempts: int, settings: Settings) -> float:
    """How long after its ``attempts``-th failed attempt a delivery is tried again."""
    base, cap = settings.webhook_retry_base_seconds, settings.webhook_retry_cap_seconds
    return float(min(base * 2 ** min(attempts - 1, 60), cap))


@dataclass(frozen=True)
class Holder:
    """Who takes leases (one dispatcher in one process), on which clock, for how long."""

    owner: str
    clock: Callable[[], datetime]
    span: timedelta

    def released(self) -> datetime:
        """A released subscription's ``lease_until``: served now (the earlier of this clock
        and the real one, so a claim at either time finds it free)."""
        return min(self.clock(), utcnow())


@dataclass(frozen=True)
class Batch:
    id: str
    stream: str
    url: str
    secret: str
    filters: str
    cursor: int


@dataclass(frozen=True)
class Retry:
    id: str
    subscription_id: str
    event_id: int
    attempts: int
    stream: str
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered (2xx), or not, with the status and why."""

    ok: bool
    status: int | None = None
    error: str = ""


class Broken(Exception):
    """The subscription cannot be served as configured: it is paused with this reason."""


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _free(model: Any, now: datetime) -> Any:
    return or_(model.lease_until.is_(None), model.lease_until <= now)


# -- claims ---------------------------------------------------------------------------------------


def claim_batches(db: Database, holder: Holder, limit: int) -> tuple[list[Batch], int]:
    """Lease up to ``limit`` active subscriptions that are behind their stream; with the
    newest event id of all streams at that moment."""
    now = holder.clock()
    with db.session() as session:
        seen = event_log.last_id(session)
        if limit <= 0:
            return [], seen
        streams = session.scalars(select(Sub.stream).where(Sub.status == "active").distinct())
        heads = {s: event_log.last_id(session, s) for s in streams}
        behind = [and_(Sub.stream == s, Sub.cursor < head) for s, head in heads.items() if head]
        if not behind:
            return [], seen
        ids = session.scalars(
            select(Sub.id).where(Sub.status == "active", _free(Sub, now), or_(*behind))
            .order_by(Sub.lease_until.asc().nulls_first()).limit(limit)
            .with_for_update(skip_locked=True)).all()
        if not ids:
            return [], seen
        session.execute(update(Sub).where(Sub.id.in_(ids), Sub.status == "active",
                                          _free(Sub, now))
                        .values(lease_owner=holder.owner, lease_until=now + holder.span)
                        .execution_options(synchronize_session=False))
        rows = session.scalars(select(Sub).where(Sub.id.in_(ids),
                                                 Sub.lease_owner == holder.owner))
        return [Batch(s.id, s.stream, s.url, s.secret, s.filters, s.cursor) for s in rows], seen


def claim_retries(db: Database, holder: Holder, limit: int) -> list[Retry]:
    """Lease up to ``limit`` queued deliveries that are due, of active subscriptions."""
    now = holder.clock()
    due = and_(D.status == "retrying", D.next_attempt_at <= now, _free(D, now),
               D.subscription_id.in_(select(Sub.id).where(Sub.status == "active")))
    with db.session() as session:
        ids = session.scalars(select(D.id).where(due).order_by(D.next_attempt_at).limit(limit)
                              .with_for_update(skip_locked=True)).all()
        if not ids:
            return []
        session.execute(update(D).where(D.id.in_(ids), due)
                        .values(lease_owner=holder.owner, lease_until=now + holder.span)
                        .execution_options(synchronize_session=False))
        rows = session.execute(select(D, Sub).join(Sub, Sub.id == D.subscription_id)
                               .where(D.id.in_(ids), D.lease_owner == holder.owner)).all()
        return [Retry(d.id, d.subscription_id, d.event_id, d.attempts, s.stream, s.url,
                      s.secret) for d, s in rows]


def extend(db: Database, holder: Holder, sub_ids: Iterable[str],
           delivery_ids: Iterable[str]) -> None:
    """Renew the leases still held (a slow pass must not lose its work to another)."""
    until = utcnow() + holder.span
    with db.session() as session:
        for model, ids in ((Sub, list(sub_ids)), (D, list(delivery_ids))):
            if ids:
                session.execute(update(model).where(model.id.in_(ids),
                                                    model.lease_owner == holder.owner)
                                .values(lease_until=until)
                                .execution_options(synchronize_session=False))


def release(db: Database, holder: Holder, sub_ids: Iterable[str] = (),
            delivery_ids: Iterable[str] = (), *, error: str = "", pause: bool = False,
            hold: timedelta | None = None) -> None:
    """Give leases back without recording a result (the work is done again later); with
    ``error``, say why on the subscription; ``pause`` it; or keep it off for ``hold``."""
    now = holder.clock()
    values: dict[str, Any] = {"lease_owner": "",
                              "lease_until": now + hold if hold else holder.released()}
    if error:
        values.update(last_error=error, last_error_at=now)
    if pause:
        values["status"] = "paused"
    subs, deliveries = list(sub_ids), list(delivery_ids)
    with db.session() as session:
        if subs:
            session.execute(update(Sub).where(Sub.id.in_(subs), Sub.lease_owner == holder.owner)
                            .values(**values).execution_options(synchronize_session=False))
        if deliveries:
            session.execute(update(D).where(D.id.in_(deliveries),
                                            D.lease_owner == holder.owner)
                            .values(lease_owner="", lease_until=now + hold if hold else None)
                            .execution_options(synchronize_session=False))


# -- new events -----------------------------------------------------------------------------------


def read_batch(platform: Platform, batch: Batch, size: int) -> tuple[list[Event], int, int]:
    """The events of the batch to send (matching the filters, and not already waiting in the
    retry queue), the id the cursor moves to afterwards, and how many events it moves past."""
    from citydata.events.streams import get_stream

    try:
        stream = get_stream(platform, batch.stream)
        matches = stream.parse_filters(json.loads(batch.filters or "{}"))
    except (CitydataError, ValueError, TypeError) as exc:
        message = exc.message if isinstance(exc, CitydataError) else str(exc)
        raise Broken(f"Paused: its stream or filters are no longer accepted ({message})"
                     ) from None
    with platform.db.session() as session:
        events = event_log.read(session, batch.stream, batch.cursor, size)
        if not events:
            return [], batch.cursor, 0
        queued = set(session.scalars(select(D.event_id).where(
            D.subscription_id == batch.id, D.status == "retrying",
            D.event_id.between(events[0].id, events[-1].id))))
    return ([e for e in events if e.id not in queued and matches(e)], events[-1].id,
            len(events))


def finish_batch(db: Database, settings: Settings, holder: Holder, batch: Batch, last: int,
                 read: int, results: list[tuple[Event, Outcome]],
                 report: dict[str, int]) -> None:
    """Queue the failures and move the cursor past the batch, in one transaction. If the
    lease was lost meanwhile (a replay moved the cursor back, the subscription was deleted,
    the lease ran out) the batch belongs to its new holder: only the counters change."""
    now = holder.clock()
    good = [e for e, o in results if o.ok]
    bad = [(e, o) for e, o in results if not o.ok]
    with db.session() as session:
        kept = _rowcount(session.execute(
            update(Sub).where(Sub.id == batch.id, Sub.lease_owner == holder.owner)
            .values(cursor=last, lease_owner="", lease_until=holder.released())
            .execution_options(synchronize_session=False)))
        counters: dict[str, Any] = {"delivered": Sub.delivered + len(good),
                                    "failed": Sub.failed + len(bad)}
        if good:
            counters["last_success_at"] = now
        if bad:
            counters["last_error"] = f"Event {bad[-1][0].id}: {bad[-1][1].error}"
            counters["last_error_at"] = now
        session.execute(update(Sub).where(Sub.id == batch.id).values(**counters)
                        .execution_options(synchronize_session=False))
        if kept:
            report["handed_over"] += read
            report["delivered"] += len(good)
            report["failed"] += len(bad)
            report["dead"] += _queue(session, settings, batch.id, good, bad, now)


def _queue(session: Any, settings: Settings, sub_id: str, good: list[Event],
           bad: list[tuple[Event, Outcome]], now: datetime) -> int:
    """Failures join the retry queue (a replayed event's old row starts over); replayed
    events that were dead or retried before and have now arrived are marked delivered.
    Answers how many went straight to the dead letters (``webhook_max_attempts`` = 1)."""
    ids = [e.id for e in good] + [e.id for e, _ in bad]
    existing = {d.event_id: d for d in session.scalars(
        select(D).where(D.subscription_id == sub_id, D.event_id.in_(ids)))} if ids else {}
    dead_now = settings.webhook_max_attempts <= 1
    for e, o in bad:
        row = existing.get(e.id) or D(subscription_id=sub_id, event_id=e.id, created=now)
        row.event_type, row.attempts, row.updated = e.type, 1, now
        row.status = "dead" if dead_now else "retrying"
        row.next_attempt_at = None if dead_now else now + timedelta(
            seconds=backoff_seconds(1, settings))
        row.last_status_code, row.last_error = o.status, o.error
        row.lease_owner, row.lease_until = "", None
        session.add(row)
    for e in good:
        row = existing.get(e.id)
        if row is not None and row.status != "delivered":
            row.status, row.updated, row.next_attempt_at = "delivered", now, None
    return len(bad) if dead_now else 0


# -- retries --------------------------------------------------------------------------------------


def load_events(db: Database, retries: list[Retry]) -> dict[str, Event | None]:
    """Each retry's event (None if it is no longer in the log)."""
    out: dict[str, Event | None] = {}
    with db.session() as session:
        for r in retries:
            found = event_log.read(session, r.stream, r.event_id - 1, 1)
            out[r.id] = found[0] if found and found[0].id == r.event_id else None
    return out


def finish_retries(db: Database, settings: Settings, holder: Holder,
                   results: list[tuple[Retry, Outcome]], report: dict[str, int]) -> None:
    """Delivered, due again after the back-off, or dead after ``webhook_max_attempts``."""
    now = holder.clock()
    with db.session() as session:
        for r, o in results:
            attempts = r.attempts + 1
            gone = o.error == GONE
            dead = not o.ok and (gone or attempts >= settings.webhook_max_attempts)
            values: dict[str, Any] = {
                "attempts": attempts, "last_status_code": o.status, "updated": now,
                "lease_owner": "", "lease_until": None,
                "status": "delivered" if o.ok else "dead" if dead else "retrying",
                "next_attempt_at": None if o.ok or dead else now + timedelta(
                    seconds=backoff_seconds(attempts, settings))}
            if not o.ok:
                values["last_error"] = o.error
            done = _rowcount(session.execute(
                update(D).where(D.id == r.id, D.lease_owner == holder.owner).values(**values)
                .execution_options(synchronize_session=False)))
            counters: dict[str, Any] = (
                {"delivered": Sub.delivered + 1, "last_success_at": now} if o.ok else
                {"failed": Sub.failed + 1, "last_error_at": now,
                 "last_error": f"Event {r.event_id}: {o.error}"})
            session.execute(update(Sub).where(Sub.id == r.subscription_id).values(**counters)
                            .execution_options(synchronize_session=False))
            if done:
                report["handed_over"] += 1
                report["delivered" if o.ok else "failed"] += 1
                report["dead"] += dead

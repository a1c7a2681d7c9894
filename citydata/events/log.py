"""The event log: append events in the caller's transaction, read them back by id.

An event says that something happened (``type``, e.g. ``application.decided``) to something
(``key``, e.g. an application's reference) in a stream (``planning``), with a JSON object of
data. The database numbers events; a stream's events in id order are its history, and the id
is the cursor every reader resumes from (SSE ``Last-Event-ID``, webhooks, polling clients).

**Ids become visible in order.** A reader that has seen id N must be able to trust that no
event with a smaller id will appear later; otherwise a client resuming after N would miss it.
Each append therefore takes a transaction-level lock before it takes ids:

- PostgreSQL: ``pg_advisory_xact_lock`` on a key derived from the ``events`` table's oid (so
  two schemas of one database do not share it), held until commit or rollback. Transactions
  that append events commit one after another, in id order; a rolled-back one leaves a gap that
  will never fill, which readers may step over at once. The cost: writers of events wait for
  each other from their first append to their commit, so append late in a transaction. (The
  alternative, holding back events newer than a gap for a few seconds, delays every reader
  after each rollback and still loses events of a transaction slower than its hold-back.)
- SQLite: a database has one writer at a time, from its first write until it commits, so ids
  are already taken and committed in order.

**Waking readers.** The same statement that takes the lock queues ``pg_notify`` on a channel
named after the database and the table's schema; PostgreSQL delivers it only if the
transaction commits, to every process listening (:mod:`citydata.events.wakeup`). Within a
process, a session that appended is marked and, after it commits, wakes every hub of that
database directly. Readers of a SQLite file written by another process poll.

Only :func:`append` and :func:`append_many` may write the ``events`` table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from citydata.errors import ValidationError
from citydata.events import wakeup
from citydata.storage.models import utcnow
from citydata.storage.models_events import EventRow

#: Stream names are path segments and parts of channel names: short, lowercase.
STREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
#: Event types are SSE ``event:`` fields: no spaces or line breaks.
EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,59}$")
KEY_MAX = 200
#: Rows per statement when appending many, and per page when reading.
BATCH = 1000

_TABLE = cast(Table, EventRow.__table__)
_COLUMNS = (_TABLE.c.id, _TABLE.c.stream, _TABLE.c.type, _TABLE.c.key, _TABLE.c.created_at,
            _TABLE.c.data)
_APPENDED = "citydata.events.appended"


@dataclass(frozen=True)
class Event:
    """One event as readers see it."""

    id: int
    stream: str
    type: str
    key: str
    created_at: datetime  # UTC, naive (as stored)
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON: ``created_at`` in ISO 8601 UTC with ``Z``."""
        return {
            "id": self.id,
            "stream": self.stream,
            "type": self.type,
            "key": self.key,
            "created_at": self.created_at.isoformat(timespec="milliseconds") + "Z",
            "data": self.data,
        }


def append(session: Session, stream: str, type: str, key: str, data: dict[str, Any]) -> int:
    """Append one event in the session's transaction and return its id.

    It becomes visible to readers (and wakes them) when the transaction commits."""
    row = _row(stream, type, key, data, utcnow())
    _before_insert(session)
    new_id = session.execute(insert(_TABLE).values(row).returning(_TABLE.c.id)).scalar_one()
    return int(new_id)


def append_many(
    session: Session, stream: str, items: Iterable[tuple[str, str, dict[str, Any]]]
) -> int:
    """Append ``(type, key, data)`` events in order, in batches of multi-row inserts (for
    bulk ingest); return how many. They share one ``created_at``."""
    _check_stream(stream)
    now = utcnow()
    rows = (_row(stream, t, k, d, now, checked=True) for t, k, d in items)
    count = 0
    locked = False
    for chunk in _chunks(rows, BATCH):
        if not locked:
            _before_insert(session)
            locked = True
        session.execute(insert(_TABLE), chunk)
        count += len(chunk)
    return count


def read(session: Session, stream: str, after_id: int, limit: int = BATCH) -> list[Event]:
    """Events of ``stream`` with an id greater than ``after_id``, oldest first."""
    stmt = (select(*_COLUMNS).where(_TABLE.c.stream == stream, _TABLE.c.id > after_id)
            .order_by(_TABLE.c.id).limit(max(1, limit)))
    return [_event(r) for r in session.execute(stmt)]


def read_after(session: Session, after_id: int, limit: int = BATCH, *,
               up_to: int | None = None, stream: str | None = None) -> list[Event]:
    """Events of every stream (or one) after ``after_id`` (and at most ``up_to``), oldest
    first: what a hub reads."""
    stmt = select(*_COLUMNS).where(_TABLE.c.id > after_id)
    if up_to is not None:
        stmt = stmt.where(_TABLE.c.id <= up_to)
    if stream is not None:
        stmt = stmt.where(_TABLE.c.stream == stream)
    stmt = stmt.order_by(_TABLE.c.id).limit(limit)
    return [_event(r) for r in session.execute(stmt)]


def read_matching(
    session: Session, stream: str, after_id: int, limit: int,
    match: Callable[[Event], bool] | None,
) -> tuple[list[Event], int]:
    """Up to ``limit`` events after ``after_id`` that ``match`` accepts, and the id to ask
    after next time (the last event looked at, matching or not)."""
    out: list[Event] = []
    position = after_id
    while len(out) < limit:
        want = BATCH if match else limit - len(out)
        page = read(session, stream, position, want)
        for ev in page:
            position = ev.id
            if match is None or match(ev):
                out.append(ev)
                if len(out) == limit:
                    break
        if len(page) < want:
            break
    return out, position


def for_key(session: Session, stream: str, key: str) -> list[Event]:
    """Every event of ``key`` in ``stream``, oldest first (e.g. one application's history)."""
    stmt = (select(*_COLUMNS).where(_TABLE.c.stream == stream, _TABLE.c.key == key)
            .order_by(_TABLE.c.id))
    return [_event(r) for r in session.execute(stmt)]


def last_id(session: Session, stream: str | None = None) -> int:
    """The newest event id (of one stream, or of all); 0 when there is none."""
    stmt = select(func.max(_TABLE.c.id))
    if stream is not None:
        stmt = stmt.where(_TABLE.c.stream == stream)
    return int(session.scalar(stmt) or 0)


# ---------------------------------------------------------------- internals


def _check_stream(stream: str) -> None:
    if not isinstance(stream, str) or not STREAM_NAME.match(stream):
        raise ValidationError(f"Not a stream name: {stream!r} (lowercase letters, digits, "
                              "- and _, up to 40)")


def _row(stream: str, type: str, key: str, data: dict[str, Any], now: datetime, *,
         checked: bool = False) -> dict[str, Any]:
    if not checked:
        _check_stream(stream)
    if not isinstance(type, str) or not EVENT_TYPE.match(type):
        raise ValidationError(f"Not an event type: {type!r} (letters, digits, . _ : -, "
                              "up to 60)")
    if not isinstance(key, str) or len(key) > KEY_MAX or "\x00" in key:
        raise ValidationError(f"An event key is a string of up to {KEY_MAX} characters")
    if not isinstance(data, dict):
        raise ValidationError("An event's data is a JSON object")
    try:
        # NaN is not JSON: readers could not parse it.
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False,
                             allow_nan=False, default=_as_json)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"An event's data must be JSON: {exc}") from None
    return {"stream": stream, "type": type, "key": key, "created_at": now, "data": payload}


def _as_json(value: Any) -> str:
    """Dates and times as ISO 8601, decimals and UUIDs as text; anything else is refused."""
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _chunks(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _before_insert(session: Session) -> None:
    """Order this transaction's ids behind earlier writers' and arrange the wake-ups."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text(wakeup.LOCK_AND_NOTIFY_SQL))
    session.info[_APPENDED] = wakeup.database_key(bind.engine)


def _event(row: Any) -> Event:
    return Event(id=int(row.id), stream=row.stream, type=row.type, key=row.key,
                 created_at=row.created_at, data=json.loads(row.data))


@sa_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # A stale mark (a rolled-back append, then a commit) costs one needless read, nothing more.
    key = session.info.pop(_APPENDED, None)
    if key is not None:
        wakeup.wake(key)

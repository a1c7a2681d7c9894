"""The tamper-evident audit log: every read of non-open data and every governance action.

Entries are *staged* on the database session while a request runs (:func:`stage`) and
appended when its transaction commits (a ``before_commit`` hook), so an entry exists exactly
when what it records happened: a read that fails, or a decision that rolls back, leaves none;
data is only sent after the commit that wrote its entry.

Each entry carries ``prev_hash`` and ``hash = SHA-256(canonical(entry, prev_hash))``. Appending
first bumps the single ``audit_head`` row, whose lock orders concurrent writers (SQLite: the
database write lock; PostgreSQL: the row lock), so sequence numbers are gap-free and the chain
is linear. :func:`verify` re-walks the chain and names the first entry that was edited,
removed, inserted or moved; signed checkpoints (:mod:`citydata.access.keys`) also catch a
rewrite of the whole chain by someone without the node's private key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.faults import pause_point
from citydata.storage.models import utcnow
from citydata.storage.models_access import AuditCheckpoint, AuditEntry, AuditHead

if TYPE_CHECKING:
    from citydata.access.keys import NodeKey
    from citydata.access.policy import Decision

GENESIS = "0" * 64
PENDING = "citydata_audit_pending"
#: The fields of an entry, in hashing order.
FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "action",
    "org_id",
    "dataset_id",
    "resource_id",
    "agreement_id",
    "purpose",
    "detail",
    "prev_hash",
)


@dataclass
class Pending:
    action: str
    actor_id: str = ""
    actor_name: str = ""
    org_id: str = ""
    dataset_id: str = ""
    resource_id: str = ""
    agreement_id: str = ""
    purpose: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def canonical(values: dict[str, Any]) -> bytes:
    """The bytes an entry's hash covers: its fields as a compact JSON array."""
    return json.dumps(
        [values[f] for f in FIELDS], ensure_ascii=False, separators=(",", ":")
    ).encode()


def entry_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(values)).hexdigest()


def detail_text(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


# -- staging and appending -----------------------------------------------------------------------
def stage(
    session: Session, actor: Actor, action: str, *, key: tuple | None = None, **values: Any
) -> dict[str, Any]:
    """Queue an entry for this transaction; returns its ``detail`` dict, which callers may
    still add to until the commit. Entries with the same ``key`` are written once."""
    pending: dict[Any, Pending] = session.info.setdefault(PENDING, {})
    slot = key if key is not None else object()
    if slot in pending:
        return pending[slot].detail
    entry = Pending(
        action=action,
        actor_id=actor.user_id or "",
        actor_name=actor.name or ("anonymous" if not actor.user_id else ""),
        detail=dict(values.pop("detail", None) or {}),
        **values,
    )
    pending[slot] = entry
    return entry.detail


def stage_read(session: Session, actor: Actor, decision: Decision) -> None:
    """Stage the audit entry of an allowed data read; the decision's ``detail`` *is* the
    entry's, so ``decision.note(rows=...)`` before the commit is recorded."""
    grant = decision.grant
    key = (
        "read",
        decision.dataset_id,
        decision.resource_id,
        decision.action,
        grant.agreement_id if grant else "",
    )
    detail = stage(
        session,
        actor,
        f"data.{decision.action}",
        key=key,
        org_id=decision.org_id,
        dataset_id=decision.dataset_id,
        resource_id=decision.resource_id or "",
        agreement_id=grant.agreement_id if grant else "",
        purpose=decision.purpose,
        detail={
            "via": decision.via,
            "dataset": decision.dataset_name,
            "level": decision.level,
            "agreement": grant.reference if grant else "",
            "scope": actor.scope if actor.token_id else "session",
        },
    )
    decision.detail = detail


def append(session: Session, entries: list[Pending]) -> int:
    """Write ``entries`` to the chain now (inside the caller's transaction); returns the last
    sequence number."""
    if not entries:
        return 0
    n = len(entries)
    # The UPDATE takes the head's lock first, so no other writer can interleave; RETURNING
    # reads the new number and the previous hash under that lock in the same statement.
    head = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + n)
        .returning(AuditHead.seq, AuditHead.hash)).one()
    seq, prev = int(head.seq) - n, head.hash
    at = utcnow().isoformat(timespec="microseconds")
    rows = []
    for e in entries:
        seq += 1
        values = {
            "seq": seq,
            "at": at,
            "actor_id": e.actor_id,
            "actor_name": e.actor_name[:100],
            "action": e.action,
            "org_id": e.org_id,
            "dataset_id": e.dataset_id,
            "resource_id": e.resource_id,
            "agreement_id": e.agreement_id,
            "purpose": e.purpose,
            "detail": detail_text(e.detail),
            "prev_hash": prev,
        }
        prev = values["hash"] = entry_hash(values)
        rows.append(values)
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    return seq


WROTE = "citydata_audit_wrote"


@event.listens_for(Session, "before_flush")
def _note_orm_writes(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement_writes(state: Any) -> None:
    if not state.is_select:
        state.session.info[WROTE] = True


@event.listens_for(Session, "before_commit")
def _append_staged(session: Session) -> None:
    """Append what the transaction staged: inline when the transaction writes anything itself
    (so its entries commit with it), else through the group-commit writer, waiting for it."""
    from citydata.access.audit_writer import write_grouped

    pending = session.info.pop(PENDING, None)
    wrote = session.info.pop(WROTE, False)
    if not pending:
        return
    entries = list(pending.values())
    if wrote or any(not e.action.startswith("data.") for e in entries):
        append(session, entries)
        pause_point("audit-appended")  # the action and its entries are written, not committed
    else:
        write_grouped(session, entries)


@event.listens_for(Session, "after_soft_rollback")
def _drop_staged(session: Session, previous_transaction: Any) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(WROTE, None)


# -- checkpoints -------------------------------------------------------------------------------
def checkpoint_message(seq: int, hash_: str, at: str) -> bytes:
    return f"citydata-audit-checkpoint|{seq}|{hash_}|{at}".encode()


def write_checkpoint(session: Session, key: NodeKey) -> AuditCheckpoint | None:
    """Sign "the log has N entries ending in hash H"; None when nothing new since the last."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    if head.seq == 0 or session.get(AuditCheckpoint, head.seq) is not None:
        return None
    at = utcnow().isoformat(timespec="seconds")
    cp = AuditCheckpoint(
        seq=head.seq,
        hash=head.hash,
        at=at,
        key_id=key.key_id,
        signature=key.sign(checkpoint_message(head.seq, head.hash, at)),
    )
    session.add(cp)
    session.flush()
    return cp


# -- verification ------------------------------------------------------------------------------
@dataclass
class Verification:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    checkpoints: int = 0
    checkpoints_unchecked: int = 0
    problem: str = ""
    broken_seq: int | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"Audit log BROKEN: {self.problem}"
        signed = f"; {self.checkpoints} signed checkpoint(s) valid" if self.checkpoints else ""
        if self.checkpoints_unchecked:
            signed += f"; {self.checkpoints_unchecked} checkpoint(s) not checked (no node key)"
        return f"Audit log intact: {self.entries:,} entries, head {self.head_hash[:16]}…{signed}"


def _rows(conn: Connection, batch: int) -> Iterator[Any]:
    cols = [getattr(AuditEntry, f) for f in (*FIELDS, "hash")]
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        select(*cols).order_by(AuditEntry.seq)
    )
    yield from result


def verify(
    conn: Connection,
    key: NodeKey | None = None,
    *,
    batch: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Walk the whole chain; stop at the first entry that is not what was appended."""
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    checkpoints = {cp.seq: cp for cp in conn.execute(select(AuditCheckpoint)).all()}
    result = Verification(True, 0, int(head.seq), head.hash)

    def broken(seq: int | None, why: str) -> Verification:
        result.ok, result.problem, result.broken_seq = False, why, seq
        return result

    expected, prev = 1, GENESIS
    at_checkpoint: dict[int, str] = {}
    for row in _rows(conn, batch):
        values = dict(zip((*FIELDS, "hash"), row, strict=True))
        seq = int(values["seq"])
        if seq != expected:
            return broken(
                expected,
                f"entry {expected} is missing: the log jumps from entry "
                f"{expected - 1} to {seq} (entries were deleted)",
            )
        if entry_hash(values) != values["hash"]:
            return broken(seq, f"entry {seq} does not match its hash: it was edited or moved")
        if values["prev_hash"] != prev:
            return broken(
                seq,
                f"entry {seq} does not follow entry {seq - 1}: an entry before "
                "it was changed, removed or inserted",
            )
        if seq in checkpoints:
            at_checkpoint[seq] = values["hash"]
        prev = values["hash"]
        expected += 1
        result.entries += 1
        if progress and result.entries % batch == 0:
            progress(result.entries)
    last = expected - 1
    if last != head.seq or prev != head.hash:
        return broken(
            last + 1,
            f"the log ends at entry {last} but its head records entry "
            f"{head.seq}: entries at the end were deleted or replaced",
        )
    for seq, cp in sorted(checkpoints.items()):
        if seq > last:
            return broken(
                last + 1,
                f"signed checkpoint {seq} is past the end of the log "
                f"(entry {last}): entries were deleted",
            )
        if key is None or cp.key_id != key.key_id:
            result.checkpoints_unchecked += 1
            continue
        if not key.verify(checkpoint_message(cp.seq, cp.hash, cp.at), cp.signature):
            return broken(seq, f"checkpoint {seq} has an invalid signature: it was forged")
        if at_checkpoint.get(seq) != cp.hash:
            return broken(
                seq, f"entry {seq} differs from the signed checkpoint: the log was rewritten"
            )
        result.checkpoints += 1
    return result

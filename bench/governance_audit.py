"""Audit log measurements: append throughput, ``audit verify``, and the engine's raw cost.

Every entry is the one a governed ``datastore_search`` writes (same action, ids, purpose and
detail shape), so hashing and row sizes are those of the real read path. Each loop is bounded
by a count and a time budget; rates are computed from what was actually done.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, insert, select, text
from sqlalchemy.orm import Session

from bench.governance_setup import ANALYST, PURPOSE, RESTRICTED_NAME, Catalog
from bench.measure import call_latency
from citydata.access import audit
from citydata.access.actors import Actor
from citydata.platform import Platform
from citydata.storage.models_access import AuditEntry, AuditHead

SCRATCH = "bench_audit_scratch"
HASH_STANDIN = "f" * 64


def read_entry(platform: Platform, cat: Catalog) -> tuple[Actor, audit.Pending]:
    """The analyst's actor and the entry one governed page read stages."""
    from citydata.access import agreements
    from citydata.catalog.datasets import find_dataset
    from citydata.catalog.users import actor_for_user, get_user

    with platform.db.session() as s:
        actor = actor_for_user(s, get_user(s, ANALYST))
        ds = find_dataset(s, RESTRICTED_NAME)
        ag = agreements.find(s, cat.agreement)
        if ds is None or ag is None:
            raise RuntimeError("the governed dataset or its agreement is missing")
        entry = audit.Pending(
            action="data.read", actor_id=actor.user_id or "", actor_name=actor.name,
            org_id=ds.owner_org, dataset_id=ds.id, resource_id=cat.restricted_resource,
            agreement_id=ag.id, purpose=PURPOSE,
            detail={"via": "agreement", "dataset": ds.name, "level": ds.access_level,
                    "agreement": ag.reference, "scope": "admin", "version": 1, "rows": 100,
                    "query": {"filters": '{"age_band": "85+"}', "limit": "100"}})
    return actor, entry


def head_seq(platform: Platform) -> int:
    with platform.db.engine.connect() as conn:
        return int(conn.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)


def _rate(entries: int, seconds: float, transactions: int) -> dict[str, Any]:
    return {"entries": entries, "transactions": transactions, "seconds": round(seconds, 4),
            "entries_per_s": round(entries / seconds) if seconds else None}


def _bounded(step: Callable[[], int], limit: int, budget_s: float) -> dict[str, Any]:
    """Call ``step`` (which returns entries written) until ``limit`` entries or the budget."""
    done = calls = 0
    deadline = time.monotonic() + budget_s
    t0 = time.perf_counter()
    while done < limit:
        done += step()
        calls += 1
        if time.monotonic() > deadline:
            break
    return _rate(done, time.perf_counter() - t0, calls)


def _stage(session: Session, actor: Actor, entry: audit.Pending) -> None:
    audit.stage(session, actor, entry.action, org_id=entry.org_id, dataset_id=entry.dataset_id,
                resource_id=entry.resource_id, agreement_id=entry.agreement_id,
                purpose=entry.purpose, detail=dict(entry.detail))


# -- append --------------------------------------------------------------------------------
def append_batched(platform: Platform, entry: audit.Pending, *, batch: int, total: int,
                   budget_s: float) -> dict[str, Any]:
    """``audit.append`` of ``batch`` entries per transaction (hashing included)."""
    entries = [entry] * batch

    def step() -> int:
        with platform.db.session() as s:
            audit.append(s, entries)
        return batch

    return {"batch": batch, **_bounded(step, total, budget_s)}


def stage_per_transaction(platform: Platform, actor: Actor, entry: audit.Pending, *, total: int,
                          budget_s: float) -> dict[str, Any]:
    """The API's path: one entry staged, written by the commit's ``before_commit`` hook."""

    def step() -> int:
        with platform.db.session() as s:
            _stage(s, actor, entry)
        return 1

    return {"batch": 1, **_bounded(step, total, budget_s)}


def stage_concurrent(platform: Platform, actor: Actor, entry: audit.Pending, *, threads: int,
                     total: int, budget_s: float) -> dict[str, Any]:
    """The API's path under load: ``threads`` clients each staging one entry per transaction
    at once, as concurrent reads do; their entries share the group-commit writer's batches."""
    import threading

    lock = threading.Lock()
    counts = {"done": 0, "calls": 0}
    deadline = time.monotonic() + budget_s

    def client() -> None:
        while True:
            with lock:
                if counts["done"] >= total or time.monotonic() > deadline:
                    return
                counts["done"] += 1
                counts["calls"] += 1
            with platform.db.session() as s:
                _stage(s, actor, entry)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"batch": 1, "threads": threads,
            **_rate(counts["done"], time.perf_counter() - t0, counts["calls"])}


def commit_one_entry(platform: Platform, actor: Actor, entry: audit.Pending,
                     n: int) -> dict[str, Any]:
    """Latency of one stage + commit, next to an empty transaction (what an open read commits)."""
    def staged(_: object) -> None:
        with platform.db.session() as s:
            _stage(s, actor, entry)

    def empty(_: object) -> None:
        with platform.db.session() as s:
            s.execute(text("SELECT 1"))

    return {"stage_commit": call_latency(staged, [None], n=n, warmup=10, budget_s=20).as_dict(),
            "empty_commit": call_latency(empty, [None], n=n, warmup=10, budget_s=20).as_dict()}


# -- the engine's raw cost: plain INSERTs of the same columns, no hashing ------------------------
def _scratch_table() -> Table:
    cols = [Column(c.name, c.type, primary_key=c.primary_key) for c in AuditEntry.__table__.c]
    return Table(SCRATCH, MetaData(), *cols)


def _raw_row(entry: audit.Pending, seq: int, at: str, detail: str) -> dict[str, Any]:
    return {"seq": seq, "at": at, "actor_id": entry.actor_id, "actor_name": entry.actor_name,
            "action": entry.action, "org_id": entry.org_id, "dataset_id": entry.dataset_id,
            "resource_id": entry.resource_id, "agreement_id": entry.agreement_id,
            "purpose": entry.purpose, "detail": detail, "prev_hash": HASH_STANDIN,
            "hash": HASH_STANDIN}


def raw_insert(platform: Platform, entry: audit.Pending, *, batch: int, total: int,
               budget_s: float) -> dict[str, Any]:
    """SQLAlchemy core ``executemany`` of ``batch`` rows per transaction into a scratch table
    with the audit log's columns: no head row, no hashing."""
    table = _scratch_table()
    engine = platform.db.engine
    table.create(engine)
    detail = audit.detail_text(entry.detail)
    at = "2026-01-01T00:00:00.000000"
    seq = 0

    def step() -> int:
        nonlocal seq
        rows = [_raw_row(entry, seq + i + 1, at, detail) for i in range(batch)]
        seq += batch
        with engine.begin() as conn:
            if batch == 1:
                conn.execute(insert(table).values(rows[0]))
            else:
                conn.execute(insert(table), rows)
        return batch

    try:
        return {"batch": batch, **_bounded(step, total, budget_s)}
    finally:
        table.drop(engine)


# -- verify --------------------------------------------------------------------------------
def fill(platform: Platform, entry: audit.Pending, total: int, batch: int = 10_000,
         progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Append ``total`` entries, ``batch`` per transaction, as fast as the chain allows."""
    entries = [entry] * batch
    done = 0
    t0 = time.perf_counter()
    while done < total:
        n = min(batch, total - done)
        with platform.db.session() as s:
            audit.append(s, entries[:n])
        done += n
        if progress and done % (10 * batch) == 0:
            progress(done)
    return _rate(done, time.perf_counter() - t0, math.ceil(total / batch))


def verify(platform: Platform, expected: int) -> dict[str, Any]:
    """Time ``audit.verify`` on a fresh connection; check it found the chain whole and long."""
    with platform.db.engine.connect() as conn:
        t0 = time.perf_counter()
        result = audit.verify(conn)
        seconds = time.perf_counter() - t0
        count = int(conn.scalar(select(func.count()).select_from(AuditEntry)) or 0)
    out = {"seconds": round(seconds, 3), "ok": result.ok, "entries": result.entries,
           "head_seq": result.head_seq, "expected": expected, "count_star": count,
           "problem": result.problem, "summary": result.summary(),
           "entries_per_s": round(result.entries / seconds) if seconds else None}
    if not result.ok or result.entries != expected or count != expected:
        raise RuntimeError(f"audit verify did not confirm {expected:,} entries: {out}")
    return out


def stream(platform: Platform, batch: int = 20_000) -> dict[str, Any]:
    """The engine's part of verify: the same SELECT, streamed in the same batches, no hashing."""
    cols = [getattr(AuditEntry, f) for f in (*audit.FIELDS, "hash")]
    with platform.db.engine.connect() as conn:
        t0 = time.perf_counter()
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            select(*cols).order_by(AuditEntry.seq))
        rows = sum(1 for _ in result)
        seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 3), "rows": rows, "batch": batch}


def hash_cost(platform: Platform, n: int = 100_000) -> dict[str, Any]:
    """``entry_hash`` (canonical JSON + SHA-256) over stored rows, in-process: the Python part
    of verify. One call is a few microseconds, so the loop is timed as a whole."""
    cols = [getattr(AuditEntry, f) for f in (*audit.FIELDS, "hash")]
    with platform.db.engine.connect() as conn:
        rows = conn.execute(select(*cols).order_by(AuditEntry.seq.desc()).limit(1000)).all()
    values = [dict(zip((*audit.FIELDS, "hash"), r, strict=True)) for r in rows]
    t0 = time.perf_counter()
    for i in range(n):
        audit.entry_hash(values[i % len(values)])
    seconds = time.perf_counter() - t0
    return {"calls": n, "seconds": round(seconds, 4), "us_per_entry": round(seconds / n * 1e6, 2)}

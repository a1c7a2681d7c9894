"""The hash-chained audit log: appends stay linear under concurrency, and any edit, deletion,
insertion, reordering or rewrite is found and named — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from citydata.access import audit
from citydata.access.actors import Actor
from citydata.access.keys import create_key, load_key
from citydata.storage.models_access import AuditCheckpoint, AuditEntry

ANALYST = Actor(user_id="u-1", name="hackney-analyst")


def fill(platform, n: int, per_txn: int = 1) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, n, per_txn):
        with platform.db.session() as session:
            for i in range(start, min(n, start + per_txn)):
                audit.stage(session, ANALYST, "data.read", org_id="org-camden",
                            dataset_id=f"ds-{i % 3}", purpose="service-planning",
                            detail={"rows": i, "note": "naïve café ☕"})


def check(platform):  # type: ignore[no-untyped-def]
    with platform.db.engine.connect() as conn:
        return audit.verify(conn, load_key(platform.settings))


def test_entries_chain_and_verify(platform):
    fill(platform, 25, per_txn=4)
    result = check(platform)
    assert result.ok and result.entries == 25 and result.head_seq == 25
    with platform.db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 26))
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert "25 entries" in result.summary()


def test_a_rolled_back_transaction_leaves_no_entry(platform):
    with pytest.raises(RuntimeError), platform.db.session() as session:
        audit.stage(session, ANALYST, "data.read", dataset_id="x")
        raise RuntimeError("the read failed")
    with platform.db.session() as session:
        assert session.scalars(select(AuditEntry)).all() == []
        # ... and the next transaction does not inherit it.
        audit.stage(session, ANALYST, "data.download", dataset_id="y")
    with platform.db.session() as session:
        assert [e.action for e in session.scalars(select(AuditEntry))] == ["data.download"]


def test_concurrent_appends_keep_one_linear_chain(platform):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            fill(platform, 30)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = check(platform)
    assert result.ok and result.entries == 120


def _sql(platform, statement: str, **params) -> None:  # type: ignore[no-untyped-def]
    with platform.db.engine.begin() as conn:
        conn.execute(text(statement), params)


@pytest.mark.parametrize(("tamper", "broken", "words"), [
    ("UPDATE audit_log SET actor_name = 'someone-else' WHERE seq = 7", 7, "edited"),
    ("UPDATE audit_log SET detail = '{\"rows\": 1}' WHERE seq = 3", 3, "edited"),
    ("DELETE FROM audit_log WHERE seq = 5", 5, "missing"),
    ("DELETE FROM audit_log WHERE seq >= 9", 9, "at the end were deleted"),
    # Swap entries 4 and 6 (three steps: the sequence number is the primary key).
    ("UPDATE audit_log SET seq = -4 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 6; "
     "UPDATE audit_log SET seq = 6 WHERE seq = -4", 4, "edited or moved"),
])
def test_tampering_is_found_and_named(platform, tamper, broken, words):
    fill(platform, 10)
    assert check(platform).ok
    for statement in tamper.split(";"):
        _sql(platform, statement)
    result = check(platform)
    assert not result.ok
    assert result.broken_seq == broken
    assert words in result.problem


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(platform):
    fill(platform, 6)
    with platform.db.session() as session:
        row = session.get(AuditEntry, 3)
        row.actor_name = "nobody"
        values = {f: getattr(row, f) for f in audit.FIELDS}
        row.hash = audit.entry_hash(values)  # a careful forger
    result = check(platform)
    assert not result.ok and result.broken_seq == 4 and "does not follow entry 3" in result.problem


def test_signed_checkpoints_catch_a_rewritten_chain(platform):
    key = create_key(platform.settings)
    fill(platform, 5)
    with platform.db.session() as session:
        cp = audit.write_checkpoint(session, key)
        assert cp is not None and cp.seq == 5
        assert audit.write_checkpoint(session, key) is None  # nothing new since
    fill(platform, 3)
    result = check(platform)
    assert result.ok and result.checkpoints == 1
    # Someone with database access rewrites the whole chain consistently from entry 2 on...
    with platform.db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        prev = rows[0].hash
        for row in rows[1:]:
            row.actor_name = "covered-up"
            row.prev_hash = prev
            row.hash = prev = audit.entry_hash({f: getattr(row, f) for f in audit.FIELDS})
        session.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    result = check(platform)
    assert not result.ok and result.broken_seq == 5 and "signed checkpoint" in result.problem
    # ... and cannot forge the signature either.
    with platform.db.session() as session:
        session.get(AuditCheckpoint, 5).hash = rows[4].hash
    result = check(platform)
    assert not result.ok and "forged" in result.problem


def test_checkpoints_past_the_end_reveal_truncation(platform):
    key = create_key(platform.settings)
    fill(platform, 4)
    with platform.db.session() as session:
        audit.write_checkpoint(session, key)
    _sql(platform, "DELETE FROM audit_log WHERE seq >= 3")
    _sql(platform, "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log "
                   "WHERE seq = 2)")
    result = check(platform)
    assert not result.ok and "past the end" in result.problem


def test_without_the_key_checkpoints_are_reported_unchecked(platform):
    key = create_key(platform.settings)
    fill(platform, 2)
    with platform.db.session() as session:
        audit.write_checkpoint(session, key)
    with platform.db.engine.connect() as conn:
        result = audit.verify(conn, None)
    assert result.ok and result.checkpoints_unchecked == 1 and "not checked" in result.summary()


def test_node_key_file_is_private_and_not_replaced(platform):
    from citydata.access.keys import key_path
    from citydata.errors import Conflict

    key = create_key(platform.settings)
    path = key_path(platform.settings)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(Conflict):
        create_key(platform.settings)
    loaded = load_key(platform.settings)
    assert loaded is not None and loaded.key_id == key.key_id
    assert loaded.verify(b"m", key.sign(b"m")) and not loaded.verify(b"n", key.sign(b"m"))


def test_reads_share_the_group_commit_writer_and_wait_for_it(platform):
    """A read-only transaction's entry is written by the engine's writer before its own
    commit returns; a writing transaction appends inline."""
    from citydata.access.audit_writer import _writers

    with platform.db.session() as session:
        audit.stage(session, ANALYST, "data.read", dataset_id="d")
    assert platform.db.engine in _writers  # the read went through the writer...
    with platform.db.session() as session:
        assert [e.action for e in session.scalars(select(AuditEntry))] == ["data.read"]
    platform.db.dispose()  # ... which stops with the database
    assert platform.db.engine not in _writers


def test_a_failed_group_commit_fails_the_read(platform):
    """If the entry cannot be written, the read's transaction fails: no data without it."""
    _sql(platform, "DELETE FROM audit_head")
    with pytest.raises(Exception), platform.db.session() as session:  # noqa: B017
        audit.stage(session, ANALYST, "data.read", dataset_id="d")
    with platform.db.session() as session:
        assert session.scalars(select(AuditEntry)).all() == []

"""The event log on both backends: append, append_many, read, for_key, last_id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from citydata.errors import ValidationError
from citydata.events import log
from tests.events.conftest import add, all_ids


def test_append_read_and_last_id(platform):
    with platform.db.session() as s:
        assert log.last_id(s) == 0 and log.last_id(s, "planning") == 0
        assert log.read(s, "planning", 0) == []
    with platform.db.session() as s:
        first = log.append(s, "planning", "application.received", "camden/1",
                           {"ward": "Kilburn", "note": "café ✓"})
        other = log.append(s, "streetworks", "works.started", "w1", {})
        second = log.append(s, "planning", "application.decided", "camden/1",
                            {"decision": "granted"})
    assert first < other < second
    with platform.db.session() as s:
        events = log.read(s, "planning", 0)
        assert [e.id for e in events] == [first, second]  # the other stream is not in it
        assert events[0].data == {"ward": "Kilburn", "note": "café ✓"}
        assert (events[0].stream, events[0].type, events[0].key) == (
            "planning", "application.received", "camden/1")
        assert [e.id for e in log.read(s, "planning", first)] == [second]
        assert [e.id for e in log.read(s, "planning", 0, limit=1)] == [first]
        assert log.last_id(s) == second and log.last_id(s, "streetworks") == other
        assert log.last_id(s, "nothing-here") == 0


def test_as_dict_is_json_with_utc_time(platform):
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with platform.db.session() as s:
        new_id = log.append(s, "planning", "application.received", "k", {"n": 1})
    with platform.db.session() as s:
        out = log.read(s, "planning", 0)[0].as_dict()
    assert set(out) == {"id", "stream", "type", "key", "created_at", "data"}
    assert out["id"] == new_id and out["data"] == {"n": 1}
    assert out["created_at"].endswith("Z")
    when = datetime.fromisoformat(out["created_at"].replace("Z", "+00:00"))
    assert when.tzinfo is not None and when.replace(tzinfo=None) >= before


def test_dates_decimals_and_uuids_are_stored_as_text(platform):
    when = datetime(2024, 5, 1, 10, 30)
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with platform.db.session() as s:
        log.append(s, "planning", "application.decided", "k", {
            "decided": when, "day": when.date(), "fee": Decimal("462.00"), "ref": ref})
    with platform.db.session() as s:
        assert log.read(s, "planning", 0)[0].data == {
            "decided": "2024-05-01T10:30:00", "day": "2024-05-01", "fee": "462.00",
            "ref": "12345678-1234-5678-1234-567812345678"}


def test_for_key_is_one_things_history_in_order(platform):
    with platform.db.session() as s:
        a1 = log.append(s, "planning", "application.received", "camden/1", {})
        log.append(s, "planning", "application.received", "camden/2", {})
        log.append(s, "streetworks", "works.started", "camden/1", {})  # same key, other stream
        a2 = log.append(s, "planning", "application.decided", "camden/1", {})
    with platform.db.session() as s:
        history = log.for_key(s, "planning", "camden/1")
        assert [(e.id, e.type) for e in history] == [
            (a1, "application.received"), (a2, "application.decided")]
        assert log.for_key(s, "planning", "camden/3") == []


def test_append_many_across_batches(platform):
    add(platform, 1)
    n = log.BATCH * 2 + 5
    with platform.db.session() as s:
        count = log.append_many(s, "planning", (("application.received", f"k/{i}", {"i": i})
                                                for i in range(n)))
    assert count == n
    with platform.db.session() as s:
        got = []
        after = 0
        while page := log.read(s, "planning", after):
            got += page
            after = page[-1].id
        assert [e.data["i"] for e in got] == list(range(n))  # in the order given
        ids = [e.id for e in got]
        assert ids == sorted(ids) and len(set(ids)) == n
        assert log.last_id(s) == ids[-1]
        assert log.append_many(s, "planning", []) == 0


def test_rolled_back_events_are_not_in_the_log(platform):
    kept = add(platform, 1)[0]
    with pytest.raises(RuntimeError), platform.db.session() as s:
        log.append(s, "testfeed", "thing.made", "gone", {})
        raise RuntimeError("the rest of the transaction failed")
    later = add(platform, 1)[0]
    assert all_ids(platform) == [kept, later]
    with platform.db.session() as s:
        assert log.last_id(s) == later


@pytest.mark.parametrize("stream, type_, key, data", [
    ("Planning", "x.y", "k", {}),            # stream names are lowercase
    ("p" * 41, "x.y", "k", {}),
    ("planning", "has space", "k", {}),      # would break the SSE event: line
    ("planning", "line\nbreak", "k", {}),
    ("planning", "t" * 61, "k", {}),
    ("planning", "x.y", "k" * 201, {}),
    ("planning", "x.y", "nul\x00", {}),
    ("planning", "x.y", "k", ["not", "an", "object"]),
    ("planning", "x.y", "k", {"n": float("nan")}),
    ("planning", "x.y", "k", {"s": {1, 2}}),
])
def test_append_refuses_what_readers_could_not_use(platform, stream, type_, key, data):
    with platform.db.session() as s:
        with pytest.raises(ValidationError):
            log.append(s, stream, type_, key, data)
        with pytest.raises(ValidationError):
            log.append_many(s, stream, [(type_, key, data)])
        assert log.last_id(s) == 0


def test_read_matching_moves_past_filtered_events(platform):
    north = add(platform, 3, ward="north")
    south = add(platform, 2500, ward="south")
    last_north = add(platform, 1, ward="north")
    with platform.db.session() as s:
        def wanted(e):
            return e.data["ward"] == "north"

        events, next_after = log.read_matching(s, "testfeed", 0, 2, wanted)
        assert [e.id for e in events] == north[:2] and next_after == north[1]
        events, next_after = log.read_matching(s, "testfeed", next_after, 10, wanted)
        # Past 2,500 others, in more than one read of the log.
        assert [e.id for e in events] == [north[2], *last_north]
        assert next_after == last_north[0]
        events, next_after = log.read_matching(s, "testfeed", north[2], 5, None)
        assert [e.id for e in events] == south[:5] and next_after == south[4]
        assert log.read_matching(s, "testfeed", last_north[0], 5, None) == ([], last_north[0])


def test_sqlite_ids_are_never_reused(platform):
    """Clients resume from ids: deleting the newest event must not hand its id out again."""
    if platform.db.dialect != "sqlite":
        pytest.skip("PostgreSQL sequences never go back")
    first, second = add(platform, 2)
    with platform.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE id = :i"), {"i": second})
    assert add(platform, 1)[0] > second > first

"""The hub on both backends: replay then live with no gap and no duplicate while other threads
append, ids visible in commit order, filters, slow subscribers dropped, every wake-up path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from citydata.events import log, wakeup
from citydata.events.hub import Hub, Subscription
from citydata.platform import Platform
from tests.events.conftest import add, all_ids
from tests.events.stream_plugin import NAME, STREAM

#: How long a test waits for something that should happen before it fails (not a timing
#: assertion: every wait ends as soon as the thing happens).
PATIENCE = 20.0

#: Appends one event from a separate process (its own interpreter, engine and sessions).
APPEND_ELSEWHERE = (
    "import sys\n"
    "from citydata.events import log\n"
    "from citydata.storage.database import Database\n"
    "db = Database(sys.argv[1])\n"
    "with db.session() as s:\n"
    "    print(log.append(s, 'testfeed', 'thing.made', 'elsewhere', {'ward': 'north'}))\n"
    "db.dispose()\n"
)


def run(platform: Platform, main: Callable[[Hub], Awaitable[Any]]) -> Any:
    """Run ``main(hub)`` in a fresh event loop; the hub is closed at the end."""

    async def wrapper() -> Any:
        try:
            return await asyncio.wait_for(main(Hub.of(platform)), 3 * PATIENCE)
        finally:
            await Hub.close_all(platform)

    return asyncio.run(wrapper())


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.01)


async def take(sub: Subscription, n: int) -> list[int]:
    out: list[int] = []

    async def go() -> None:
        async for ev in sub:
            out.append(ev.id)
            if len(out) == n:
                return

    await asyncio.wait_for(go(), PATIENCE)
    return out


async def collect(sub: Subscription, into: list[int]) -> None:
    async for ev in sub:
        into.append(ev.id)


def join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(PATIENCE)
        assert not t.is_alive()


def append_elsewhere(url: str) -> int:
    out = subprocess.run([sys.executable, "-c", APPEND_ELSEWHERE, url], check=True,
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout.strip())


def test_replay_then_live_has_no_gap_and_no_duplicate(events_platform):
    p = events_platform
    before = add(p, 30)
    halfway = threading.Barrier(4)

    def writer(k: int) -> None:
        for j in range(40):
            if j == 20:
                halfway.wait(PATIENCE)  # the subscribers start here, writers still going
            with p.db.session() as s:  # 1 to 3 events per transaction
                for i in range(1 + j % 3):
                    log.append(s, NAME, "thing.made", f"w{k}-{j}-{i}", {"ward": "north"})
            if j % 10 == 3:  # a rolled-back append leaves a gap in the ids for good
                try:
                    with p.db.session() as s:
                        log.append(s, NAME, "thing.made", "rolled-back", {})
                        raise RuntimeError("abandoned")
                except RuntimeError:
                    pass

    async def main(hub: Hub) -> None:
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        await asyncio.to_thread(halfway.wait, PATIENCE)
        resuming = hub.subscribe(NAME, after_id=before[9])
        live = hub.subscribe(NAME, after_id=None)
        mark = live.position
        got_resuming: list[int] = []
        got_live: list[int] = []
        tasks = [asyncio.create_task(collect(resuming, got_resuming)),
                 asyncio.create_task(collect(live, got_live))]
        await asyncio.to_thread(join, threads)
        last = await asyncio.to_thread(add, p, 1, type="thing.changed")
        await until(lambda: last[0] in got_resuming and last[0] in got_live, "the last event")
        expected = all_ids(p, after=before[9])
        assert len(expected) == 20 + 3 * sum(1 + j % 3 for j in range(40)) + 1
        assert got_resuming == expected
        assert got_live == [i for i in expected if i > mark]
        for task in tasks:
            task.cancel()

    run(p, main)


def test_ids_become_visible_in_commit_order(events_platform):
    """A writer that took an id and has not committed holds back the next writer, so a reader
    never sees the later id first and steps over the earlier one for good."""
    p = events_platform
    a_appended = threading.Event()
    ids: dict[str, int] = {}
    hubs: list[Hub] = []

    def a() -> None:
        with p.db.session() as s:
            ids["a"] = log.append(s, NAME, "thing.made", "a", {})
            a_appended.set()
            # Were B not held back, it would commit now and the hub would read its event.
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline and hubs[0].last_seen < ids.get("b", 1 << 62):
                time.sleep(0.01)

    def b() -> None:
        a_appended.wait(PATIENCE)
        with p.db.session() as s:
            ids["b"] = log.append(s, NAME, "thing.made", "b", {})

    async def main(hub: Hub) -> None:
        hubs.append(hub)
        sub = hub.subscribe(NAME, after_id=None)
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        got = await take(sub, 2)
        await asyncio.to_thread(join, threads)
        assert ids["a"] < ids["b"]
        assert got == [ids["a"], ids["b"]]

    run(p, main)


def test_filters_apply_to_replay_and_live(events_platform):
    p = events_platform
    add(p, 2, ward="north")
    south_before = add(p, 2, ward="south")
    changed_before = add(p, 1, ward="south", type="thing.changed")

    async def main(hub: Hub) -> None:
        south = hub.subscribe(NAME, after_id=0, match=STREAM.parse_filters({"ward": "south"}))
        changed = hub.subscribe(NAME, after_id=0, match=STREAM.parse_filters(
            {"type": "thing.changed", "ward": "south,east"}))
        await asyncio.to_thread(add, p, 3, ward="north")
        south_after = await asyncio.to_thread(add, p, 1, ward="south")
        changed_after = await asyncio.to_thread(add, p, 1, ward="east", type="thing.changed")
        assert await take(south, 4) == south_before + changed_before + south_after
        assert await take(changed, 2) == changed_before + changed_after

    run(p, main)


def test_a_broken_filter_ends_only_its_subscriber(events_platform):
    p = events_platform

    def broken(ev: Any) -> bool:
        raise KeyError("nope")

    async def main(hub: Hub) -> None:
        bad = hub.subscribe(NAME, after_id=None, match=broken)
        good = hub.subscribe(NAME, after_id=None)
        ids = await asyncio.to_thread(add, p, 2)
        assert await take(good, 2) == ids
        with pytest.raises(KeyError):
            await asyncio.wait_for(bad.__anext__(), PATIENCE)
        more = await asyncio.to_thread(add, p, 1)
        assert await take(good, 1) == more  # the hub goes on

    run(p, main)


def test_a_slow_subscriber_is_dropped_and_loses_nothing_by_resuming(events_platform):
    p = events_platform

    async def main(hub: Hub) -> None:
        slow = hub.subscribe(NAME, after_id=None, max_pending=5)
        fast = hub.subscribe(NAME, after_id=None)
        got_fast: list[int] = []
        task = asyncio.create_task(collect(fast, got_fast))
        ids = await asyncio.to_thread(add, p, 12)
        await until(lambda: len(got_fast) == 12, "the fast subscriber's events")
        assert slow.dropped and not fast.dropped
        assert hub.subscriber_count == 1
        got_slow = [ev.id async for ev in slow]  # what was queued, then the end
        assert got_slow == ids[:5]
        resumed = hub.subscribe(NAME, after_id=got_slow[-1])
        assert await take(resumed, 7) == ids[5:]
        assert got_fast == ids
        task.cancel()

    run(p, main)


def test_closing_a_subscription_unsubscribes(events_platform):
    p = events_platform

    async def main(hub: Hub) -> None:
        async with hub.subscribe(NAME, after_id=None) as sub:
            assert hub.subscriber_count == 1
            ids = await asyncio.to_thread(add, p, 1)
            assert await take(sub, 1) == ids
        assert hub.subscriber_count == 0
        assert [ev async for ev in sub] == []

    run(p, main)


def test_wait_for_new_wakes_on_a_commit_in_this_process(events_platform):
    p = events_platform
    p.settings.events_poll_seconds = 3600  # only the in-process wake-up can do it

    async def main(hub: Hub) -> None:
        seen = hub.last_seen
        waiting = asyncio.create_task(hub.wait_for_new(3600))
        await asyncio.sleep(0)
        new = await asyncio.to_thread(add, p, 1)
        await asyncio.wait_for(waiting, PATIENCE)
        assert hub.last_seen == new[0] > seen
        # Already seen something newer: no wait at all.
        await asyncio.wait_for(hub.wait_for_new(3600, after_id=seen), PATIENCE)

    run(p, main)


def test_close_all_ends_subscriptions_and_leaves_no_task(events_platform):
    p = events_platform

    async def main() -> None:
        hub = Hub.of(p)
        assert Hub.of(p) is hub and hub in Hub.existing(p)
        sub = hub.subscribe(NAME, after_id=None)
        waiting = asyncio.create_task(sub.__anext__())
        await asyncio.sleep(0)
        await Hub.close_all(p)
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, PATIENCE)
        assert all(t.done() for t in hub._tasks)
        assert asyncio.all_tasks() == {asyncio.current_task()}
        assert Hub.existing(p) == [] and Hub.of(p) is not hub
        await Hub.close_all(p)

    asyncio.run(main())


def test_another_process_is_seen_by_polling(events_platform):
    """SQLite has no notifications: a write by another process (a CLI command) is found by
    the poll."""
    p = events_platform
    if p.db.dialect != "sqlite":
        pytest.skip("PostgreSQL processes are woken by NOTIFY (next test)")
    p.settings.events_poll_seconds = 0.1

    async def main(hub: Hub) -> None:
        sub = hub.subscribe(NAME, after_id=None)
        new = await asyncio.to_thread(append_elsewhere, p.settings.database_url)
        assert await take(sub, 1) == [new]

    run(p, main)


def test_postgresql_notify_reaches_the_hub_from_another_process(events_platform):
    """With polling off and the writer in another process, only NOTIFY can wake the hub; after
    its listening connection is killed it reconnects and is woken again."""
    p = events_platform
    if p.db.dialect != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    p.settings.events_poll_seconds = 3600
    url = p.settings.database_url
    engine = create_engine(url)
    with engine.connect() as conn:
        channel = conn.execute(text(wakeup.CHANNEL_SQL)).scalar_one()
    listener = f"citydata-events {channel[16:36]}"

    def listening_pid() -> int | None:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE application_name = :n "
                "AND state = 'idle' AND query LIKE 'LISTEN %'"), {"n": listener}).scalar()

    def kill_listener() -> int:
        with engine.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :n"), {"n": listener}).all())

    async def listening(not_pid: int | None = None) -> int:
        deadline = time.monotonic() + PATIENCE
        while (pid := await asyncio.to_thread(listening_pid)) in (None, not_pid):
            assert time.monotonic() < deadline, "the hub never listened"
            await asyncio.sleep(0.05)
        assert pid is not None
        return pid

    async def main(hub: Hub) -> None:
        sub = hub.subscribe(NAME, after_id=None)
        pid = await listening()
        first = await asyncio.to_thread(append_elsewhere, url)
        assert await take(sub, 1) == [first]
        assert await asyncio.to_thread(kill_listener) == 1
        await listening(not_pid=pid)  # a new connection, listening again
        second = await asyncio.to_thread(append_elsewhere, url)
        assert await take(sub, 1) == [second]

    try:
        run(p, main)
    finally:
        engine.dispose()

"""The hub: one reader of the event log per platform per event loop, fanning events out to
the subscribers of this process (SSE connections, webhook workers).

**One query per wake-up, whatever the number of subscribers.** A single task reads
``id > last_seen`` from the database each time it is woken (see :mod:`citydata.events.wakeup`:
a commit in this process, a PostgreSQL ``NOTIFY`` from any process, or the poll every
``events_poll_seconds``) and puts each event on the queue of every subscriber of its stream
whose filter accepts it. With no subscriber it reads only the newest id.

**No gap, no duplicate.** Ids become visible in order (:mod:`citydata.events.log`), so "every
id up to ``last_seen``" is a complete set the moment the hub has read it. A subscriber that
resumes after an id registers its queue first, in one step of the event loop, noting
``last_seen`` at that moment: every later event reaches its queue. It then replays from the
database what lies between its id and that mark, and then drains the queue, skipping ids it
has already passed. A subscriber with no id starts at the mark.

**Bounded memory.** A subscriber whose queue is full (it reads slower than events arrive) is
dropped: its iteration ends after what was queued, and :attr:`Subscription.dropped` says why.
An SSE client then reconnects with ``Last-Event-ID`` and replays from the database — nothing
is lost, only the memory is not spent.

A hub belongs to its event loop: call :meth:`Hub.of`, :meth:`Hub.subscribe` and the
subscriptions' methods from that loop (commits in other threads wake it safely).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from typing import Any, ClassVar

from citydata.events import log as event_log
from citydata.events import wakeup
from citydata.events.log import Event
from citydata.events.streams import Predicate

log = logging.getLogger("citydata.events")

_END = object()  # the final marker on a subscriber's queue


class Hub:
    """Readers' side of the event log in one process (see the module's documentation)."""

    #: Events a subscriber may have waiting before it is dropped.
    queue_size: ClassVar[int] = 1000
    #: Rows per read of the log.
    batch: ClassVar[int] = event_log.BATCH

    _hubs: ClassVar[dict[tuple[int, int], Hub]] = {}
    _hubs_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def of(cls, platform: Any) -> Hub:
        """The hub of ``platform`` in the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        key = (id(platform), id(loop))
        with cls._hubs_lock:
            for old_key, old in list(cls._hubs.items()):  # loops that ended without closing
                if old.loop.is_closed():
                    old._closed = True
                    old._unregister()
                    del cls._hubs[old_key]
            hub = cls._hubs.get(key)
            if hub is None or hub._closed or hub.loop is not loop:
                hub = cls._hubs[key] = cls(platform, loop)
        return hub

    @classmethod
    def existing(cls, platform: Any) -> list[Hub]:
        """The open hubs of ``platform``, in any event loop (for diagnostics and tests)."""
        with cls._hubs_lock:
            return [h for h in cls._hubs.values() if h.platform is platform and not h._closed]

    @classmethod
    async def close_all(cls, platform: Any = None) -> None:
        """Close the hubs of the running event loop (of one platform, or all): their tasks
        stop and their subscribers' iterations end."""
        loop = asyncio.get_running_loop()
        with cls._hubs_lock:
            hubs = [h for h in cls._hubs.values()
                    if h.loop is loop and (platform is None or h.platform is platform)]
        for hub in hubs:
            await hub.close()

    def __init__(self, platform: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.platform = platform
        self.loop = loop
        self._db = platform.db
        self._poll = float(platform.settings.events_poll_seconds)
        # Once per hub, on the loop's thread: a subscriber made right after needs the mark.
        with self._db.session() as session:
            self._seen = event_log.last_id(session)
        self._subs: dict[str, set[Subscription]] = {}
        self._registrations = 0
        self._wake = asyncio.Event()
        self._new = asyncio.Event()
        self._closed = False
        self._unregister = wakeup.register(wakeup.database_key(self._db.engine),
                                           self._wake_threadsafe)
        self._tasks = [loop.create_task(self._read_loop(), name="citydata-events-reader")]
        if self._db.dialect == "postgresql":
            self._tasks.append(loop.create_task(self._listen_loop(),
                                                name="citydata-events-listener"))

    # ------------------------------------------------------------ public

    @property
    def last_seen(self) -> int:
        """The newest event id this hub has read (and delivered)."""
        return self._seen

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())

    def subscribe(self, stream: str, *, after_id: int | None, match: Predicate | None = None,
                  max_pending: int | None = None) -> Subscription:
        """Events of ``stream`` that ``match`` accepts, oldest first, as an async iterator.

        ``after_id=None``: only events from now on; an id: every event after it (replayed
        from the database), then live ones, with no gap and no duplicate. Registration
        happens here, synchronously, so nothing committed after this call is missed. Close
        it (``close()``, ``aclose()`` or ``async with``) when done."""
        if self._closed:
            raise RuntimeError("this event hub is closed")
        sub = Subscription(self, stream, match, after_id, max_pending or self.queue_size)
        self._subs.setdefault(stream, set()).add(sub)
        self._registrations += 1
        return sub

    async def wait_for_new(self, timeout: float, *, after_id: int | None = None) -> None:
        """Return when the hub reads any new event, or after ``timeout`` seconds. With
        ``after_id``, return at once if the hub has already seen a newer event (so a worker
        that read up to ``after_id`` cannot miss a wake-up between its read and this call)."""
        if self._closed or (after_id is not None and self._seen > after_id):
            return
        new = self._new
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(new.wait(), timeout)

    def wake(self) -> None:
        """Read the log now (call from the hub's event loop)."""
        self._wake.set()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unregister()
        with self._hubs_lock:
            for key, hub in list(self._hubs.items()):
                if hub is self:
                    del self._hubs[key]
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subs in self._subs.values():
            for sub in subs:
                sub._end()
        self._subs.clear()
        self._announce()

    # ------------------------------------------------------------ reading

    def _wake_threadsafe(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:  # the loop has closed without closing this hub
            self._closed = True
            self._unregister()

    async def _read_loop(self) -> None:
        failures = 0
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            try:
                await self._catch_up()
                failures = 0
            except Exception:  # the database restarting must not end the hub
                failures += 1
                log.warning("reading the event log failed (%d in a row)", failures,
                            exc_info=failures == 1)
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))

    async def _catch_up(self) -> None:
        while True:
            if not self._subs:
                registrations = self._registrations
                newest = await asyncio.to_thread(self._newest)
                # Jump only if nobody subscribed meanwhile: they noted the old mark and
                # expect every event after it on their queue.
                if self._registrations == registrations:
                    if newest > self._seen:
                        self._seen = newest
                        self._announce()
                    return
            events = await asyncio.to_thread(self._read, self._seen)
            for ev in events:
                self._dispatch(ev)
                self._seen = ev.id
            if events:
                self._announce()
            if len(events) < self.batch:
                return

    def _newest(self) -> int:
        with self._db.session() as session:
            return event_log.last_id(session)

    def _read(self, after_id: int, up_to: int | None = None,
              stream: str | None = None) -> list[Event]:
        with self._db.session() as session:
            return event_log.read_after(session, after_id, self.batch, up_to=up_to,
                                        stream=stream)

    def _dispatch(self, ev: Event) -> None:
        for sub in list(self._subs.get(ev.stream, ())):
            sub._offer(ev)

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.stream)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.stream]

    def _announce(self) -> None:
        self._new.set()
        self._new = asyncio.Event()

    async def _listen_loop(self) -> None:
        delay = 0.5

        def listening() -> None:
            nonlocal delay
            delay = 0.5
            self._wake.set()  # notifications sent while we were not listening are lost

        while True:
            try:
                await wakeup.listen(self._db.engine, listening, self._wake.set)
            except Exception as exc:  # reconnect: the poll covers the meantime
                if not self._closed:  # (psycopg may turn our cancellation into an error)
                    log.warning("event notifications: connection lost (%s); retrying in "
                                "%.1fs", str(exc).splitlines()[0] if str(exc)
                                else type(exc).__name__, delay)
            if self._closed:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


class Subscription:
    """An async iterator of one subscriber's events (made by :meth:`Hub.subscribe`)."""

    def __init__(self, hub: Hub, stream: str, match: Predicate | None, after_id: int | None,
                 max_pending: int) -> None:
        self.stream = stream
        #: True when the hub dropped this subscriber for falling behind.
        self.dropped = False
        self._hub = hub
        self._match = match
        self._limit = max(1, max_pending)
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue(self._limit + 1)
        mark = hub._seen
        # Everything up to ``_position`` has been yielded or passed over.
        self._position = mark if after_id is None else max(0, after_id)
        self._replay_to: int | None = mark if self._position < mark else None
        self._buffer: deque[Event] = deque()
        self._error: BaseException | None = None
        self._ended = False
        self._closed = False

    @property
    def position(self) -> int:
        """The last event id yielded or passed over."""
        return self._position

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._buffer:
                return self._buffer.popleft()
            if self._replay_to is not None:
                await self._replay_page()
                continue
            item = await self._queue.get()
            ev = self._take(item)
            if ev is not None:
                return ev

    def ready(self) -> list[Event]:
        """Events available without waiting (for writers that batch their output)."""
        if self._closed:
            return []
        out: list[Event] = list(self._buffer)
        self._buffer.clear()
        if self._replay_to is not None:
            return out
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:  # keep the marker for the next __anext__
                self._queue.put_nowait(item)
                break
            ev = self._take(item)
            if ev is not None:
                out.append(ev)
        return out

    def close(self) -> None:
        """Stop receiving events (safe to call more than once, from the hub's loop)."""
        if not self._closed:
            self._closed = True
            self._hub._remove(self)
            self._end()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _take(self, item: Event | object) -> Event | None:
        if not isinstance(item, Event):  # the final marker
            self.close()
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        if item.id <= self._position:
            return None
        self._position = item.id
        return item

    async def _replay_page(self) -> None:
        assert self._replay_to is not None
        page = await asyncio.to_thread(self._hub._read, self._position, self._replay_to,
                                       self.stream)
        if len(page) < self._hub.batch:
            self._replay_to = None
        if page:
            self._position = page[-1].id
        self._buffer.extend(ev for ev in page if self._match is None or self._match(ev))

    def _offer(self, ev: Event) -> None:
        if self._match is not None:
            try:
                if not self._match(ev):
                    return
            except Exception as exc:  # a broken filter ends this subscriber, not the hub
                self._error = exc
                self._hub._remove(self)
                self._end()
                return
        if self._queue.qsize() >= self._limit:
            self.dropped = True
            log.info("event subscriber of %s dropped: %d events waiting", self.stream,
                     self._limit)
            self._hub._remove(self)
            self._end()
            return
        self._queue.put_nowait(ev)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(_END)  # there is always room for it: see _offer

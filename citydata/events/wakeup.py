"""How readers of the event log learn that there is something new to read.

Three ways, each enough on its own, all only a nudge to read the database again (never a copy
of the events, so a nudge lost or doubled is harmless):

- in this process: :func:`wake`, called after a session that appended commits, for every hub
  registered for that database (:func:`register`), from whatever thread committed;
- PostgreSQL, any process: ``NOTIFY`` on a channel named after the database and the schema of
  its ``events`` table (tests run several schemas in one database: they must not wake each
  other), queued in the appending transaction and delivered by the server at commit; a hub
  keeps one connection that ``LISTEN``\\ s (:func:`listen`);
- polling, for what neither covers (another process writing the same SQLite file).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("citydata.events")

# The events table of the connection's search path, its schema and the channel's name. Both
# sides compute the channel in SQL, so a writer and a listener agree on it by construction.
_EVENTS_TABLE = (
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = 'events'::regclass"
)
_CHANNEL = "'citydata_events_' || md5(current_database() || '.' || n.nspname)"
#: Advisory lock keys are database-wide; the high half names this use ("cdEv"), the low half
#: the table's oid, unique within the database, so each schema's log has its own lock.
LOCK_NAMESPACE = 0x63644576
LOCK_AND_NOTIFY_SQL = (
    f"SELECT pg_advisory_xact_lock(({LOCK_NAMESPACE}::bigint << 32) | c.oid::bigint), "
    f"pg_notify({_CHANNEL}, '') {_EVENTS_TABLE}"
)
CHANNEL_SQL = f"SELECT {_CHANNEL} {_EVENTS_TABLE}"

_lock = threading.Lock()
_wakers: dict[str, dict[int, Callable[[], None]]] = {}
_next = 0


def database_key(engine: Engine) -> str:
    """What identifies a database among this process's engines."""
    return engine.url.render_as_string(hide_password=False)


def register(key: str, waker: Callable[[], None]) -> Callable[[], None]:
    """Call ``waker`` (from any thread) whenever events of database ``key`` are committed in
    this process; returns the function that unregisters it."""
    global _next
    with _lock:
        _next += 1
        token = _next
        _wakers.setdefault(key, {})[token] = waker

    def unregister() -> None:
        with _lock:
            found = _wakers.get(key, {})
            found.pop(token, None)
            if not found:
                _wakers.pop(key, None)

    return unregister


def wake(key: str) -> None:
    """Nudge every reader of database ``key`` in this process."""
    with _lock:
        targets = list(_wakers.get(key, {}).values())
    for waker in targets:
        try:
            waker()
        except Exception:  # a reader gone wrong must not fail the writer's commit
            log.exception("waking an event reader failed")


def connect_kwargs(engine: Engine) -> dict[str, Any]:
    """libpq parameters of the engine's URL (search path included), for a raw psycopg
    connection; TCP keepalives so a silently dropped listener is noticed."""
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs = {k: v for k, v in kwargs.items() if k != "context"}
    kwargs.setdefault("keepalives", 1)
    kwargs.setdefault("keepalives_idle", 30)
    kwargs.setdefault("keepalives_interval", 10)
    kwargs.setdefault("keepalives_count", 3)
    return kwargs


async def listen(engine: Engine, on_listening: Callable[[], None],
                 on_notify: Callable[[], None]) -> None:
    """``LISTEN`` on the engine's event channel and call ``on_notify`` for each notification,
    until the connection fails (the exception propagates: the caller reconnects).
    ``on_listening`` is called once the channel is listened to."""
    import psycopg

    conn = await psycopg.AsyncConnection.connect(autocommit=True, **connect_kwargs(engine))
    async with conn:
        cur = await conn.execute(CHANNEL_SQL)
        row = await cur.fetchone()
        if row is None:
            raise RuntimeError("the events table is missing: run `citydata db upgrade`")
        channel = str(row[0])
        # Named so an operator (or a test) can find this connection in pg_stat_activity.
        await conn.execute(f"SET application_name = 'citydata-events {channel[16:36]}'")
        await conn.execute(f'LISTEN "{channel}"')
        on_listening()
        async for _ in conn.notifies():
            on_notify()

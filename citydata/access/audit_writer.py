"""Group commit for the audit log: the entries of concurrent reads share one transaction.

Appending takes the chain's head lock and then waits for its commit to reach the disk; one
entry per transaction caps a server at the database's commit rate (about a thousand a second
on PostgreSQL here). A read of governed data is otherwise read-only, so instead of turning its
own transaction into a write, it hands its entries to this process's writer and **waits** until
the writer's transaction holding them has committed — only then does the read's transaction
end and its data leave. While one batch commits, the next gathers: under load many entries
share each commit; alone, a read waits for exactly one, as before.

Transactions that write anything themselves (governance actions, a token's last-use time)
append inline instead, so their entries commit atomically with what they record, and a
SQLite writer never waits for a second writer it is blocking.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from concurrent.futures import Future
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from citydata.access.audit import Pending

log = logging.getLogger("citydata.audit")
BATCH_MAX = 1000
WAIT_S = 30.0

_writers: weakref.WeakKeyDictionary[Engine, AuditWriter] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class AuditWriter:
    def __init__(self, engine: Engine) -> None:
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.queue: queue.Queue[tuple[list[Pending], Future[int]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="citydata-audit-writer",
                                       daemon=True)
        self.thread.start()

    def write(self, entries: list[Pending]) -> int:
        """Append ``entries`` in the next batch; returns once it has committed (or raises)."""
        done: Future[int] = Future()
        self.queue.put((entries, done))
        return done.result(timeout=WAIT_S)

    def _run(self) -> None:
        from citydata.access.audit import append

        while True:
            item = self.queue.get()
            if item is None:
                return
            batch = [item]
            count = len(item[0])
            while count < BATCH_MAX:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(more)
                count += len(more[0])
            try:
                session = self.sessions()
                try:
                    last = append(session, [e for entries, _ in batch for e in entries])
                    session.commit()
                finally:
                    session.close()
            except Exception as exc:  # every waiter learns; the writer goes on
                log.exception("audit batch of %d entries failed", count)
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(last)

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)


def writer_for(engine: Engine) -> AuditWriter:
    with _lock:
        writer = _writers.get(engine)
        if writer is None or not writer.thread.is_alive():
            writer = _writers[engine] = AuditWriter(engine)
        return writer


def stop_writer(engine: Engine) -> None:
    """Stop the engine's writer (when the database is disposed)."""
    with _lock:
        writer = _writers.pop(engine, None)
    if writer is not None:
        writer.stop()


def write_grouped(session: Session, entries: list[Pending]) -> None:
    """Hand a read-only transaction's entries to its engine's writer and wait for them."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    writer_for(engine).write(entries)

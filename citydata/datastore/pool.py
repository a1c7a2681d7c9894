"""Locked-down DuckDB databases kept open between queries, lent out as cursors.

Opening an in-memory DuckDB costs about 15 ms of CPU (it builds its whole catalog), a cursor on
an open one about 0.01 ms, so a row query that opened its own database spent most of its time
doing that. This pool keeps one database per *set of readable files* (in practice one snapshot),
made by :func:`~citydata.datastore.engine.connect` with exactly those files allowed and the
configuration locked, so the walls are those of a fresh connection: SQL run on a lent cursor can
read only the files its database was opened for. Snapshots are immutable and named by their
hash, so a database never goes stale.

Each borrower gets its own cursor (DuckDB: a separate connection to the same database, safe to
use from another thread), and must create its views as ``TEMP`` views: those belong to the
cursor, so two requests on the same snapshot never see each other's views, whatever columns the
policy let each of them see. The database's memory limit is shared by its cursors.

The least recently used database is dropped once more than ``size`` are open (about 4 MiB each
when idle). Dropping only forgets it: cursors still lent keep it alive until they close, and it
is freed then. ``size`` 0 turns the pool off (a database per query, closed after it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from citydata.datastore.engine import connect

DEFAULT_SIZE = 64

Key = tuple[tuple[str, ...], str]


class ReaderPool:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._open: OrderedDict[Key, duckdb.DuckDBPyConnection] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = max(0, size)
            self._trim()

    def clear(self) -> None:
        with self._lock:
            self._open.clear()

    def __len__(self) -> int:
        return len(self._open)

    @contextmanager
    def cursor(
        self, readable: Iterable[Path], *, memory_limit: str = "512MB"
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on a database that can read exactly ``readable``; closed on exit."""
        paths = tuple(sorted({str(Path(p)) for p in readable}))
        if self.size <= 0:
            con = connect(readable=[Path(p) for p in paths], memory_limit=memory_limit)
            try:
                yield con
            finally:
                con.close()
            return
        cur = self._database(paths, memory_limit).cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _database(self, paths: tuple[str, ...], memory_limit: str) -> duckdb.DuckDBPyConnection:
        key = (paths, memory_limit)
        with self._lock:
            db = self._open.get(key)
            if db is not None:
                self._open.move_to_end(key)
                self.hits += 1
                return db
            self.misses += 1
        # Opened outside the lock (it is the slow part); if another thread opened the same one
        # meanwhile, theirs is kept and this one is simply dropped.
        made = connect(readable=[Path(p) for p in paths], memory_limit=memory_limit)
        with self._lock:
            db = self._open.setdefault(key, made)
            self._open.move_to_end(key)
            self._trim()
        return db

    def _trim(self) -> None:
        while len(self._open) > self.size:
            self._open.popitem(last=False)  # forgotten, not closed: lent cursors still use it


#: The process's pool; :class:`~citydata.platform.Platform` sizes it from the settings.
readers = ReaderPool()

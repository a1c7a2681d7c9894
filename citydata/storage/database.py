"""Database engine and sessions for both backends (SQLite embedded, PostgreSQL at city scale)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from citydata.storage import public_changes


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs so users can paste a plain libpq URL."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: Connections each process keeps open to PostgreSQL (and may open beyond that at a peak).
#: Sized for the request threads (anyio's 40 a process) so a busy worker reuses connections
#: instead of opening and closing one per request; processes x (size + overflow) must stay
#: under the server's max_connections (docs/operations.md).
POOL_SIZE = 20
MAX_OVERFLOW = 10


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run while a writer commits; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", MAX_OVERFLOW)
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Database:
    """An engine plus a session factory. One per process."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **kwargs)
        public_changes.track(self.engine)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        from citydata.access.audit_writer import stop_writer

        stop_writer(self.engine)
        self.engine.dispose()

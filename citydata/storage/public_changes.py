"""The public generation: one number that every committed write which can change what an
anonymous reader sees moves on, in the same transaction as the write.

Server processes keep anonymous responses (:mod:`citydata.ops.response_cache`) tagged with the
generation they were made under, and serve one again only while the number is unchanged, so a
change made by any process — another worker, the CLI, a harvest or an ingest job — is seen by
every process's next request.

Tracked at the engine, not the ORM session, so nothing can write around it: every INSERT,
UPDATE or DELETE that reaches the database (ORM flushes, Core statements, text SQL, DDL) marks
its connection, and the connection's COMMIT first bumps the counter on the same DBAPI
connection, inside the transaction being committed. A rollback forgets the mark. Writes that
no anonymous response can show are left out (:data:`PRIVATE_TABLES`: the audit chain, tokens,
login throttles, nonces, outgoing mail and webhook deliveries) — a governed read writes an
audit entry, and must not empty every process's cache.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import Connection

TABLE = "public_generation"
#: Writes here never change an anonymous response (all are shown only to signed-in users, or
#: to nobody); writes anywhere else do, or might.
PRIVATE_TABLES = frozenset({
    TABLE, "audit_log", "audit_head", "audit_checkpoints", "api_tokens", "login_attempts",
    "federation_nonces", "mail_outbox", "notifications", "webhook_deliveries",
})
_MARK = "citydata_public_change"
_BUMP = f"UPDATE {TABLE} SET generation = generation + 1 WHERE id = 1"
_EXISTS = {True: f"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{TABLE}'",
           False: f"SELECT to_regclass('{TABLE}') IS NOT NULL"}
_READ = text(f"SELECT generation FROM {TABLE} WHERE id = 1")
_DML = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM|"
    r"(CREATE|DROP|ALTER|TRUNCATE)\b)(?:\s+(?:TABLE\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
    r"\"?(\w+)\"?)?", re.IGNORECASE)


def written_table(statement: str, context: Any) -> tuple[bool, str, bool]:
    """For one executed statement: (is a write, the table it writes or "" when unknown,
    is DDL)."""
    compiled = getattr(context, "compiled", None)
    if compiled is not None and (context.isinsert or context.isupdate or context.isdelete):
        table = getattr(getattr(compiled, "statement", None), "table", None)
        return True, str(getattr(table, "name", "") or ""), False
    m = _DML.match(statement)
    if not m:
        return False, "", False
    return True, (m.group(2) or "").lower(), m.group(1) is not None


def track(engine: Engine) -> None:
    """Install the write tracking on ``engine`` (once per engine; :class:`Database` does)."""

    @event.listens_for(engine, "after_cursor_execute")
    def _seen(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:
        is_write, table, ddl = written_table(statement, context)
        if not is_write or table in PRIVATE_TABLES:
            return
        if not ddl and getattr(cursor, "rowcount", -1) == 0:
            return  # an UPDATE or DELETE that matched nothing changed nothing
        conn.info[_MARK] = True

    exists = {"known": False}  # once the table is there it stays (no migration drops it)

    @event.listens_for(engine, "commit")
    def _bump(conn: Connection) -> None:
        # Called just before the DBAPI commit: the bump is part of the committed transaction.
        if not conn.info.pop(_MARK, False):
            return
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # A schema older than 0011 (a migration on its way, a restore of an old backup)
            # has no counter: nothing to bump, and no error that would abort the commit.
            if not exists["known"]:
                cur.execute(_EXISTS[engine.dialect.name == "sqlite"])
                row = cur.fetchone()
                exists["known"] = bool(row and row[0])
            if exists["known"]:
                cur.execute(_BUMP)
        finally:
            cur.close()

    @event.listens_for(engine, "rollback")
    def _forget(conn: Connection) -> None:
        conn.info.pop(_MARK, None)


def current(engine: Engine) -> int | None:
    """The generation now, or None when there is no counter (a database not yet migrated)."""
    with engine.connect() as conn:
        value = conn.execute(_READ).scalar()
        conn.rollback()
    return None if value is None else int(value)


def move_past(conn: Connection, *seen: int | None) -> None:
    """Set the generation above every number in ``seen`` (a restore: the restored rows' number
    may be one a running process has already cached pages under)."""
    floor = max([v for v in seen if v is not None], default=0) + 1
    if conn.execute(text(f"UPDATE {TABLE} SET generation = :g WHERE id = 1"),
                    {"g": floor}).rowcount == 0:
        conn.execute(text(f"INSERT INTO {TABLE} (id, generation) VALUES (1, :g)"), {"g": floor})


def read(conn: Connection) -> int | None:
    """The generation on ``conn``, or None when the table or its row is not there."""
    from sqlalchemy import inspect

    if TABLE not in inspect(conn).get_table_names():
        return None
    value = conn.execute(_READ).scalar()
    return None if value is None else int(value)

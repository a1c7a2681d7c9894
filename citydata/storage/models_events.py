"""ORM table of the event log: one row per event, numbered by the database.

The rules (how ids stay in commit order, how processes are woken) live in
:mod:`citydata.events`; this is only the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citydata.storage.models import Base, utcnow


class EventRow(Base):
    """An event in a stream: what happened (``type``) to what (``key``), with its data."""

    __tablename__ = "events"
    # AUTOINCREMENT on SQLite: ids are never reused, even after the newest rows are deleted,
    # because clients resume from the last id they saw.
    __table_args__ = (
        Index("ix_events_stream_id", "stream", "id"),
        Index("ix_events_stream_key", "stream", "key"),
        {"sqlite_autoincrement": True},
    )
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only that spelling is the rowid.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    stream: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Compact JSON object.
    data: Mapped[str] = mapped_column(Text, default="{}")

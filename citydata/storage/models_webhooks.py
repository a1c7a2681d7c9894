"""ORM tables of webhooks: subscriptions to event streams, and the deliveries that failed.

The rules live in :mod:`citydata.events.webhooks`; these are only the rows. A delivery that
succeeds at its first attempt leaves no row: the subscription's cursor says it was handed
over. Only retries, dead letters (and retries that later succeeded) have a row each.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from citydata.storage.models import Base, new_id, utcnow


class WebhookSubscription(Base):
    """An endpoint that receives the events of one stream that match its filters."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    stream: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: The HMAC key deliveries are signed with. Kept here (the server must sign with it),
    #: shown to the subscriber once, never returned by the API afterwards.
    secret: Mapped[str] = mapped_column(String(100))
    #: JSON object: the stream's filters (str -> str), compiled by the stream.
    filters: Mapped[str] = mapped_column(Text, default="{}")
    description: Mapped[str] = mapped_column(String(500), default="")
    #: None: made by the system (command line without --as).
    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    #: active | paused
    status: Mapped[str] = mapped_column(String(20), default="active")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The last event id handed over: delivered, skipped by the filters, or queued for retry.
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Successful deliveries and failed attempts, all time.
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: The dispatcher pass sending the batch after the cursor, and until when it may.
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebhookDelivery(Base):
    """One event for one subscription that did not arrive at the first attempt: waiting for
    its next attempt (retrying), given up on (dead), or delivered at a later attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(100), default="")
    #: retrying | dead | delivered
    status: Mapped[str] = mapped_column(String(20), default="retrying")
    #: Attempts made so far (the first, failed one included).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

"""ORM tables of governed sharing: agreements, the audit log, notifications, sign-in throttling.

The domain rules live in :mod:`citydata.access`; these are only the rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from citydata.storage.models import Base, new_id, utcnow


class Agreement(Base):
    """A data sharing agreement (ISA/DSA): one provider, its recipients, datasets, conditions.

    ``status`` is what was last decided; whether it is in force *now* also depends on
    ``start_at`` / ``end_at`` (see :func:`citydata.access.agreements.effective_status`), so an
    agreement stops working the moment it ends even before a sweep records the expiry.
    """

    __tablename__ = "agreements"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: Human reference, e.g. DSA-2026-0007; unique and stable.
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    provider_org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    purpose: Mapped[str] = mapped_column(String(60), default="")
    purpose_detail: Mapped[str] = mapped_column(Text, default="")
    lawful_basis: Mapped[str] = mapped_column(String(40), default="")
    special_category_condition: Mapped[str] = mapped_column(String(40), default="")
    dpia_reference: Mapped[str] = mapped_column(String(200), default="")
    dpia_url: Mapped[str] = mapped_column(String(1000), default="")
    #: JSON list of permitted actions: read, query, download — or ["aggregate"] alone.
    actions: Mapped[str] = mapped_column(Text, default='["read"]')
    #: JSON list of column names the recipients may see; "" means every column.
    allowed_columns: Mapped[str] = mapped_column(Text, default="")
    #: Aggregate-only agreements: groups with fewer rows than this are suppressed.
    min_cell_count: Mapped[int] = mapped_column(Integer, default=0)
    no_onward_sharing: Mapped[bool] = mapped_column(Boolean, default=True)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Requested length; the end date is set from it on approval when none was given.
    duration_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    end_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    requested_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ended_reason: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Optimistic lock: two people deciding at once cannot both succeed (the second gets 409).
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": row_version}

    recipients: Mapped[list[AgreementRecipient]] = relationship(
        cascade="all, delete-orphan", order_by="AgreementRecipient.position"
    )
    datasets: Mapped[list[AgreementDataset]] = relationship(
        cascade="all, delete-orphan", order_by="AgreementDataset.position"
    )
    events: Mapped[list[AgreementEvent]] = relationship(
        cascade="all, delete-orphan", order_by="AgreementEvent.at"
    )


class AgreementRecipient(Base):
    """A party on the receiving side: an organisation (all its members), a named user acting
    for an organisation (org and user), or an individual (user only)."""

    __tablename__ = "agreement_recipients"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True, index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True, index=True)


class AgreementDataset(Base):
    """A dataset (all its resources) or one resource of it covered by an agreement."""

    __tablename__ = "agreement_datasets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    resource_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


class AgreementEvent(Base):
    """Who did what to an agreement, and when (its history)."""

    __tablename__ = "agreement_events"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str] = mapped_column(String(20), default="")
    to_status: Mapped[str] = mapped_column(String(20), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class Counter(Base):
    """Named counters handed out under a row lock (agreement reference numbers)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditEntry(Base):
    """One entry of the hash-chained audit log. Never updated, never deleted.

    ``hash`` is the SHA-256 of the previous entry's hash and this entry's fields (see
    :mod:`citydata.access.audit`); the text columns are hashed exactly as stored.
    """

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(36), default="")
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(String(36), default="")
    dataset_id: Mapped[str] = mapped_column(String(36), default="")
    resource_id: Mapped[str] = mapped_column(String(36), default="")
    agreement_id: Mapped[str] = mapped_column(String(36), default="")
    purpose: Mapped[str] = mapped_column(String(60), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The one row holding the last sequence number and hash; appends lock it in turn."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="0" * 64)


class AuditCheckpoint(Base):
    """A signed statement "the log had ``seq`` entries ending in ``hash`` at ``at``"."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[str] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64), default="")
    signature: Mapped[str] = mapped_column(String(200), default="")


class Notification(Base):
    """An in-app message to one user (governance requests and decisions)."""

    __tablename__ = "notifications"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    read_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class MailOutbox(Base):
    """E-mail waiting to be sent; written in the same transaction as what it reports."""

    __tablename__ = "mail_outbox"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    transport: Mapped[str] = mapped_column(String(20), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LoginAttempt(Base):
    """Failed sign-ins per key (a user name or a client address) in the current window."""

    __tablename__ = "login_attempts"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    failures: Mapped[int] = mapped_column(Integer, default=0)


Index("ix_audit_log_org_seq", AuditEntry.org_id, AuditEntry.seq)
Index("ix_audit_log_dataset_seq", AuditEntry.dataset_id, AuditEntry.seq)
Index("ix_audit_log_agreement", AuditEntry.agreement_id)
Index(
    "ix_agreement_datasets_dataset_agreement",
    AgreementDataset.dataset_id,
    AgreementDataset.agreement_id,
)

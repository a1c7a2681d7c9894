"""ORM tables of federation: other nodes, harvest sources and jobs, forwarded access requests.

The rules live in :mod:`citydata.federation`; these are only the rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citydata.storage.models import Base, new_id, utcnow


class FederationNode(Base):
    """Another citydata node this one knows: its registry, or a member registered with us."""

    __tablename__ = "federation_nodes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    #: Base64 of the raw Ed25519 public key, and its fingerprint (the signatures' keyid).
    public_key: Mapped[str] = mapped_column(String(100), default="")
    key_id: Mapped[str] = mapped_column(String(16), default="")
    #: "registry": the registry this node reports to; "member": a node registered with us.
    role: Mapped[str] = mapped_column(String(20), default="member")
    #: Member nodes: the local organisation their datasets are catalogued under.
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(20), default="active")
    registered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class FederationInvite(Base):
    """A one-time code a registry administrator gives an owner node to register with."""

    __tablename__ = "federation_invites"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    node_name: Mapped[str] = mapped_column(String(100), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class FederationNonce(Base):
    """Nonces of signed requests already received: a second use is a replay."""

    __tablename__ = "federation_nonces"
    node_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class FederatedUser(Base):
    """A person known to another node (``remote_name`` there) and their local stand-in user,
    which is what agreements and the audit log name. The stand-in cannot sign in here."""

    __tablename__ = "federated_users"
    __table_args__ = (UniqueConstraint("node_id", "remote_name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    node_id: Mapped[str] = mapped_column(ForeignKey("federation_nodes.id", ondelete="CASCADE"))
    remote_name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class HarvestSource(Base):
    __tablename__ = "harvest_sources"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    #: ckan | dcat | node
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str] = mapped_column(String(1000))
    #: The local organisation harvested datasets are catalogued under.
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    #: manual | hourly | daily | weekly
    schedule: Mapped[str] = mapped_column(String(20), default="manual")
    node_id: Mapped[str | None] = mapped_column(
        ForeignKey("federation_nodes.id", ondelete="SET NULL"), nullable=True
    )
    #: JSON: adapter options (api_key, include_private, page_size).
    config: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(20), default="active")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: Scheduling: when the next run is due (None: manual); failures so far, for back-off.
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: The newest modification time seen at the source (incremental harvests ask from it).
    high_water: Mapped[str] = mapped_column(String(40), default="")


class HarvestJob(Base):
    __tablename__ = "harvest_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(
        ForeignKey("harvest_sources.id", ondelete="CASCADE"), index=True
    )
    #: running | finished | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    #: gather | fetch | import | done: where a job that died stopped.
    stage: Mapped[str] = mapped_column(String(20), default="gather")
    started: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    #: True when this run asked only for changes since the source's high-water mark.
    incremental: Mapped[int] = mapped_column(Integer, default=0)


class HarvestError(Base):
    __tablename__ = "harvest_errors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("harvest_jobs.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(20), default="")
    remote_id: Mapped[str] = mapped_column(String(1000), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    source_record: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class HarvestRecordRow(Base):
    """One dataset at one source and the local dataset it became (several sources may feed
    the same dataset: they share its ``identifier``)."""

    __tablename__ = "harvest_records"
    __table_args__ = (UniqueConstraint("source_id", "remote_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(
        ForeignKey("harvest_sources.id", ondelete="CASCADE"), index=True
    )
    remote_id: Mapped[str] = mapped_column(String(1000))
    identifier: Mapped[str] = mapped_column(String(1000), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    remote_modified: Mapped[str] = mapped_column(String(40), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    source_url: Mapped[str] = mapped_column(String(2000), default="")
    #: active | withdrawn (gone from the source)
    state: Mapped[str] = mapped_column(String(20), default="active")
    first_harvested: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_harvested: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FederatedRequest(Base):
    """Registry side: an access request forwarded to the owner node, and what it decided.

    The registry keeps only this (the agreement's reference and status), never the data."""

    __tablename__ = "federated_requests"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("federation_nodes.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(String(36), index=True)
    remote_dataset: Mapped[str] = mapped_column(String(1000))
    remote_reference: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    purpose: Mapped[str] = mapped_column(String(60), default="")
    end_at: Mapped[str] = mapped_column(String(40), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")


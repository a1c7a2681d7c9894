"""ORM tables. Input and output models (pydantic / API dicts) live with their domain, not here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    fullname: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    sysadmin: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default="active")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: read (look only), write (publish), admin (everything the user may do).
    scope: Mapped[str] = mapped_column(String(10), default="admin")
    #: A token bound to an agreement may read data only under that agreement and purpose.
    agreement_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user: Mapped[User] = relationship()


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    #: one of citydata.catalog.organizations.ORG_KINDS
    kind: Mapped[str] = mapped_column(String(40), default="other")
    gss_code: Mapped[str | None] = mapped_column(String(9), nullable=True)
    url: Mapped[str] = mapped_column(String(500), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    state: Mapped[str] = mapped_column(String(20), default="active")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: member (sees private data), editor (publishes), admin (manages members)
    role: Mapped[str] = mapped_column(String(20), default="member")


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_org: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    license_id: Mapped[str] = mapped_column(String(100), default="OGL-UK-3.0")
    access_level: Mapped[str] = mapped_column(String(20), default="open", index=True)
    #: Why the data is not open (shared/restricted): a code of access.vocabulary.REASONS.
    restriction_reason: Mapped[str] = mapped_column(String(40), default="")
    restriction_note: Mapped[str] = mapped_column(Text, default="")
    #: What outsiders see of a shared/restricted dataset: existence, schema or sample.
    discovery: Mapped[str] = mapped_column(String(20), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    version: Mapped[str] = mapped_column(String(100), default="")
    author: Mapped[str] = mapped_column(String(200), default="")
    author_email: Mapped[str] = mapped_column(String(254), default="")
    maintainer: Mapped[str] = mapped_column(String(200), default="")
    maintainer_email: Mapped[str] = mapped_column(String(254), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    frequency: Mapped[str] = mapped_column(String(40), default="")
    temporal_start: Mapped[str] = mapped_column(String(10), default="")
    temporal_end: Mapped[str] = mapped_column(String(10), default="")
    bbox_west: Mapped[float | None] = mapped_column(Float, nullable=True)
    bbox_south: Mapped[float | None] = mapped_column(Float, nullable=True)
    bbox_east: Mapped[float | None] = mapped_column(Float, nullable=True)
    bbox_north: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: "name@version" of the data standard (Table Schema) every upload is validated against.
    conforms_to: Mapped[str] = mapped_column(String(200), default="")
    quality_score: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    #: JSON: the quality checks behind the score, each with its explanation.
    quality: Mapped[str] = mapped_column(Text, default="{}")
    #: JSON-encoded list of {"key", "value"} pairs, as CKAN's extras.
    extras: Mapped[str] = mapped_column(Text, default="[]")
    state: Mapped[str] = mapped_column(String(20), default="active", index=True)
    creator_user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    organization: Mapped[Organization] = relationship(lazy="joined")
    tags: Mapped[list[DatasetTag]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetTag.tag"
    )
    themes: Mapped[list[DatasetTheme]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetTheme.theme"
    )
    boroughs: Mapped[list[DatasetBorough]] = relationship(
        cascade="all, delete-orphan", order_by="DatasetBorough.gss_code"
    )
    resources: Mapped[list[Resource]] = relationship(
        cascade="all, delete-orphan", order_by="Resource.position"
    )


class DatasetTag(Base):
    __tablename__ = "dataset_tags"
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class DatasetTheme(Base):
    __tablename__ = "dataset_themes"
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)


class DatasetBorough(Base):
    __tablename__ = "dataset_boroughs"
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    gss_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)


class Resource(Base):
    __tablename__ = "resources"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(40), default="", index=True)
    mimetype: Mapped[str] = mapped_column(String(200), default="")
    #: External URL for linked resources; empty for uploads (their URL is computed).
    url: Mapped[str] = mapped_column(String(2000), default="")
    url_type: Mapped[str] = mapped_column(String(20), default="")
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    modified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    versions: Mapped[list[ResourceVersion]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceVersion.version"
    )


class ResourceVersion(Base):
    """One immutable upload of a resource. Re-uploading adds a version; none is ever changed."""

    __tablename__ = "resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(300), default="")
    mimetype: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(40), default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: Tabular data: the columnar snapshot (Parquet, content-addressed) and what it holds.
    #: ingest_status: "" (not tabular), "ok", "failed" (unreadable) or "invalid" (failed
    #: validation against the dataset's standard); only "ok" or "" versions become current.
    ingest_status: Mapped[str] = mapped_column(String(20), default="")
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    row_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: JSON list of {"name", "type"} in the snapshot.
    columns: Mapped[str] = mapped_column(Text, default="[]")
    #: JSON report: ingest warnings, validation errors.
    report: Mapped[str] = mapped_column(Text, default="{}")


class DatasetSearch(Base):
    """The text that full-text search indexes, one row per active dataset.

    On SQLite an FTS5 table mirrors it; on PostgreSQL a weighted ``tsv`` column with a GIN
    index is added by the migration (not mapped here: the search module writes it).
    """

    __tablename__ = "dataset_search"
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    #: Integer id of this version of the document: the FTS5 rowid on SQLite, so matching
    #: and deleting never scan by text id. Taken from the search change sequence.
    doc_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    organization: Mapped[str] = mapped_column(Text, default="")


class SearchState(Base):
    """One row holding the catalog's change sequence.

    Every write to the search index bumps ``seq`` inside its own transaction, so the row lock
    orders writers: change numbers are handed out in commit order with no gaps, and each API
    process can bring its in-memory facet index up to date by reading the changes after the
    last number it has seen.
    """

    __tablename__ = "search_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class PublicGeneration(Base):
    """One row: moved on by every committed write an anonymous reader could see
    (:mod:`citydata.storage.public_changes`); cached anonymous responses are tagged with it."""

    __tablename__ = "public_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class SearchChange(Base):
    """Which dataset changed at each sequence number (read by the facet index)."""

    __tablename__ = "search_changes"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dataset_id: Mapped[str] = mapped_column(String(36))


class RefBorough(Base):
    __tablename__ = "ref_boroughs"
    gss_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    #: GeoJSON geometry (WGS84) as text
    geometry: Mapped[str] = mapped_column(Text)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)


class RefLsoa(Base):
    __tablename__ = "ref_lsoas"
    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    borough_gss: Mapped[str] = mapped_column(String(9), index=True)
    geometry: Mapped[str] = mapped_column(Text)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class RefPostcode(Base):
    __tablename__ = "ref_postcodes"
    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    easting: Mapped[int] = mapped_column(Integer)
    northing: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    district_gss: Mapped[str] = mapped_column(String(9), index=True)


class RefMeta(Base):
    """Which reference sources were loaded, by content hash, so reloading is a no-op."""

    __tablename__ = "ref_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


Index("ix_datasets_org_state", Dataset.owner_org, Dataset.state)

# The governance and federation tables share this Base; importing them here registers them
# in its metadata.
from citydata.storage import (  # noqa: E402,F401
    models_access,
    models_events,
    models_federation,
    models_planning,
    models_webhooks,
)

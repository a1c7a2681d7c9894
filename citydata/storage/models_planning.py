"""ORM tables of the Planning Datahub: the authorities' feeds, ingest runs, the issue log and
the current state of every application.

The rules live in :mod:`citydata.services.planning`; these are only the rows. An application's
history (and the provenance of each of its values) is its events in the core event log
(stream ``planning``, key = the application id).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citydata.storage.models import Base, new_id, utcnow


class PlanningFeed(Base):
    """One authority's feed: where it is collected from and how its columns and values map."""

    __tablename__ = "planning_feeds"
    slug: Mapped[str] = mapped_column(String(60), primary_key=True)
    lpa_code: Mapped[str] = mapped_column(String(9), unique=True)
    lpa_name: Mapped[str] = mapped_column(String(120))
    id_prefix: Mapped[str] = mapped_column(String(60))
    #: A file path or an http(s) URL of the full export (paged feeds: the first page).
    location: Mapped[str] = mapped_column(String(1000), default="")
    #: The feed configuration (format, column and value mappings), JSON.
    config: Mapped[str] = mapped_column(Text, default="{}")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    #: The content hash of the last full export applied (an unchanged export is skipped).
    last_good_hash: Mapped[str] = mapped_column(String(64), default="")


class PlanningRun(Base):
    """One ingest of a feed: what was read, what changed, what was quarantined."""

    __tablename__ = "planning_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    feed: Mapped[str] = mapped_column(String(60), index=True)
    #: "full" (the whole export: missing applications are reported) or "delta" (changes).
    kind: Mapped[str] = mapped_column(String(10), default="full")
    #: running | ok | unchanged | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    started: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    location: Mapped[str] = mapped_column(String(1000), default="")
    resource_hash: Mapped[str] = mapped_column(String(64), default="")
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    #: JSON: notes about the feed's shape (columns added or gone), shown in the run report.
    notes: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str] = mapped_column(Text, default="")


class PlanningIssue(Base):
    """A value or row the pipeline could not take as it came: the source value and why.

    ``severity`` "error": the row was quarantined (nothing of it stored); "warning": the value
    was left out (a stored value stays as it was). Open until a later run supersedes it.
    """

    __tablename__ = "planning_issues"
    __table_args__ = (Index("ix_planning_issues_feed_open", "feed", "resolved_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    feed: Mapped[str] = mapped_column(String(60))
    application_id: Mapped[str] = mapped_column(String(200), default="", index=True)
    row: Mapped[int] = mapped_column(Integer, default=0)
    field: Mapped[str] = mapped_column(String(60), default="")
    value: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    message: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PlanningApplication(Base):
    """The current state of one application, in the London planning application standard."""

    __tablename__ = "planning_applications"
    __table_args__ = (
        Index("ix_planning_applications_lpa_received", "lpa_code", "received_date"),
        Index("ix_planning_applications_lonlat", "lon", "lat"),
    )
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    feed: Mapped[str] = mapped_column(String(60), index=True)
    lpa_code: Mapped[str] = mapped_column(String(9))
    lpa_name: Mapped[str] = mapped_column(String(120))
    lpa_app_no: Mapped[str] = mapped_column(String(120))
    ward: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    uprn: Mapped[str | None] = mapped_column(String(12), nullable=True)
    site_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    street_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    site_geometry: Mapped[str | None] = mapped_column(Text, nullable=True)
    centroid: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    application_type: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    development_type: Mapped[str | None] = mapped_column(String(120), nullable=True)
    status: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    decision: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    decision_agency: Mapped[str | None] = mapped_column(String(40), nullable=True)
    received_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    valid_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    decision_date: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)
    appeal_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    appeal_decision: Mapped[str | None] = mapped_column(String(30), nullable=True)
    proposed_residential_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    existing_residential_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    site_area_ha: Mapped[float | None] = mapped_column(Float, nullable=True)
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    last_updated: Mapped[str | None] = mapped_column(String(25), nullable=True)
    #: When the decision first reached a feed (the source's own stamp, else ours): timeliness.
    decision_published: Mapped[str | None] = mapped_column(String(10), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: A digest of the stored values: an unchanged row is recognised without comparing fields.
    digest: Mapped[str] = mapped_column(String(32), default="")

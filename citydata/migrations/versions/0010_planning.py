"""Planning Datahub: the authorities' feeds, ingest runs, the issue log and the applications.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "planning_feeds",
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("lpa_code", sa.String(length=9), nullable=False),
        sa.Column("lpa_name", sa.String(length=120), nullable=False),
        sa.Column("id_prefix", sa.String(length=60), nullable=False),
        sa.Column("location", sa.String(length=1000), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("last_run_id", sa.String(length=36), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_good_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("slug"),
        sa.UniqueConstraint("lpa_code"),
    )
    op.create_table(
        "planning_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("feed", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.Column("location", sa.String(length=1000), nullable=False),
        sa.Column("resource_hash", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_planning_runs_feed"), "planning_runs", ["feed"], unique=False)
    op.create_table(
        "planning_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("feed", sa.String(length=60), nullable=False),
        sa.Column("application_id", sa.String(length=200), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_planning_issues_run_id"), "planning_issues", ["run_id"])
    op.create_index(
        op.f("ix_planning_issues_application_id"), "planning_issues", ["application_id"]
    )
    op.create_index("ix_planning_issues_feed_open", "planning_issues", ["feed", "resolved_at"])
    op.create_table(
        "planning_applications",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("feed", sa.String(length=60), nullable=False),
        sa.Column("lpa_code", sa.String(length=9), nullable=False),
        sa.Column("lpa_name", sa.String(length=120), nullable=False),
        sa.Column("lpa_app_no", sa.String(length=120), nullable=False),
        sa.Column("ward", sa.String(length=120), nullable=True),
        sa.Column("uprn", sa.String(length=12), nullable=True),
        sa.Column("site_name", sa.String(length=300), nullable=True),
        sa.Column("street_name", sa.String(length=300), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("site_geometry", sa.Text(), nullable=True),
        sa.Column("centroid", sa.String(length=80), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("application_type", sa.String(length=40), nullable=True),
        sa.Column("development_type", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("decision", sa.String(length=40), nullable=True),
        sa.Column("decision_agency", sa.String(length=40), nullable=True),
        sa.Column("received_date", sa.String(length=10), nullable=True),
        sa.Column("valid_date", sa.String(length=10), nullable=True),
        sa.Column("decision_date", sa.String(length=10), nullable=True),
        sa.Column("appeal_status", sa.String(length=30), nullable=True),
        sa.Column("appeal_decision", sa.String(length=30), nullable=True),
        sa.Column("proposed_residential_units", sa.Integer(), nullable=True),
        sa.Column("existing_residential_units", sa.Integer(), nullable=True),
        sa.Column("site_area_ha", sa.Float(), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("last_updated", sa.String(length=25), nullable=True),
        sa.Column("decision_published", sa.String(length=10), nullable=True),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("feed", "ward", "postcode", "application_type", "status", "decision",
                   "decision_date"):
        op.create_index(
            op.f(f"ix_planning_applications_{column}"), "planning_applications", [column]
        )
    op.create_index(
        "ix_planning_applications_lpa_received", "planning_applications",
        ["lpa_code", "received_date"],
    )
    op.create_index("ix_planning_applications_lonlat", "planning_applications", ["lon", "lat"])


def downgrade() -> None:
    op.drop_table("planning_applications")
    op.drop_table("planning_issues")
    op.drop_table("planning_runs")
    op.drop_table("planning_feeds")

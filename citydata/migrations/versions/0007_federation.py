"""Federation: other nodes, their keys and nonces, harvest sources, jobs and records,
forwarded access requests and the stand-in users of people from other nodes.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_nonces",
        sa.Column("node_name", sa.String(length=100), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node_name", "nonce"),
    )
    op.create_index(
        op.f("ix_federation_nonces_seen_at"), "federation_nonces", ["seen_at"], unique=False
    )
    op.create_table(
        "federation_invites",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("node_name", sa.String(length=100), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(
        op.f("ix_federation_invites_node_name"), "federation_invites", ["node_name"], unique=False
    )
    op.create_table(
        "federation_nodes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("public_key", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("registered_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "federated_users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("remote_name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["federation_nodes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("node_id", "remote_name"),
    )
    op.create_index(
        op.f("ix_federated_users_user_id"), "federated_users", ["user_id"], unique=False
    )
    op.create_table(
        "federated_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("remote_dataset", sa.String(length=1000), nullable=False),
        sa.Column("remote_reference", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=60), nullable=False),
        sa.Column("end_at", sa.String(length=40), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["federation_nodes.id"],
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_federated_requests_dataset_id"), "federated_requests", ["dataset_id"], unique=False
    )
    op.create_index(
        op.f("ix_federated_requests_node_id"), "federated_requests", ["node_id"], unique=False
    )
    op.create_index(
        op.f("ix_federated_requests_user_id"), "federated_requests", ["user_id"], unique=False
    )
    op.create_table(
        "harvest_sources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("schedule", sa.String(length=20), nullable=False),
        sa.Column("node_id", sa.String(length=36), nullable=True),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("modified", sa.DateTime(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("high_water", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["federation_nodes.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(
        op.f("ix_harvest_sources_next_run_at"), "harvest_sources", ["next_run_at"], unique=False
    )
    op.create_index(
        op.f("ix_harvest_sources_organization_id"),
        "harvest_sources",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "harvest_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("heartbeat", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("incremental", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["harvest_sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_harvest_jobs_source_id"), "harvest_jobs", ["source_id"], unique=False)
    op.create_table(
        "harvest_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("remote_id", sa.String(length=1000), nullable=False),
        sa.Column("identifier", sa.String(length=1000), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=True),
        sa.Column("remote_modified", sa.String(length=40), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_url", sa.String(length=2000), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("first_harvested", sa.DateTime(), nullable=False),
        sa.Column("last_harvested", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["harvest_sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "remote_id"),
    )
    op.create_index(
        op.f("ix_harvest_records_dataset_id"), "harvest_records", ["dataset_id"], unique=False
    )
    op.create_index(
        op.f("ix_harvest_records_identifier"), "harvest_records", ["identifier"], unique=False
    )
    op.create_index(
        op.f("ix_harvest_records_source_id"), "harvest_records", ["source_id"], unique=False
    )
    op.create_table(
        "harvest_errors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("remote_id", sa.String(length=1000), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source_record", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["harvest_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_harvest_errors_job_id"), "harvest_errors", ["job_id"], unique=False)


def downgrade() -> None:
    op.drop_table("harvest_errors")
    op.drop_table("harvest_records")
    op.drop_table("harvest_jobs")
    op.drop_table("harvest_sources")
    op.drop_table("federated_requests")
    op.drop_table("federated_users")
    op.drop_table("federation_nodes")
    op.drop_table("federation_invites")
    op.drop_table("federation_nonces")

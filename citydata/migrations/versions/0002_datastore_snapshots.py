"""Datastore: columnar snapshots per resource version, data standards and quality per dataset.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resource_versions") as batch:
        batch.add_column(sa.Column("ingest_status", sa.String(20), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("snapshot_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("row_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("columns", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("report", sa.Text(), nullable=False, server_default="{}"))
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("conforms_to", sa.String(200), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("quality_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quality", sa.Text(), nullable=False, server_default="{}"))
        batch.create_index("ix_datasets_quality_score", ["quality_score"])


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_index("ix_datasets_quality_score")
        batch.drop_column("quality")
        batch.drop_column("quality_score")
        batch.drop_column("conforms_to")
    with op.batch_alter_table("resource_versions") as batch:
        for col in ("report", "columns", "row_count", "snapshot_sha256", "ingest_status"):
            batch.drop_column(col)

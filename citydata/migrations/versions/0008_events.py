"""The event log: one row per event of a stream, numbered by the database.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        # Ids are never reused on SQLite either: clients resume from the last id they saw.
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_stream_id", "events", ["stream", "id"], unique=False)
    op.create_index("ix_events_stream_key", "events", ["stream", "key"], unique=False)


def downgrade() -> None:
    op.drop_table("events")

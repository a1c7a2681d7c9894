"""The public generation: a counter every write an anonymous reader could see moves on, so
each server process knows when its cached anonymous responses are out of date.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_generation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO public_generation (id, generation) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("public_generation")

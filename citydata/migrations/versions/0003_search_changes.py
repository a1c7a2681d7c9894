"""Search change log and integer document ids, for the in-memory facet index.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "search_changes",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
    )
    with op.batch_alter_table("dataset_search") as batch:
        batch.add_column(sa.Column("doc_id", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_dataset_search_doc_id", ["doc_id"])
    bind = op.get_bind()
    # Number the existing documents and start the sequence after them.
    if bind.dialect.name == "sqlite":
        op.execute("UPDATE dataset_search SET doc_id = rowid")
        op.execute("DELETE FROM dataset_fts")
        op.execute(
            "INSERT INTO dataset_fts(rowid, dataset_id, name, title, notes, tags, organization) "
            "SELECT doc_id, dataset_id, name, title, notes, tags, organization FROM dataset_search"
        )
    else:
        op.execute(
            "UPDATE dataset_search s SET doc_id = r.n FROM (SELECT dataset_id, "
            "row_number() OVER (ORDER BY dataset_id) AS n FROM dataset_search) r "
            "WHERE s.dataset_id = r.dataset_id"
        )
    op.execute("INSERT INTO search_state (id, seq) SELECT 1, coalesce(max(doc_id), 0) "
               "FROM dataset_search")


def downgrade() -> None:
    with op.batch_alter_table("dataset_search") as batch:
        batch.drop_constraint("uq_dataset_search_doc_id", type_="unique")
        batch.drop_column("doc_id")
    op.drop_table("search_changes")
    op.drop_table("search_state")

"""PostgreSQL: keep the full-text vectors in a narrow table of their own.

Matching reads one heap row per hit; with the vector beside the whole description, hits were
spread over as many pages as rows. A (doc_id, tsv) table packs many per page.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite's FTS5 table is already separate and keyed by doc_id
    op.execute("CREATE TABLE dataset_tsv (doc_id bigint PRIMARY KEY, tsv tsvector NOT NULL)")
    op.execute(
        "INSERT INTO dataset_tsv (doc_id, tsv) SELECT doc_id, tsv FROM dataset_search "
        "WHERE doc_id IS NOT NULL AND tsv IS NOT NULL"
    )
    op.execute("CREATE INDEX ix_dataset_tsv_tsv ON dataset_tsv USING gin (tsv)")
    op.execute("DROP INDEX IF EXISTS ix_dataset_search_tsv")
    op.execute("ALTER TABLE dataset_search DROP COLUMN tsv")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("ALTER TABLE dataset_search ADD COLUMN tsv tsvector")
    op.execute(
        "UPDATE dataset_search s SET tsv = t.tsv FROM dataset_tsv t WHERE t.doc_id = s.doc_id"
    )
    op.execute("CREATE INDEX ix_dataset_search_tsv ON dataset_search USING gin (tsv)")
    op.execute("DROP TABLE dataset_tsv")

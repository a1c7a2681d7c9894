"""Governed sharing: agreements, the hash-chained audit log, notifications, token scopes.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("restriction_reason", sa.String(40), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("restriction_note", sa.Text(), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("discovery", sa.String(20), nullable=False,
                                   server_default=""))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(10), nullable=False,
                                   server_default="admin"))
        batch.add_column(sa.Column("agreement_id", sa.String(36), nullable=True))

    op.create_table(
        "agreements",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("provider_org_id", sa.String(36), sa.ForeignKey("organizations.id"),
                  nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("purpose_detail", sa.Text(), nullable=False),
        sa.Column("lawful_basis", sa.String(40), nullable=False),
        sa.Column("special_category_condition", sa.String(40), nullable=False),
        sa.Column("dpia_reference", sa.String(200), nullable=False),
        sa.Column("dpia_url", sa.String(1000), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("allowed_columns", sa.Text(), nullable=False),
        sa.Column("min_cell_count", sa.Integer(), nullable=False),
        sa.Column("no_onward_sharing", sa.Boolean(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("start_at", sa.DateTime(), nullable=True),
        sa.Column("end_at", sa.DateTime(), nullable=True, index=True),
        sa.Column("requested_by", sa.String(36), nullable=True),
        sa.Column("decided_by", sa.String(36), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("modified", sa.DateTime(), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "agreement_recipients",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agreement_id", sa.String(36),
                  sa.ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(36), sa.ForeignKey("organizations.id"), nullable=True,
                  index=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=True,
                  index=True),
    )
    op.create_table(
        "agreement_datasets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agreement_id", sa.String(36),
                  sa.ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.String(36), sa.ForeignKey("datasets.id"), nullable=False,
                  index=True),
        sa.Column("resource_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_agreement_datasets_dataset_agreement", "agreement_datasets",
                    ["dataset_id", "agreement_id"])
    op.create_table(
        "agreement_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agreement_id", sa.String(36),
                  sa.ForeignKey("agreements.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=True),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=False),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor_id", sa.String(36), nullable=False),
        sa.Column("actor_name", sa.String(100), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=False),
        sa.Column("resource_id", sa.String(36), nullable=False),
        sa.Column("agreement_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_org_seq", "audit_log", ["org_id", "seq"])
    op.create_index("ix_audit_log_dataset_seq", "audit_log", ["dataset_id", "seq"])
    op.create_index("ix_audit_log_agreement", "audit_log", ["agreement_id"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(200), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(500), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created", sa.DateTime(), nullable=False, index=True),
        sa.Column("to_addr", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True, index=True),
        sa.Column("transport", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("login_attempts", "mail_outbox", "notifications", "audit_checkpoints",
                  "audit_head", "audit_log", "counters", "agreement_events",
                  "agreement_datasets", "agreement_recipients", "agreements"):
        op.drop_table(table)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("agreement_id")
        batch.drop_column("scope")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("discovery")
        batch.drop_column("restriction_note")
        batch.drop_column("restriction_reason")

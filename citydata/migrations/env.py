"""Alembic environment: the URL comes from the caller (citydata.storage.migrate), never a file."""

from __future__ import annotations

from alembic import context

from citydata.storage.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `citydata db upgrade` (citydata.storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

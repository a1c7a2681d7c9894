"""PostGIS for the feature stores, where the server offers it.

On PostgreSQL the spatial index of each snapshot is a PostGIS table. The extension is created
in ``public`` (one per database) when the server has it and the role may create it; without
it the platform falls back to the embedded R*Tree stores, so this migration never fails for
want of PostGIS. SQLite needs nothing.

Revision ID: 0006
Revises: 0005
"""

import logging

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None
log = logging.getLogger("citydata.migrations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").first():
        return
    if not bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
    ).first():
        log.warning("PostGIS is not installed on this server; spatial indexes use SQLite files")
        return
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
    except Exception as exc:  # e.g. the role may not create extensions
        log.warning("PostGIS could not be enabled (%s); spatial indexes use SQLite files", exc)


def downgrade() -> None:
    # The extension may serve other schemas in the same database: leave it.
    pass

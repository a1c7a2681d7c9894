"""Schema migrations (Alembic), run programmatically so no alembic.ini is needed."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from citydata.errors import CitydataError
from citydata.storage.database import Database


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("citydata") / "migrations"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head() or ""


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> str:
    """Bring the schema to the newest revision; idempotent; refuses a newer, unknown schema."""
    script = ScriptDirectory.from_config(_config())
    now = current_revision(db)
    if now is not None and script.get_revision(now) is None:
        raise CitydataError(
            f"The database schema ({now}) is newer than this version of citydata knows; "
            "upgrade citydata instead of migrating"
        )
    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()

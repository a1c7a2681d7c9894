"""Schema migrations (Alembic), run programmatically so no alembic.ini is needed."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util.exc import CommandError

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


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False


def upgrade(db: Database, target: str = "head") -> str:
    """Bring the schema to ``target`` (the newest by default); idempotent; refuses a newer,
    unknown schema."""
    script = ScriptDirectory.from_config(_config())
    now = current_revision(db)
    if now is not None and not _known(script, now):
        raise CitydataError(
            f"The database schema ({now}) is newer than this version of citydata knows; "
            "upgrade citydata instead of migrating"
        )
    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return current_revision(db) or ""

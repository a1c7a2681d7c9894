"""Migrations keep existing data, are idempotent, and refuse a schema newer than the code."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from citydata.errors import CitydataError
from citydata.storage.database import Database, normalise_url
from citydata.storage.migrate import current_revision, head_revision, upgrade
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'm.db'}")
        yield db
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("CITYDATA_TEST_DATABASE_URL is empty: PostgreSQL cases not run")
    schema = f"cdmig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(f"{normalise_url(PG_URL)}?options=-csearch_path%3D{schema}%2Cpublic")
    yield db
    db.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_upgrade_keeps_data_and_is_idempotent(empty_db):
    assert upgrade(empty_db, "0001") == "0001"
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organizations (id, name, title, description, kind, url, "
                "email, state, created, modified) VALUES ('o1', 'camden', 'Camden', "
                "'', 'borough', '', '', 'active', '2024-01-01', '2024-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO datasets (id, name, title, notes, owner_org, license_id, "
                "access_level, url, version, author, author_email, maintainer, "
                "maintainer_email, contact_name, contact_email, frequency, "
                "temporal_start, temporal_end, extras, state, created, modified) "
                "VALUES ('d1', 'trees', 'Trees', '', 'o1', 'OGL-UK-3.0', 'open', '', "
                "'', '', '', '', '', '', '', '', '', '', '[]', 'active', "
                "'2024-01-01', '2024-01-01')"
            )
        )
    assert upgrade(empty_db) == head_revision()
    assert upgrade(empty_db) == head_revision()
    with empty_db.engine.connect() as conn:
        row = conn.execute(text("SELECT name, conforms_to, quality FROM datasets")).one()
    assert tuple(row) == ("trees", "", "{}")


def test_refuses_newer_schema(empty_db):
    upgrade(empty_db)
    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(CitydataError, match="newer"):
        upgrade(empty_db)
    assert current_revision(empty_db) == "9999"


def test_migrations_build_exactly_the_mapped_schema(empty_db):
    """Every table, column and index the ORM maps is what the migrations create (the full-text
    tables are written by SQL, not mapped, so they are the only difference allowed; PostGIS's
    own ``spatial_ref_sys`` in ``public`` is visible on the search path and is not ours)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from citydata.storage.models import Base

    upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def unmapped_text_search(d) -> bool:  # type: ignore[no-untyped-def]
        table = d[1] if d[0] == "remove_table" else d[1].table if d[0] == "remove_index" else None
        return table is not None and (table.name.startswith(("dataset_fts", "dataset_tsv"))
                                      or table.name == "spatial_ref_sys")

    assert [d for d in diffs if not unmapped_text_search(d)] == []


def test_db_upgrade_command_is_idempotent_and_refuses_a_newer_schema(empty_db, tmp_path):
    """The CLI path: ``citydata db upgrade`` twice on a new database, then against a schema
    newer than the code — a clear message and exit code 1, no traceback, nothing changed."""
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")},
           "CITYDATA_HOME": str(tmp_path / "home"), "CITYDATA_DATABASE_URL": empty_db.url,
           "CITYDATA_POSTCODES": "none"}

    def db_upgrade() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "citydata.cli", "db", "upgrade"],
                              env=env, capture_output=True, text=True, timeout=120)

    for _ in range(2):
        done = db_upgrade()
        assert done.returncode == 0, done.stderr
        assert f"Database ready at schema {head_revision()}" in done.stdout
    assert current_revision(empty_db) == head_revision()
    with empty_db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    refused = db_upgrade()
    assert refused.returncode == 1
    assert "Error: The database schema (9999) is newer than this version of citydata" \
        in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert current_revision(empty_db) == "9999"

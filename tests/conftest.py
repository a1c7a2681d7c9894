"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``CITYDATA_TEST_DATABASE_URL`` (``make test`` and ``.ci/run`` set it to
the machine's server). Each pytest-xdist worker gets its own schema, migrated once; tables are
emptied between tests. If the URL is set but the server is unreachable the run fails — it never
silently skips. Only when the variable is empty (and not in CI) are PostgreSQL cases skipped,
with that reason shown.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from citydata.access.actors import Actor
from citydata.catalog.context import Ctx
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.database import Database, normalise_url
from citydata.storage.migrate import upgrade
from citydata.storage.models import Base

PG_URL = os.environ.get("CITYDATA_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    if IN_CI and not PG_URL:
        raise pytest.UsageError(
            "CI must set CITYDATA_TEST_DATABASE_URL: PostgreSQL tests are required"
        )


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 at its lowest cost in tests: the same algorithm, a fraction of the CPU."""
    from argon2 import PasswordHasher

    from citydata.catalog import users

    real = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users._hasher = real


@pytest.fixture(scope="session")
def worker_id_safe(worker_id: str) -> str:
    return worker_id.replace("-", "_")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_url(worker_id_safe: str) -> Iterator[str]:
    if not PG_URL:
        pytest.skip("CITYDATA_TEST_DATABASE_URL is empty: PostgreSQL cases not run")
    url = normalise_url(PG_URL)
    schema = f"cdtest_{worker_id_safe}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        pytest.fail(f"PostgreSQL at {PG_URL} is not usable: {exc}")
    sep = "&" if "?" in url else "?"
    schema_url = f"{url}{sep}options=-csearch_path%3D{schema}%2Cpublic"
    db = Database(schema_url)
    upgrade(db)
    db.dispose()
    yield schema_url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "citydata.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    url = request.getfixturevalue("pg_schema_url")
    yield url
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        # dataset_tsv is written by SQL, not mapped, so it is named here.
        conn.execute(text(f"TRUNCATE {names}, dataset_tsv CASCADE"))
        conn.execute(text("INSERT INTO search_state (id, seq) VALUES (1, 0)"))
        conn.execute(text("INSERT INTO public_generation (id, generation) VALUES (1, 0)"))
        conn.execute(text(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')"))
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        env="test",
        home=tmp_path / "home",
        database_url=db_url,
        site_url="http://testserver",
        postcodes="none",
        jobs_interval_seconds=0,
        webhook_interval_seconds=0,  # tests that deliver webhooks run the dispatcher themselves
        node_modules=Path(__file__).resolve().parents[1] / "node_modules",
    )


@pytest.fixture(scope="session")
def reference_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for reading reference data without a database (London postcodes only)."""
    return Settings(
        env="test",
        home=tmp_path_factory.mktemp("home"),
        postcodes="london",
        node_modules=Path(__file__).resolve().parents[1] / "node_modules",
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    p = Platform(settings)
    yield p
    p.close()


@pytest.fixture
def system_ctx(platform: Platform) -> Iterator[Ctx]:
    """A catalog context acting as the system, committed at the end of the test."""
    with platform.db.session() as session:
        yield Ctx(session, Actor.system(), platform.settings, platform.files)


@pytest.fixture
def make_ctx(platform: Platform):  # type: ignore[no-untyped-def]
    """Build a context for an actor; each use is its own committed transaction."""
    from contextlib import contextmanager

    @contextmanager
    def _make(actor: Actor | None = None):  # type: ignore[no-untyped-def]
        with platform.db.session() as session:
            yield Ctx(session, actor or Actor.system(), platform.settings, platform.files)

    return _make


@pytest.fixture
def app(platform: Platform):  # type: ignore[no-untyped-def]
    from citydata.app import create_app

    return create_app(platform=platform)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(platform: Platform) -> Iterator[str]:
    """Our real server (uvicorn) on a free loopback port, for real HTTP clients."""
    import uvicorn

    from citydata.app import create_app

    port = free_port()
    platform.settings.site_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        create_app(platform=platform),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def seeded(make_ctx):  # type: ignore[no-untyped-def]
    """Users, tokens and two organisations most API tests need."""
    from citydata.catalog import organizations, users

    out = {}
    with make_ctx() as ctx:
        admin = users.create_user(
            ctx.session, "admin", "admin@example.org", "admin-pass-1", sysadmin=True
        )
        editor = users.create_user(ctx.session, "editor", "editor@example.org", "editor-pass-1")
        outsider = users.create_user(ctx.session, "outsider", "out@example.org", "outsider-pass-1")
        organizations.create_organization(
            ctx.session,
            ctx.actor,
            {
                "name": "camden",
                "title": "London Borough of Camden",
                "kind": "borough",
                "gss_code": "E09000007",
            },
        )
        organizations.create_organization(
            ctx.session,
            ctx.actor,
            {"name": "tfl", "title": "Transport for London", "kind": "transport"},
        )
        organizations.add_member(ctx.session, ctx.actor, "camden", "editor", "editor")
        out["admin_token"] = users.create_token(ctx.session, ctx.actor, admin.name)
        out["editor_token"] = users.create_token(ctx.session, ctx.actor, editor.name)
        out["outsider_token"] = users.create_token(ctx.session, ctx.actor, outsider.name)
    return out

"""/healthz and /readyz on both backends: ready, and not ready (with the same JSON shape)
when the database is unreachable, the schema is behind, or the file store takes no writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citydata.app import create_app
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.migrate import _config, head_revision
from tests.conftest import PG_URL, free_port


def _shape_ok(body: dict) -> None:
    assert set(body) == {"status", "checks"}
    assert set(body["checks"]) == {"database", "schema", "files"}
    assert all(c["status"] in ("ok", "fail") for c in body["checks"].values())


def test_liveness_answers_without_the_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["cache-control"] == "no-store"


def test_ready_on_a_migrated_database(client, platform):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    _shape_ok(body)
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "backend": platform.db.dialect}
    assert body["checks"]["schema"] == {"status": "ok", "revision": head_revision(),
                                        "head": head_revision()}


def _unreachable_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        gone = tmp_path / "gone"
        gone.mkdir()
        return f"sqlite:///{gone / 'citydata.db'}"
    if not PG_URL:
        pytest.skip("CITYDATA_TEST_DATABASE_URL is empty: PostgreSQL cases not run")
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test?connect_timeout=5"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_not_ready_when_the_database_is_unreachable(backend, tmp_path):
    url = _unreachable_url(backend, tmp_path)
    if backend == "sqlite":
        shutil.rmtree(tmp_path / "gone")  # the directory holding the database is gone
    platform = Platform(Settings(env="test", home=tmp_path / "home", database_url=url,
                                 postcodes="none", jobs_interval_seconds=0,
                                 webhook_interval_seconds=0))
    try:
        with TestClient(create_app(platform=platform)) as c:
            assert c.get("/healthz").status_code == 200  # alive, just not ready
            r = c.get("/readyz")
            metrics = c.get("/metrics")
    finally:
        platform.close()
    assert r.status_code == 503
    body = r.json()
    _shape_ok(body)
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {"status": "fail",
                                          "reason": "the database did not answer"}
    assert body["checks"]["schema"]["status"] == "fail"
    assert body["checks"]["files"] == {"status": "ok"}
    assert "127.0.0.1" not in r.text and "gone" not in r.text  # no internals to the public
    # A scrape still answers, saying the database is down.
    assert metrics.status_code == 200 and "citydata_database_up 0.0" in metrics.text


def test_not_ready_when_the_schema_is_behind(client, platform):
    from alembic.script import ScriptDirectory

    head = head_revision()
    previous = ScriptDirectory.from_config(_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    try:
        r = client.get("/readyz")
    finally:  # the PostgreSQL schema is shared by this worker's later tests
        with platform.db.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert r.status_code == 503
    body = r.json()
    _shape_ok(body)
    assert body["checks"]["database"]["status"] == "ok"
    schema = body["checks"]["schema"]
    assert schema["status"] == "fail"
    assert schema["revision"] == previous and schema["head"] == head
    assert "citydata db upgrade" in schema["reason"]
    assert client.get("/readyz").status_code == 200  # and ready again once migrated


def test_not_ready_when_the_file_store_takes_no_writes(client, platform):
    tmp_dir = platform.files.tmp_dir
    shutil.rmtree(tmp_dir)
    tmp_dir.write_text("a file where the staging directory should be")
    try:
        r = client.get("/readyz")
    finally:
        tmp_dir.unlink()
        tmp_dir.mkdir()
    assert r.status_code == 503
    body = r.json()
    _shape_ok(body)
    assert body["checks"]["files"] == {"status": "fail",
                                       "reason": "the file store is not writable"}
    assert body["checks"]["database"]["status"] == "ok"


def test_ops_routes_stay_out_of_the_openapi_schema(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)
    assert paths  # the schema itself is still there

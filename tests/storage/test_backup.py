"""Backup and restore on SQLite and PostgreSQL: a restored instance holds the same rows and
files, passes the audit check and serves the same data; damaged archives are refused and the
target stays empty; a backup taken while the server writes is a consistent snapshot."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from citydata.access import audit
from citydata.access.actors import Actor
from citydata.access.keys import create_key, key_path
from citydata.app import create_app
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage import public_changes
from citydata.storage.backup import (
    KEY_MEMBER,
    MANIFEST,
    Archive,
    BackupError,
    backup,
    file_member,
)
from citydata.storage.database import normalise_url
from citydata.storage.migrate import current_revision, head_revision
from citydata.storage.models import Base
from citydata.storage.restore import is_empty, restore
from tests.conftest import PG_URL

ACTION = "/api/3/action/"
CSV = ("id,borough,spend,opened,lat,lon,note\n" + "".join(
    f"{i},{['Camden', 'Hackney', 'Islington'][i % 3]},{i * 2.5},2024-02-{1 + i % 28:02d},"
    f"51.5{i % 10},-0.1{i % 7},naïve café ☕ {i}\n" for i in range(40))).encode()


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def make_target(tmp_path: Path) -> Iterator[Any]:
    """An empty instance on either backend: a new SQLite file, or a new PostgreSQL schema,
    neither migrated yet (restore creates the schema), with its own files folder."""
    made: list[tuple[Platform, str | None]] = []

    def _make(kind: str, name: str = "target") -> Platform:
        schema = None
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / f'{name}.db'}"
        else:
            if not PG_URL:
                pytest.skip("CITYDATA_TEST_DATABASE_URL is empty: PostgreSQL cases not run")
            base = normalise_url(PG_URL)
            schema = f"cdbackup_{uuid.uuid4().hex[:10]}"
            with create_engine(base).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}options=-csearch_path%3D{schema}%2Cpublic"
        settings = Settings(env="test", home=tmp_path / name, database_url=url,
                            site_url="http://testserver", postcodes="none",
                            jobs_interval_seconds=0, webhook_interval_seconds=0)
        platform = Platform(settings)
        made.append((platform, schema))
        return platform

    yield _make
    for platform, schema in made:
        platform.close()
        if schema:
            engine = create_engine(normalise_url(PG_URL))
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()


def kind_of(platform: Platform) -> str:
    return "sqlite" if platform.settings.is_sqlite else "postgresql"


def call(client: TestClient, action: str, token: str | None = None, **params: Any) -> Any:
    r = client.post(ACTION + action, json=params,
                    headers={"Authorization": token} if token else {})
    assert r.status_code == 200, r.text
    return r.json()["result"]


@pytest.fixture
def published(client: TestClient, seeded: dict[str, str], platform: Platform) -> dict[str, Any]:
    """Real data through the public API: a dataset with an uploaded CSV (so a datastore
    snapshot and a spatial index exist), a private dataset, and audited governance actions."""
    token = seeded["editor_token"]
    call(client, "package_create", token, name="spend", owner_org="camden",
         title="Camden spend", notes="Spending by ward", tags=[{"name": "finance"}])
    r = client.post(ACTION + "resource_create", data={"package_id": "spend", "name": "rows"},
                    files={"upload": ("rows.csv", CSV, "text/csv")},
                    headers={"Authorization": token})
    assert r.status_code == 200, r.text
    rid = r.json()["result"]["id"]
    call(client, "package_create", seeded["admin_token"], name="care", owner_org="camden",
         title="Care packages", access_level="restricted",
         restriction_reason="personal-data")
    from citydata.catalog.users import create_token

    with platform.db.session() as session:
        create_token(session, Actor.system(), "outsider", name="second")  # audited
        audit.stage(session, Actor(user_id="u-1", name="analyst"), "data.read",
                    dataset_id="x", detail={"note": "naïve café ☕"})
    key = create_key(platform.settings)
    with platform.db.session() as session:
        assert audit.write_checkpoint(session, key) is not None
    return {"resource_id": rid, "token": seeded["admin_token"]}


def all_rows(platform: Platform) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with platform.db.engine.connect() as conn:
        for t in Base.metadata.sorted_tables:
            if t.name == public_changes.TABLE:
                continue  # moved past both on restore (test_restore_moves_the_public_generation)
            order = list(t.primary_key.columns) or list(t.columns)
            out[t.name] = [tuple(r) for r in conn.execute(select(t).order_by(*order))]
    return out


def served(platform: Platform, rid: str, token: str) -> dict[str, Any]:
    with TestClient(create_app(platform=platform)) as c:
        return {
            "package": call(c, "package_show", token, id="spend"),
            "rows": call(c, "datastore_search", token, resource_id=rid, sort="id", limit=100),
            "search": [d["name"] for d in call(c, "package_search", token, q="spending",
                                               include_private=True)["results"]],
            "private": call(c, "package_show", token, id="care")["name"],
        }


def blobs(platform: Platform) -> dict[str, bytes]:
    return {sha: platform.files.blob_path(sha).read_bytes()
            for sha in platform.files.iter_blobs()}


def check_same(source: Platform, target: Platform, published: dict[str, Any]) -> None:
    assert all_rows(target) == all_rows(source)
    before = served(source, published["resource_id"], published["token"])
    after = served(target, published["resource_id"], published["token"])
    assert after == before
    assert len(after["rows"]["records"]) == 40 and after["search"] == ["spend"]
    source_files = blobs(source)
    assert len(source_files) == 2  # the uploaded CSV and its Parquet snapshot
    assert {k: v for k, v in blobs(target).items() if k in source_files} == source_files


# -- round trips ---------------------------------------------------------------------------------
def test_round_trip_same_rows_files_audit_and_api(platform, published, make_target, tmp_path):
    report = backup(platform, tmp_path / "city.tar")
    assert report.path == tmp_path / "city.tar" and report.files == 2
    with Archive(report.path) as archive:
        m = archive.manifest
        assert archive.check()["rows"] == report.rows
    assert m["backend"] == kind_of(platform) and m["schema_revision"] == current_revision(
        platform.db)
    assert m["audit"]["head_seq"] == report.audit_seq >= 4
    assert {f["sha256"] for f in m["files"]} == set(blobs(platform))

    target = make_target(kind_of(platform))
    result = restore(target, report.path)
    assert result.verification.ok, result.verification.problem
    assert result.verification.entries == report.audit_seq
    assert result.verification.head_hash == report.audit_hash
    # The node key came back (mode 0600), so the signed checkpoint was checked, not skipped.
    assert report.node_key and result.node_key == "restored"
    restored_key = key_path(target.settings)
    assert restored_key.read_bytes() == key_path(platform.settings).read_bytes()
    assert restored_key.stat().st_mode & 0o777 == 0o600
    assert result.verification.checkpoints == 1 and result.verification.checkpoints_unchecked == 0
    check_same(platform, target, published)
    # The restored instance keeps working: ids and sequences go on after the restored ones.
    with TestClient(create_app(platform=target)) as c:
        call(c, "package_create", published["token"], name="after-restore", owner_org="tfl")
        r = c.post(ACTION + "resource_create", data={"package_id": "after-restore"},
                   files={"upload": ("more.csv", CSV, "text/csv")},
                   headers={"Authorization": published["token"]})
        assert r.status_code == 200, r.text
    with target.db.engine.connect() as conn:
        assert audit.verify(conn).ok


def test_cross_backend_restore(platform, published, make_target, tmp_path):
    other = "postgresql" if kind_of(platform) == "sqlite" else "sqlite"
    report = backup(platform, tmp_path)  # a folder: a time-stamped file
    assert report.path.parent == tmp_path and report.path.name.startswith("citydata-")
    target = make_target(other)
    result = restore(target, report.path)
    assert result.verification.ok and result.backend == kind_of(platform)
    check_same(platform, target, published)


def test_restore_into_a_migrated_empty_database_then_force(platform, published, make_target,
                                                          tmp_path):
    from citydata.storage.migrate import upgrade

    path = backup(platform, tmp_path / "b.tar").path
    target = make_target(kind_of(platform))
    upgrade(target.db)
    create_key(target.settings)  # this node has a key of its own: it is kept, never replaced
    assert is_empty(target.db)
    first = restore(target, path)
    assert first.node_key == "kept" and first.verification.ok
    assert first.verification.checkpoints_unchecked == 1
    assert not is_empty(target.db)
    with pytest.raises(BackupError, match="already holds data.*--force"):
        restore(target, path)
    with target.db.session() as session:  # diverge, then replace everything with --force
        audit.stage(session, Actor.system(), "token.created", detail={})
    result = restore(target, path, force=True)
    assert result.verification.ok
    assert all_rows(target) == all_rows(platform)


def test_restore_moves_the_public_generation_past_both(platform, published, make_target,
                                                       tmp_path):
    """Server processes tag cached anonymous pages with the public generation; after a
    restore it must be a number neither the target's processes nor the source's have used,
    or a page from before the restore could be served as current."""
    from citydata.storage.migrate import upgrade

    path = backup(platform, tmp_path / "b.tar").path
    source = public_changes.current(platform.db.engine)
    target = make_target(kind_of(platform))
    upgrade(target.db)
    with target.db.engine.begin() as conn:  # a target whose processes have seen many writes
        conn.execute(text("UPDATE public_generation SET generation = :g"),
                     {"g": (source or 0) + 50})
    restore(target, path)
    assert public_changes.current(target.db.engine) > (source or 0) + 50
    # and a backup taken of an instance with a higher number than the target's
    with platform.db.engine.begin() as conn:
        conn.execute(text("UPDATE public_generation SET generation = 10000"))
    newer = backup(platform, tmp_path / "c.tar").path
    restore(target, newer, force=True)
    assert public_changes.current(target.db.engine) > 10000


# -- damaged archives ----------------------------------------------------------------------------
def rewrite(src: Path, dst: Path, change: Any) -> None:
    """Copy a tar archive member by member; ``change(name, data)`` returns new bytes, or None
    to leave the member out."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for member in tin.getmembers():
            data = change(member.name, tin.extractfile(member).read())  # type: ignore[union-attr]
            if data is None:
                continue
            member.size = len(data)
            tout.addfile(member, io.BytesIO(data))


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def _edit_a_row(data: bytes) -> bytes:
    return data.replace(b"Camden spend", b"Camden spent", 1)


@pytest.mark.parametrize("damage", ["file byte", "file removed", "table row", "table removed",
                                    "manifest removed", "audit head", "node key",
                                    "truncated"])
def test_a_damaged_archive_is_refused_and_the_target_stays_empty(platform, published,
                                                                  make_target, tmp_path, damage):
    good = backup(platform, tmp_path / "good.tar").path
    with Archive(good) as archive:
        sha = archive.manifest["files"][0]["sha256"]
    victim = {"file byte": file_member(sha), "file removed": file_member(sha),
              "table row": "tables/datasets.jsonl", "table removed": "tables/datasets.jsonl",
              "manifest removed": MANIFEST, "audit head": MANIFEST,
              "node key": KEY_MEMBER, "truncated": ""}[damage]

    def change(name: str, data: bytes) -> bytes | None:
        if name != victim:
            return data
        if damage in ("file byte", "node key"):
            return _flip_last_byte(data)
        if damage == "table row":
            return _edit_a_row(data)
        if damage == "audit head":  # found only after every row went in: all rolled back
            manifest = json.loads(data)
            manifest["audit"]["head_seq"] += 1
            return json.dumps(manifest).encode()
        return None

    bad = tmp_path / "bad.tar"
    if damage == "truncated":  # cut inside the stored files, after the tables
        bad.write_bytes(good.read_bytes()[:good.stat().st_size * 3 // 4])
    else:
        rewrite(good, bad, change)
    target = make_target(kind_of(platform))
    with pytest.raises(BackupError, match="damaged|missing|not a citydata backup") as exc:
        restore(target, bad)
    assert str(exc.value).startswith(("The backup is damaged", f"{bad} is not"))
    assert is_empty(target.db)
    if damage == "audit head":
        # The schema was created and the files stored (unreferenced: `citydata gc` removes
        # them) before the rows' transaction, which rolled back whole.
        assert current_revision(target.db) == head_revision()
        target.files.collect_garbage(set(), tmp_older_than=-1)
    else:
        assert current_revision(target.db) is None  # refused before anything was written
    assert blobs(target) == {}
    assert not key_path(target.settings).exists()
    if damage not in ("manifest removed", "audit head", "truncated"):
        with Archive(bad) as archive, pytest.raises(BackupError, match="damaged"):
            archive.check()


def test_a_newer_schema_or_format_is_refused(platform, make_target, tmp_path):
    good = backup(platform, tmp_path / "good.tar").path
    target = make_target(kind_of(platform))

    def manifest_with(**changes: Any):  # type: ignore[no-untyped-def]
        def change(name: str, data: bytes) -> bytes:
            return json.dumps(json.loads(data) | changes).encode() if name == MANIFEST else data
        return change

    rewrite(good, tmp_path / "newer.tar", manifest_with(schema_revision="9999"))
    with pytest.raises(BackupError, match=r"schema \(9999\) is newer than this version"):
        restore(target, tmp_path / "newer.tar")
    rewrite(good, tmp_path / "format.tar", manifest_with(format_version=99))
    with pytest.raises(BackupError, match="newer citydata"):
        restore(target, tmp_path / "format.tar")
    assert current_revision(target.db) is None and is_empty(target.db)


def test_a_backup_of_an_older_schema_is_restored_then_migrated(platform, published,
                                                               make_target, tmp_path):
    """A backup made at schema 0009 (before the planning tables of 0010 and the public
    generation of 0011): restore creates the schema at 0009, loads the rows, then migrates to
    this version's schema."""
    good = backup(platform, tmp_path / "now.tar").path
    # the tables of 0010 (planning) and 0011 (the public generation)
    planning = {t.name for t in Base.metadata.sorted_tables if t.name.startswith("planning_")}
    planning.add(public_changes.TABLE)

    def at_0009(name: str, data: bytes) -> bytes | None:
        if name == MANIFEST:
            manifest = json.loads(data)
            manifest["schema_revision"] = "0009"
            manifest["tables"] = [t for t in manifest["tables"] if t["name"] not in planning]
            return json.dumps(manifest).encode()
        return None if name.removeprefix("tables/").removesuffix(".jsonl") in planning else data

    rewrite(good, tmp_path / "old.tar", at_0009)
    target = make_target(kind_of(platform))
    result = restore(target, tmp_path / "old.tar")
    assert result.revision == "0009" and result.verification.ok
    assert current_revision(target.db) == head_revision()
    check_same(platform, target, published)


# -- consistency and crash safety ----------------------------------------------------------------
def test_a_backup_taken_while_writing_is_a_snapshot(platform, published, make_target, tmp_path):
    """A writer thread keeps appending audit entries and creating datasets throughout; and
    between dumping ``audit_head`` and ``audit_log`` one more write commits for certain. Read
    without a snapshot, the dumped log would run past its dumped head and fail the check."""
    from citydata.catalog import datasets
    from citydata.catalog.context import Ctx

    stop = threading.Event()
    wrote = {"n": 0}
    errors: list[BaseException] = []

    def write_once(i: int) -> None:
        with platform.db.session() as session:
            ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
            datasets.create_dataset(ctx, {"name": f"busy-{i}", "owner_org": "tfl"})
            audit.stage(session, Actor.system(), "token.created", detail={"i": i})
        wrote["n"] += 1

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                write_once(i)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return
            i += 1

    def between_tables(name: str, rows: int) -> None:
        if name == "audit_head":
            write_once(10_000)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        report = backup(platform, tmp_path / "busy.tar",
                        progress=between_tables)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    with Archive(report.path) as archive:
        m = archive.manifest
        counts = {t["name"]: t["rows"] for t in m["tables"]}
        for t in m["tables"]:  # the manifest's counts are its dumps' line counts
            assert archive.read_all(f"tables/{t['name']}.jsonl").count(b"\n") == t["rows"]
    assert counts["audit_log"] == m["audit"]["head_seq"]
    assert counts["dataset_search"] == counts["datasets"]  # one search document each
    with platform.db.engine.connect() as conn:
        now = conn.execute(text("SELECT seq FROM audit_head")).scalar()
    assert now > m["audit"]["head_seq"]  # the certain write landed after the snapshot
    target = make_target(kind_of(platform))
    result = restore(target, report.path)
    assert result.verification.ok, result.verification.problem
    assert result.verification.entries == counts["audit_log"]


def test_a_failed_backup_leaves_no_archive(platform, published, tmp_path):
    def fail(name: str, rows: int) -> None:
        if name == "datasets":
            raise RuntimeError("disk full")

    out = tmp_path / "backups"
    out.mkdir()
    with pytest.raises(RuntimeError):
        backup(platform, out / "b.tar", progress=fail)
    assert list(out.iterdir()) == []  # no archive, no temporary files
    assert backup(platform, out / "b.tar").path.exists()
    with pytest.raises(BackupError, match="already exists.*--force"):
        backup(platform, out / "b.tar")


# -- the command line ----------------------------------------------------------------------------
def cli(platform: Platform, *args: str, pause_at: str | None = None,
        background: bool = False) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    env.update({"CITYDATA_HOME": str(platform.settings.home),
                "CITYDATA_DATABASE_URL": platform.settings.database_url,
                "CITYDATA_POSTCODES": "none"})
    if pause_at:
        env["CITYDATA_PAUSE_AT"] = pause_at
    command = [sys.executable, "-m", "citydata.cli", *args]
    if background:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_cli_round_trip_and_clear_errors(platform, published, make_target, tmp_path):
    path = tmp_path / "cli.tar"
    out = cli(platform, "backup", str(path))
    assert out.returncode == 0, out.stderr
    assert "Backed up 45 tables" in out.stdout and "2 stored files" in out.stdout
    out = cli(platform, "restore", "--check", str(path))
    assert out.returncode == 0 and "is intact" in out.stdout, out.stderr

    target = make_target(kind_of(platform))
    out = cli(target, "restore", str(path))
    assert out.returncode == 0, out.stderr
    assert "Restored 45 tables" in out.stdout and "Audit log intact" in out.stdout
    assert "Restored the node key" in out.stdout and "1 signed checkpoint(s) valid" in out.stdout
    assert cli(target, "audit", "verify").returncode == 0
    assert all_rows(target) == all_rows(platform)

    out = cli(target, "restore", str(path))  # not empty any more
    assert out.returncode == 1 and "already holds data" in out.stderr
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not an archive" * 100)
    for bad, message in ((garbage, "is not a citydata backup"),
                         (tmp_path / "missing.tar", "There is no backup at")):
        out = cli(target, "restore", "--force", str(bad))
        assert out.returncode == 1 and message in out.stderr
        assert "Traceback" not in out.stderr
    out = cli(platform, "backup", str(path))
    assert out.returncode == 1 and "already exists" in out.stderr
    keyless = tmp_path / "keyless.tar"
    out = cli(platform, "backup", "--no-node-key", str(keyless))
    assert out.returncode == 0 and "no node key" in out.stdout, out.stderr
    other = make_target(kind_of(platform), "keyless")
    out = cli(other, "restore", str(keyless))
    assert out.returncode == 0 and "not checked (no node key)" in out.stdout, out.stderr
    assert not key_path(other.settings).exists()


def test_killed_backup_leaves_nothing_under_the_final_name(platform, published, tmp_path):
    path = tmp_path / "killed.tar"
    point = "backup-before-rename"
    proc = cli(platform, "backup", str(path), pause_at=point, background=True)
    marker = platform.settings.home / f"paused-{point}"
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists() and proc.poll() is None, "the backup never reached its rename"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not path.exists()
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir())  # a complete but unnamed


def test_the_guide_names_only_real_commands_and_options():
    """docs/backup.md stays true: each command it shows exists, and so does each --option."""
    import re

    import click

    from citydata.cli import main

    doc = (Path(__file__).resolve().parents[2] / "docs" / "backup.md").read_text()
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", doc, re.S)
                     + re.findall(r"`([^`\n]+)`", doc))
    named = set(re.findall(r"^\s*citydata ((?:[a-z][a-z-]+ ?){1,2})", code, re.M))
    assert {"backup", "restore", "audit verify"} <= {n.strip() for n in named}
    options: set[str] = set()
    ctx = click.Context(main)
    for words in named:
        command: click.Command = main
        for part in words.split():
            if not isinstance(command, click.Group):
                break  # a leaf command; the rest are its arguments
            found = command.get_command(ctx, part)
            assert found is not None, f"citydata {words}: no such command"
            command = found
        options |= {o for p in command.params for o in p.opts}
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", doc))
    assert mentioned and mentioned <= options, mentioned - options

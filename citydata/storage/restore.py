"""Restore a backup archive (see :mod:`citydata.storage.backup`) into an empty instance.

The steps, in the order that keeps the target whole whatever fails:

1. Read the manifest; refuse a backup whose schema revision this code does not know.
2. Refuse a target that already holds data (unless ``force``) or has another schema revision.
3. Check every table dump against the manifest's hash and row count, then copy every
   stored file into the file store's staging area, checking its SHA-256 and size;
   only when all match are they moved into place (content-addressed, so a file that is
   already there is kept, and a file of a restore that fails later is merely unreferenced).
4. Create the schema if the database has none, at the backup's revision.
5. In ONE transaction: empty every citydata table, insert every row (each table's dump is
   checked against the manifest's hash and row count), rebuild the full-text tables, move
   PostgreSQL's id sequences past the restored ids, and check the audit head is the one the
   manifest recorded. Any failure rolls the whole transaction back.
6. Migrate to this version's schema if the backup is older; install the backup's node key if
   this node has none; re-walk the audit chain (checking signed checkpoints with the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, column, inspect, select, table, text
from sqlalchemy.types import (
    JSON,
    Date,
    DateTime,
    LargeBinary,
    NullType,
    Numeric,
    Time,
    TypeEngine,
)

from citydata.access.audit import Verification
from citydata.storage import public_changes
from citydata.storage.backup import Archive, BackupError, Progress
from citydata.storage.database import Database
from citydata.storage.files import FileStore, StagedFile
from citydata.storage.migrate import _config, _known, current_revision, head_revision, upgrade
from citydata.storage.models import Base

if TYPE_CHECKING:
    from citydata.platform import Platform

BATCH = 2000
#: How to bind each codec's decoded values; "plain" values bind as they are.
BIND_TYPES: dict[str, type[TypeEngine[Any]]] = {
    "datetime": DateTime, "date": Date, "time": Time, "bytes": LargeBinary, "decimal": Numeric,
    "json": JSON}
#: Tables an empty, migrated database already has one row in (and its value when empty).
SINGLETONS = {"audit_head": "seq", "search_state": "seq"}


@dataclass
class RestoreReport:
    path: Path
    revision: str
    backend: str
    created: str
    tables: int
    rows: int
    files: int
    #: What became of the backup's node key: "restored", "same" (this node already had it),
    #: "kept" (this node has another key, which was kept) or "none" (the backup has none).
    node_key: str
    verification: Verification


def restore(platform: Platform, path: Path, *, force: bool = False,
            progress: Progress | None = None) -> RestoreReport:
    """Restore the backup at ``path`` into the platform's database, file store and node key,
    then re-walk the audit chain. ``force`` first empties a target that holds data."""
    from alembic.script import ScriptDirectory

    from citydata.access.audit import verify
    from citydata.access.keys import load_key

    db, files = platform.db, platform.files
    with Archive(path) as archive:
        manifest = archive.manifest
        revision = manifest["schema_revision"]
        if not _known(ScriptDirectory.from_config(_config()), revision):
            raise BackupError(f"The backup's schema ({revision}) is newer than this version of "
                              "citydata knows: restore it with the version that made it "
                              f"({manifest.get('citydata_version', '?')}) or a newer one")
        current = current_revision(db)
        if current is not None and current != revision:
            raise BackupError(f"The target database is at schema {current} but the backup at "
                              f"{revision}: restore into a new, empty database")
        if current is not None and not force and not is_empty(db):
            raise BackupError("The target database already holds data: restore into an empty "
                              "database, or pass --force to replace everything in it")
        for entry in manifest["tables"]:
            archive.check_table(entry)
        key = archive.node_key()
        try:
            _restore_files(archive, files)
        except OSError as exc:
            raise BackupError(f"Could not write to the file store ({files.root}): "
                              f"{exc.strerror or exc}") from None
        if current is None:
            upgrade(db, revision)
        latest = revision == head_revision()
        with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # one transaction, write lock up front
            rows = _restore_rows(conn, archive, manifest, progress)
            if latest:
                rebuild_search_text(conn)
    if not latest:
        upgrade(db)
        with db.engine.begin() as conn:
            rebuild_search_text(conn)
    key_outcome = _restore_key(platform, key)
    with db.engine.connect() as conn:
        verification = verify(conn, load_key(platform.settings))
    return RestoreReport(Path(path), revision, str(manifest.get("backend", "")),
                         str(manifest.get("created", "")), len(manifest["tables"]), rows,
                         len(manifest["files"]), key_outcome, verification)


def _restore_key(platform: Platform, key: bytes | None) -> str:
    """Install the backup's node key unless this node has one (never replaced silently)."""
    from citydata.access.keys import key_path, write_secret_file

    if key is None:
        return "none"
    path = key_path(platform.settings)
    if path.exists():
        return "same" if path.read_bytes() == key else "kept"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret_file(path, key)
    return "restored"


def is_empty(db: Database) -> bool:
    """True when no citydata table holds anything a fresh migration did not put there."""
    with db.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for t in Base.metadata.sorted_tables:
            if t.name not in present or t.name == public_changes.TABLE:
                continue  # (the public generation moves on with any write, a migration's too)
            if t.name in SINGLETONS:
                found = conn.execute(select(t.c[SINGLETONS[t.name]])).scalars().all()
                if any(found):
                    return False
            elif conn.execute(select(t).limit(1)).first() is not None:
                return False
    return True


def _restore_files(archive: Archive, files: FileStore) -> None:
    staged: list[StagedFile] = []
    try:
        for entry in archive.manifest["files"]:
            writer = files.writer(max_bytes=entry["size"] + 1)
            try:
                archive.check_file(entry, writer.write)
            except BaseException:
                writer.abort()
                raise
            staged.append(writer.finish())
        for s in staged:
            files.commit(s)
    finally:
        for s in staged:
            files.discard(s)  # a no-op for those committed (moved away)


def _restore_rows(conn: Connection, archive: Archive, manifest: dict[str, Any],
                  progress: Progress | None) -> int:
    known = {t.name: t for t in Base.metadata.sorted_tables}
    present = set(inspect(conn).get_table_names())
    live = public_changes.read(conn)
    for name, t in reversed(known.items()):
        if name in present:
            conn.execute(t.delete())
    for derived in ("dataset_fts", "dataset_tsv"):
        if derived in present:
            conn.exec_driver_sql(f"DELETE FROM {derived}")
    total = 0
    for entry in manifest["tables"]:
        name = entry["name"]
        if name not in known or name not in present:
            raise BackupError(f"The backup has a table this database lacks ({name})")
        target = table(name, *[column(c, BIND_TYPES.get(codec, NullType)())
                               for c, codec in zip(entry["columns"], entry["codecs"],
                                                   strict=True)])
        batch: list[dict[str, Any]] = []
        for row in archive.rows(entry):
            batch.append(row)
            if len(batch) >= BATCH:
                conn.execute(target.insert(), batch)
                batch = []
        if batch:
            conn.execute(target.insert(), batch)
        total += entry["rows"]
        if progress:
            progress(name, entry["rows"])
    if conn.dialect.name == "postgresql":
        _reset_sequences(conn, [e["name"] for e in manifest["tables"]])
    if public_changes.TABLE in present:
        public_changes.move_past(conn, live, public_changes.read(conn))
    head = conn.exec_driver_sql("SELECT seq, hash FROM audit_head WHERE id = 1").first()
    want = manifest["audit"]
    if head is None or (int(head.seq), head.hash) != (want["head_seq"], want.get("head_hash")):
        raise BackupError("The backup is damaged: its audit log head does not match the "
                          "manifest")
    return total


def _reset_sequences(conn: Connection, names: list[str]) -> None:
    """Rows came with explicit ids, which leave PostgreSQL's sequences behind: move each past
    the largest id so the next insert does not collide."""
    for name in names:
        for col in Base.metadata.tables[name].primary_key.columns:
            seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": f'"{name}"', "c": col.name}).scalar()
            if seq:
                conn.execute(text(
                    f'SELECT setval(:s, coalesce((SELECT max("{col.name}") FROM "{name}"), 0) '
                    "+ 1, false)"), {"s": seq})


def rebuild_search_text(conn: Connection) -> None:
    """Refill the backend's full-text table from ``dataset_search`` (which is backed up)."""
    from citydata.catalog.search import PG_TSV_INSERT

    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DELETE FROM dataset_fts")
        conn.exec_driver_sql(
            "INSERT INTO dataset_fts(rowid, dataset_id, name, title, notes, tags, organization) "
            "SELECT doc_id, dataset_id, name, title, notes, tags, organization "
            "FROM dataset_search WHERE doc_id IS NOT NULL")
    else:
        conn.exec_driver_sql("DELETE FROM dataset_tsv")
        conn.exec_driver_sql(PG_TSV_INSERT + " WHERE doc_id IS NOT NULL")

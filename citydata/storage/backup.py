"""Backups: one archive holding a consistent snapshot of the database, the stored files and the
audit chain's head, restorable on either backend (see :mod:`citydata.storage.restore`).

An archive is a plain tar file::

    manifest.json                 format, versions, schema revision, per-table columns, row
                                  counts and SHA-256, the stored files (hash, size), audit head
    tables/<table>.jsonl          one JSON array per row, columns in manifest order
    files/sha256/ab/<sha256>      every stored file a resource version points at
    keys/node_ed25519.pem         the node key, if the node has one (unless left out)

Consistency: every table is read inside one read transaction (PostgreSQL: REPEATABLE READ,
READ ONLY; SQLite: one BEGIN on one connection in WAL mode), so the dump is the database as of
one instant even while the server keeps writing. Stored files are content-addressed and moved
into place before any row points at them, so every file the snapshot refers to exists and
never changes; copying them after the snapshot is therefore consistent with it.

Crash safety: the archive is written under a temporary name beside the target, fsynced, and
renamed into place, so a crash mid-backup never leaves a half archive under the final name.

What is *not* in a backup because it is rebuilt from what is: the full-text tables
(``dataset_fts`` on SQLite, ``dataset_tsv`` on PostgreSQL, rebuilt on restore from
``dataset_search``), the spatial feature stores (PostGIS tables or SQLite files, rebuilt on
first use from the snapshots), and the in-memory facet index.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    Float,
    LargeBinary,
    Numeric,
    Table,
    Time,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from citydata.errors import CitydataError
from citydata.faults import pause_point
from citydata.storage.database import Database
from citydata.storage.files import CHUNK, FileStore, fsync_dir
from citydata.storage.migrate import head_revision
from citydata.storage.models import Base
from citydata.storage.models_access import AuditHead

if TYPE_CHECKING:
    from citydata.platform import Platform

FORMAT = "citydata-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
KEY_MEMBER = "keys/node_ed25519.pem"
#: Called after each table is dumped with its name and row count.
Progress = Callable[[str, int], None]


class BackupError(CitydataError):
    """A backup that cannot be written, or an archive that cannot be restored."""

    code = "backup_error"


@dataclass
class BackupReport:
    path: Path
    tables: int
    rows: int
    files: int
    file_bytes: int
    audit_seq: int
    audit_hash: str
    node_key: bool


# -- values: exact, portable JSON ---------------------------------------------------------------
def codec_of(type_: TypeEngine[Any]) -> str:
    """How a column's values are written: ``plain`` JSON, or a tagged text form."""
    if isinstance(type_, DateTime):
        return "datetime"
    if isinstance(type_, Date):
        return "date"
    if isinstance(type_, Time):
        return "time"
    if isinstance(type_, LargeBinary):
        return "bytes"
    if isinstance(type_, Numeric) and not isinstance(type_, Float):
        return "decimal"
    if isinstance(type_, JSON):
        return "json"  # written as JSON, bound as JSON on restore
    return "plain"  # strings, integers, floats (repr round-trips), booleans


ENCODE: dict[str, Callable[[Any], Any]] = {
    "datetime": lambda v: v.isoformat(),
    "date": lambda v: v.isoformat(),
    "time": lambda v: v.isoformat(),
    "bytes": lambda v: base64.b64encode(bytes(v)).decode("ascii"),
    "decimal": str,
    "json": lambda v: v,
    "plain": lambda v: v,
}
DECODE: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "bytes": base64.b64decode,
    "decimal": Decimal,
    "json": lambda v: v,
    "plain": lambda v: v,
}


def table_member(name: str) -> str:
    return f"tables/{name}.jsonl"


def file_member(sha256: str) -> str:
    return f"files/sha256/{sha256[:2]}/{sha256}"


def is_sha256(value: object) -> bool:
    return (isinstance(value, str) and len(value) == 64
            and all(c in "0123456789abcdef" for c in value))


def citydata_version() -> str:
    try:
        return version("citydata")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


# -- the snapshot --------------------------------------------------------------------------------
@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction that sees the database as of one instant, on either backend."""
    if db.dialect == "postgresql":
        conn = db.engine.connect().execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True)
        try:
            with conn.begin():
                yield conn
        finally:
            conn.close()
        return
    with db.engine.connect() as conn:
        # pysqlite opens no transaction for reads, so each SELECT would see the newest data;
        # an explicit BEGIN pins the WAL snapshot at the first read for all that follow.
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def _revision(conn: Connection) -> str | None:
    try:
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except Exception:  # no alembic_version table: never migrated
        return None


def _dump_table(conn: Connection, table: Table, out: Path) -> dict[str, Any]:
    columns = list(table.columns)
    codecs = [codec_of(c.type) for c in columns]
    encoders = [ENCODE[c] for c in codecs]
    digest = hashlib.sha256()
    rows = 0
    order = list(table.primary_key.columns) or columns
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(*columns).order_by(*order))
    with open(out, "wb") as fh:
        for row in result:
            values = [None if v is None else enc(v) for enc, v in zip(encoders, row, strict=True)]
            try:
                line = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
            except (TypeError, ValueError) as exc:
                raise BackupError(f"Table {table.name} holds a value the backup format "
                                  f"cannot write ({exc})") from None
            line += b"\n"
            digest.update(line)
            fh.write(line)
            rows += 1
    return {"name": table.name, "columns": [c.name for c in columns], "codecs": codecs,
            "rows": rows, "sha256": digest.hexdigest(), "bytes": out.stat().st_size}


def _referenced_files(conn: Connection) -> list[str]:
    # The same definition of "in use" as `citydata gc`, read in the snapshot.
    from citydata.catalog.resources import referenced_blobs

    with Session(bind=conn) as session:
        return sorted(referenced_blobs(session))


def archive_path(path: Path) -> Path:
    """PATH itself, or a time-stamped file inside PATH when it is a directory."""
    path = Path(path)
    if path.is_dir():
        return path / f"citydata-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar"
    return path


def backup(platform: Platform, path: Path, *, overwrite: bool = False,
           node_key: bool = True, progress: Progress | None = None) -> BackupReport:
    """Write a consistent backup of the platform's database, stored files and (unless
    ``node_key`` is false) node key to ``path``."""
    from citydata.access.keys import key_path

    target = archive_path(path)
    if target.exists() and not overwrite:
        raise BackupError(f"{target} already exists: choose another name, or pass --force "
                          "to replace it")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent} does not exist")
    key_file = key_path(platform.settings)
    key = key_file.read_bytes() if node_key and key_file.is_file() else None
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".citydata-backup-") as work:
            manifest = _dump(platform, Path(work), progress)
            if key is not None:
                manifest["node_key"] = {"sha256": hashlib.sha256(key).hexdigest()}
            dumps = [Path(work) / f"{i:03d}.jsonl" for i in range(len(manifest["tables"]))]
            _write_archive(target, manifest, dumps, platform.files, key)
    except OSError as exc:  # disk full, permissions: the operator's to fix, not a traceback
        raise BackupError(f"Could not write the backup to {target}: "
                          f"{exc.strerror or exc}") from None
    tables, stored, audit = manifest["tables"], manifest["files"], manifest["audit"]
    return BackupReport(target, len(tables), sum(t["rows"] for t in tables), len(stored),
                        sum(f["size"] for f in stored), audit["head_seq"], audit["head_hash"],
                        key is not None)


def _dump(platform: Platform, work: Path, progress: Progress | None) -> dict[str, Any]:
    """Dump every table into ``work`` from one snapshot; returns the manifest."""
    head = head_revision()
    tables: list[dict[str, Any]] = []
    with snapshot(platform.db) as conn:
        revision = _revision(conn)
        if revision is None:
            raise BackupError("The database has no citydata schema: nothing to back up")
        if revision != head:
            raise BackupError(f"The database schema ({revision}) is not this version's "
                              f"({head}): run `citydata db upgrade` first")
        for i, table in enumerate(Base.metadata.sorted_tables):
            tables.append(_dump_table(conn, table, work / f"{i:03d}.jsonl"))
            if progress:
                progress(table.name, tables[-1]["rows"])
        audit = conn.execute(select(AuditHead.seq, AuditHead.hash)
                             .where(AuditHead.id == 1)).one()
        shas = _referenced_files(conn)
    stored: list[dict[str, Any]] = []
    for sha in shas:
        blob = platform.files.blob_path(sha)
        if not blob.is_file():
            raise BackupError(f"The stored file {sha} is missing from the file store, "
                              "so this backup could not be restored whole")
        stored.append({"sha256": sha, "size": blob.stat().st_size})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "citydata_version": citydata_version(),
        "schema_revision": revision,
        "backend": platform.db.dialect,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": tables,
        "files": stored,
        "audit": {"head_seq": int(audit.seq), "head_hash": audit.hash},
        "node_key": None,
    }


# -- the archive ---------------------------------------------------------------------------------
def _info(name: str, size: int, mtime: float, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), mode
    return info


class _HashingReader:
    """Reads a file through SHA-256, so a damaged stored file is caught while it is copied."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.hash = fh, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.hash.update(data)
        return data


def _write_archive(target: Path, manifest: dict[str, Any], dumps: list[Path],
                   files: FileStore, key: bytes | None) -> None:
    now = datetime.now(UTC).timestamp()
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with open(part, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
                body = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
                tar.addfile(_info(MANIFEST, len(body), now), io.BytesIO(body))
                if key is not None:
                    tar.addfile(_info(KEY_MEMBER, len(key), now, 0o600), io.BytesIO(key))
                for table, dump in zip(manifest["tables"], dumps, strict=True):
                    with open(dump, "rb") as src:
                        tar.addfile(_info(table_member(table["name"]), table["bytes"], now), src)
                for f in manifest["files"]:
                    with files.open(f["sha256"]) as blob:
                        reader = _HashingReader(blob)
                        tar.addfile(_info(file_member(f["sha256"]), f["size"], now), reader)
                    if reader.hash.hexdigest() != f["sha256"]:
                        raise BackupError(f"The stored file {f['sha256']} is damaged: its "
                                          "content no longer matches its hash")
            fh.flush()
            os.fsync(fh.fileno())
        pause_point("backup-before-rename")
        os.replace(part, target)
        fsync_dir(target.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise




class Archive:
    """A backup archive opened for reading; every member is checked against the manifest."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise BackupError(f"There is no backup at {self.path}")
        try:
            self.tar = tarfile.open(self.path, mode="r:")  # noqa: SIM115 - closed in close()
            self.members = {m.name: m for m in self.tar.getmembers()}
        except (tarfile.TarError, OSError, EOFError):
            raise BackupError(f"{self.path} is not a citydata backup: it cannot be read as a "
                              "tar archive (truncated or damaged?)") from None
        try:
            self.manifest = self._manifest()
        except BaseException:
            self.tar.close()
            raise

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.read_all(MANIFEST))
        except ValueError:
            raise BackupError(f"The manifest of {self.path} is damaged") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{self.path} is not a citydata backup (no citydata manifest)")
        if not isinstance(manifest.get("format_version"), int) or \
                manifest["format_version"] > FORMAT_VERSION:
            raise BackupError(f"{self.path} was written by a newer citydata (backup format "
                              f"{manifest.get('format_version')}); upgrade citydata to restore it")
        try:
            for t in manifest["tables"]:
                assert isinstance(t["name"], str) and isinstance(t["rows"], int)
                assert len(t["columns"]) == len(t["codecs"]) and isinstance(t["sha256"], str)
                assert all(c in DECODE for c in t["codecs"])
            for f in manifest["files"]:
                assert is_sha256(f["sha256"]) and isinstance(f["size"], int)
            assert isinstance(manifest["audit"]["head_seq"], int)
            assert isinstance(manifest["schema_revision"], str)
            key = manifest.get("node_key")
            assert key is None or is_sha256(key["sha256"])
        except (KeyError, TypeError, AssertionError):
            raise BackupError(f"The manifest of {self.path} is damaged or incomplete") from None
        return manifest

    @contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        """A member for reading; a truncated archive is reported as damaged, not as a
        low-level tar error."""
        member = self.members.get(name)
        fh = self.tar.extractfile(member) if member is not None else None
        if fh is None:
            raise BackupError(f"The backup is damaged: {name} is missing from it")
        try:
            with fh:
                yield fh
        except (tarfile.TarError, OSError, EOFError):
            raise BackupError(f"The backup is damaged: {name} is cut short (the archive "
                              "was truncated?)") from None

    def read_all(self, name: str) -> bytes:
        with self.open(name) as fh:
            return fh.read()

    def rows(self, table: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The table's rows, decoded; raises once the dump is read if its hash or row count
        differs from the manifest (a caller restoring in a transaction rolls back)."""
        name, columns = table["name"], table["columns"]
        decoders = [DECODE[c] for c in table["codecs"]]
        digest, count = hashlib.sha256(), 0
        with self.open(table_member(name)) as fh:
            for line in fh:  # binary lines: split on b"\n" only, which JSON always escapes
                digest.update(line)
                try:
                    values = json.loads(line)
                    row = {c: None if v is None else dec(v)
                           for c, dec, v in zip(columns, decoders, values, strict=True)}
                except (ValueError, TypeError):
                    raise BackupError(f"The backup is damaged: table {name} has an "
                                      f"unreadable row ({count + 1})") from None
                count += 1
                yield row
        if digest.hexdigest() != table["sha256"] or count != table["rows"]:
            raise BackupError(f"The backup is damaged: table {name} does not match its "
                              "manifest (changed or truncated)")

    def check_table(self, table: dict[str, Any]) -> None:
        """Check one table's dump against the manifest's hash and row count (without parsing
        it, so a restore can refuse a damaged archive before it changes anything)."""
        digest, count = hashlib.sha256(), 0
        with self.open(table_member(table["name"])) as fh:
            for line in fh:
                digest.update(line)
                count += 1
        if digest.hexdigest() != table["sha256"] or count != table["rows"]:
            raise BackupError(f"The backup is damaged: table {table['name']} does not match "
                              "its manifest (changed or truncated)")

    def check_file(self, entry: dict[str, Any], sink: Callable[[bytes], None] | None = None
                   ) -> None:
        """Read one stored file, passing its bytes to ``sink``; raises if it is not exactly
        what the manifest lists."""
        sha, size = entry["sha256"], entry["size"]
        digest, seen = hashlib.sha256(), 0
        with self.open(file_member(sha)) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                seen += len(chunk)
                if sink:
                    sink(chunk)
        if seen != size or digest.hexdigest() != sha:
            raise BackupError(f"The backup is damaged: stored file {sha[:16]}… does not match "
                              "its hash")

    def node_key(self) -> bytes | None:
        """The node key in the archive (checked against the manifest), or None."""
        entry = self.manifest.get("node_key")
        if entry is None:
            return None
        key = self.read_all(KEY_MEMBER)
        if hashlib.sha256(key).hexdigest() != entry["sha256"]:
            raise BackupError("The backup is damaged: its node key does not match the manifest")
        return key

    def check(self) -> dict[str, int]:
        """Verify every table dump and stored file against the manifest; nothing is written."""
        rows = 0
        for table in self.manifest["tables"]:
            rows += sum(1 for _ in self.rows(table))
        for entry in self.manifest["files"]:
            self.check_file(entry)
        self.node_key()
        return {"tables": len(self.manifest["tables"]), "rows": rows,
                "files": len(self.manifest["files"])}

    def close(self) -> None:
        self.tar.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

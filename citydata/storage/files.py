"""Content-addressed file store on the local disk.

An upload is streamed into a staging file (never held whole in memory), hashed while it is
written, checked against the size limit, fsynced, and only then moved into place with an
atomic rename under ``sha256/ab/<hash>``. A crash at any point leaves either nothing or a
staging file that :meth:`FileStore.collect_garbage` removes; a database row is only written
after the file is in place, so no row ever points at a missing file.

With an object store (``remote``, see :mod:`citydata.storage.objects`) the bucket is the store
of record and this directory a cache in front of it: a commit uploads before it returns, a
read of a file this host does not hold downloads and verifies it first, and garbage
collection removes unreferenced objects from the bucket and trims the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from citydata.errors import NotFound, PayloadTooLarge

log = logging.getLogger("citydata.files")

if TYPE_CHECKING:
    from citydata.storage.objects import S3Objects

CHUNK = 1024 * 1024


@dataclass
class StagedFile:
    """A fully received upload waiting to be committed."""

    path: Path
    sha256: str
    size: int
    filename: str = ""
    content_type: str = ""
    #: The first bytes, kept for type sniffing.
    head: bytes = b""


class _Writer:
    def __init__(self, store: FileStore, max_bytes: int, filename: str, content_type: str):
        self.store = store
        self.max_bytes = max_bytes
        self.path = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in finish/abort
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.filename = filename
        self.content_type = content_type

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            self.abort()
            raise PayloadTooLarge(
                f"The file is larger than the upload limit of {self.max_bytes:,} bytes"
            )
        if len(self.head) < 8192:
            self.head += chunk[: 8192 - len(self.head)]
        self.hash.update(chunk)
        self.fh.write(chunk)

    def finish(self) -> StagedFile:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        return StagedFile(
            self.path, self.hash.hexdigest(), self.size, self.filename, self.content_type, self.head
        )

    def abort(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        self.path.unlink(missing_ok=True)


class FileStore:
    def __init__(self, root: Path, remote: S3Objects | None = None,
                 cache_max_bytes: int = 0) -> None:
        self.root = Path(root)
        self.remote = remote
        #: With a remote: ``collect_garbage`` trims cached copies to this size (0: no limit).
        self.cache_max_bytes = cache_max_bytes
        self.tmp_dir = self.root / "tmp"
        self.blob_dir = self.root / "sha256"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.blob_dir.mkdir(parents=True, exist_ok=True)

    # -- staging -------------------------------------------------------------------------------
    def writer(self, max_bytes: int, filename: str = "", content_type: str = "") -> _Writer:
        """A low-level staging writer for adapters that parse streams themselves."""
        return _Writer(self, max_bytes, filename, content_type)

    def stage(
        self,
        chunks: Iterable[bytes] | BinaryIO,
        *,
        max_bytes: int,
        filename: str = "",
        content_type: str = "",
    ) -> StagedFile:
        w = self.writer(max_bytes, filename, content_type)
        try:
            if hasattr(chunks, "read"):
                reader = chunks  # a file object
                while chunk := reader.read(CHUNK):
                    w.write(chunk)
            else:
                for chunk in chunks:
                    w.write(chunk)
            return w.finish()
        except BaseException:
            w.abort()
            raise

    async def stage_async(
        self,
        chunks: AsyncIterable[bytes],
        *,
        max_bytes: int,
        filename: str = "",
        content_type: str = "",
    ) -> StagedFile:
        w = self.writer(max_bytes, filename, content_type)
        try:
            async for chunk in chunks:
                w.write(chunk)
            return w.finish()
        except BaseException:
            w.abort()
            raise

    def discard(self, staged: StagedFile) -> None:
        staged.path.unlink(missing_ok=True)

    # -- committed blobs -----------------------------------------------------------------------
    def local_path(self, sha256: str) -> Path:
        """Where the file is (or would be) on this host's disk; no download."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFound("No such file")
        return self.blob_dir / sha256[:2] / sha256

    def blob_path(self, sha256: str) -> Path:
        """A local path to read the file from. With a remote, a file this host does not hold
        yet is downloaded (and verified) first. A file that is nowhere is NotFound (and an error
        in the log: a stored file the catalog refers to should never go missing)."""
        path = self.local_path(sha256)
        if not path.is_file():
            try:
                if self.remote is None:
                    raise NotFound("The stored file is missing")
                self.remote.fetch(sha256, path, self.tmp_dir)
            except NotFound:
                log.error("stored file %s is missing", sha256)
                raise
        return path

    def commit(self, staged: StagedFile) -> str:
        """Move a staged file into place (atomic rename); identical content is stored once.
        With a remote, the file is in the bucket before this returns."""
        target = self.local_path(staged.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.remote is not None:
            source = target if target.exists() else staged.path
            self.remote.put(staged.sha256, source, staged.size or source.stat().st_size)
        if target.exists():
            staged.path.unlink(missing_ok=True)
            os.utime(target)  # freshly wanted again: garbage collection must give it time
        else:
            os.replace(staged.path, target)
            fsync_dir(target.parent)
        return staged.sha256

    def commit_path(self, path: Path) -> str:
        """Hash a finished file we wrote ourselves (on this file system) and move it into place,
        without copying it through a staging file first."""
        digest = hashlib.sha256()
        size = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
            os.fsync(fh.fileno())
        return self.commit(StagedFile(Path(path), digest.hexdigest(), size))

    def exists(self, sha256: str) -> bool:
        if self.local_path(sha256).is_file():
            return True
        return self.remote is not None and self.remote.head(sha256) is not None

    def open(self, sha256: str) -> BinaryIO:
        try:
            return open(self.blob_path(sha256), "rb")  # noqa: SIM115 - caller closes
        except FileNotFoundError:  # evicted from the cache (or deleted) a moment ago
            log.error("stored file %s went missing while being opened", sha256)
            raise NotFound("The stored file is missing") from None

    def iter_bytes(self, sha256: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The file's bytes. It is opened here, before the first chunk is asked for, so a
        streamed response can fail with a clean 404 before it starts (not halfway through)."""
        return read_chunks(self.open(sha256), chunk_size)

    def iter_blobs(self) -> Iterator[str]:
        """Every stored file's hash (the bucket's, with a remote)."""
        if self.remote is not None:
            for obj in self.remote.list():
                yield obj.sha256
            return
        yield from self._cached()

    def _cached(self) -> Iterator[str]:
        for sub in self.blob_dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    yield f.name

    def collect_garbage(self, referenced: set[str], *, tmp_older_than: float = 3600) -> dict:
        """Remove stale staging files and blobs no version refers to.

        A blob is moved into place before the row that refers to it commits, so a blob is
        only removed once it is also older than ``tmp_older_than``: an upload committing right
        now (whose row ``referenced`` cannot show yet) keeps its file.
        """
        removed_tmp = removed_blobs = 0
        now = time.time()
        for f in self.tmp_dir.iterdir():
            if now - f.stat().st_mtime > tmp_older_than:
                if f.is_dir():  # an ingest work directory left by a killed process
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink(missing_ok=True)
                removed_tmp += 1
        if self.remote is not None:
            return {"tmp": removed_tmp, **self._collect_remote(referenced, now, tmp_older_than)}
        for sha in list(self.iter_blobs()):
            path = self.local_path(sha)
            if sha not in referenced and now - path.stat().st_mtime > tmp_older_than:
                path.unlink(missing_ok=True)
                removed_blobs += 1
        return {"tmp": removed_tmp, "blobs": removed_blobs}

    def _collect_remote(self, referenced: set[str], now: float, older_than: float) -> dict:
        assert self.remote is not None
        removed = 0
        for obj in list(self.remote.list()):
            if obj.sha256 not in referenced and now - obj.modified.timestamp() > older_than:
                self.remote.delete(obj.sha256)
                self.local_path(obj.sha256).unlink(missing_ok=True)
                removed += 1
        # The cache: copies of unreferenced files go (the object is gone or going); then the
        # least recently used until the cache fits. Every copy is safe in the bucket.
        evicted = 0
        cached = []
        for sha in list(self._cached()):
            path = self.local_path(sha)
            if sha not in referenced and now - path.stat().st_mtime > older_than:
                path.unlink(missing_ok=True)
                evicted += 1
            else:
                st = path.stat()
                cached.append((max(st.st_atime, st.st_mtime), st.st_size, path))
        total = sum(size for _, size, _ in cached)
        if self.cache_max_bytes > 0:
            for _, size, path in sorted(cached):
                if total <= self.cache_max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
                evicted += 1
        return {"blobs": removed, "cache_evicted": evicted, "cache_bytes": total}


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (fsync the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_chunks(fh: BinaryIO, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """An open file's bytes in chunks; closes it at the end (or when the reader stops)."""
    with fh:
        while chunk := fh.read(chunk_size):
            yield chunk

"""Stored files in S3-compatible object storage (AWS S3, MinIO, Ceph, Garage, ...).

The bucket is the file store of record; the local file store becomes a cache in front of it.
A committed file is uploaded (and its size checked) *before* the database row that points at
it commits, so no row ever points at an object that is not there; a file read on a host that
does not hold it yet is downloaded into its cache, re-hashed, and only then renamed into place,
so a damaged or substituted object is refused, never served. DuckDB and the downloads read
local files, as they always do.

Objects are named like the local store: ``<prefix>sha256/ab/<hash>``. Credentials come from
the usual AWS chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance
role), never from citydata's own settings, so they are not in its configuration or logs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from citydata.errors import NotFound, Unavailable

log = logging.getLogger("citydata.objects")

CHUNK = 1024 * 1024


class StorageUnavailable(Unavailable):
    """The object store did not answer, or refused us: the operation is not done (503)."""


@dataclass(frozen=True)
class RemoteObject:
    sha256: str
    size: int
    modified: datetime


class S3Objects:
    """One bucket (and key prefix) of an S3-compatible service."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str = "",
                 region: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self._client = client
        self._region = region
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "s3", endpoint_url=self.endpoint_url or None,
                    region_name=self._region or None,
                    # Extra checksums only where the API requires them: several S3-compatible
                    # services refuse the newer ones, and every read is re-hashed anyway.
                    config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                  connect_timeout=5, read_timeout=60,
                                  request_checksum_calculation="when_required",
                                  response_checksum_validation="when_required"))
            return self._client

    def key(self, sha256: str) -> str:
        return f"{self.prefix}sha256/{sha256[:2]}/{sha256}"

    @contextmanager
    def _answers(self, what: str) -> Iterator[None]:
        """The service's failures as our errors: a missing object is NotFound, anything else
        StorageUnavailable (503). Which bucket and endpoint go to the log, not to the user."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise NotFound("The stored file is missing") from None
            log.warning("object store %r: %s failed: %s", self, what, code or type(exc).__name__)
            raise StorageUnavailable(
                f"The file store refused to {what}; nothing was changed") from None
        except BotoCoreError as exc:
            log.warning("object store %r: %s failed: %s", self, what, type(exc).__name__)
            raise StorageUnavailable("The file store did not answer; nothing was changed") from None

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        with self._answers(what):
            return fn(Bucket=self.bucket, **kwargs)

    # -- what the file store uses ---------------------------------------------------------------
    def head(self, sha256: str) -> RemoteObject | None:
        try:
            meta = self._call("look up a file", self.client.head_object, Key=self.key(sha256))
        except NotFound:
            return None
        return RemoteObject(sha256, int(meta["ContentLength"]), meta["LastModified"])

    def put(self, sha256: str, path: Path, size: int) -> None:
        """Upload ``path`` under its hash, unless an object of that hash and size is there."""
        found = self.head(sha256)
        if found is not None and found.size == size:
            return
        with open(path, "rb") as fh:
            self._call("store a file", self.client.put_object, Key=self.key(sha256), Body=fh,
                       ContentLength=size)
        stored = self.head(sha256)
        if stored is None or stored.size != size:
            log.warning("object store %r: %s was stored with another size", self, sha256)
            raise StorageUnavailable("The file store did not keep the file whole; "
                                     "nothing was changed")

    def fetch(self, sha256: str, target: Path, tmp_dir: Path) -> None:
        """Download the object into ``target``: via a staging file, re-hashed, then renamed."""
        part = tmp_dir / f"{uuid.uuid4().hex}.fetch"
        digest = hashlib.sha256()
        try:
            answer = self._call("read a file", self.client.get_object, Key=self.key(sha256))
            body = answer["Body"]
            with open(part, "wb") as fh:
                while chunk := body.read(CHUNK):
                    digest.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if digest.hexdigest() != sha256:
                log.error("object store: %s holds other content than its name says", sha256)
                raise StorageUnavailable(
                    "A stored file failed its integrity check (its content does not match its "
                    "hash) and was not used; an operator must restore it from a backup")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def delete(self, sha256: str) -> None:
        self._call("remove a file", self.client.delete_object, Key=self.key(sha256))

    def list(self) -> Iterator[RemoteObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list files", paginator.paginate, Prefix=f"{self.prefix}sha256/")
        with self._answers("list files"):  # the pages are fetched while iterating
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if len(name) == 64:
                        yield RemoteObject(name, int(obj["Size"]), obj["LastModified"])

    def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers (for /readyz)."""
        self._call("answer", self.client.head_bucket)

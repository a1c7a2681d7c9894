"""Liveness and readiness checks for load balancers and orchestrators.

Liveness only says the process answers. Readiness says this process can do its work: the
database answers, its schema is the one this code expects, and the file store takes writes.
A failed check's reason is kept short and generic (the endpoint is public); the details go
to the log.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from citydata.platform import Platform
from citydata.storage.migrate import current_revision, head_revision

log = logging.getLogger("citydata.health")


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["status"] == "ok" for c in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "fail", "checks": self.checks}


def _failed(check: str, reason: str, exc: Exception) -> dict[str, Any]:
    log.warning("readiness check %s failed: %s: %s", check, type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "")
    return {"status": "fail", "reason": reason}


def check_database(platform: Platform) -> dict[str, Any]:
    try:
        with platform.db.engine.connect() as conn:
            conn.execute(text("SELECT 1")).scalar()
    except Exception as exc:
        return _failed("database", "the database did not answer", exc)
    return {"status": "ok", "backend": platform.db.dialect}


def check_schema(platform: Platform, head: str) -> dict[str, Any]:
    try:
        current = current_revision(platform.db)
    except Exception as exc:
        return _failed("schema", "the schema version could not be read", exc)
    if current != head:
        return {"status": "fail", "revision": current or "", "head": head,
                "reason": "the database schema is not the one this version of citydata "
                          "expects; run `citydata db upgrade` (or upgrade citydata if the "
                          "schema is newer)"}
    return {"status": "ok", "revision": current, "head": head}


def check_files(platform: Platform) -> dict[str, Any]:
    try:
        platform.files.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=platform.files.tmp_dir, prefix="readyz-",
                                         suffix=".part") as probe:
            probe.write(b"ok")
            probe.flush()
    except Exception as exc:
        return _failed("files", "the file store is not writable", exc)
    if platform.files.remote is not None:
        try:
            platform.files.remote.check()
        except Exception as exc:
            return _failed("files", "the object store did not answer", exc)
        return {"status": "ok", "object_store": "s3"}
    return {"status": "ok"}


def readiness(platform: Platform, head: str | None = None) -> Readiness:
    """Run every check (each one, even after another failed) and collect the results."""
    result = Readiness()
    result.checks["database"] = check_database(platform)
    if result.checks["database"]["status"] == "ok":
        result.checks["schema"] = check_schema(platform, head or head_revision())
    else:
        result.checks["schema"] = {"status": "fail", "reason": "the database did not answer"}
    result.checks["files"] = check_files(platform)
    return result

"""Kill -9 a real citydata process inside a critical section, then check what survived.

A :class:`Node` is one citydata home and database (the ``settings`` fixture: SQLite and
PostgreSQL) served by real ``citydata serve`` processes or driven by real CLI processes. With
``pause_at`` the process stops at that :func:`citydata.faults.pause_point` and writes its
marker; :meth:`Node.kill_when_paused` waits for the marker and kills the process with SIGKILL,
so the kill provably lands inside the section. :meth:`Node.assert_recovered` then checks the
invariants every operation must keep: after ``citydata gc`` no stored blob lacks a version row
(and none that a row needs is gone), no staging file is left, and the audit chain verifies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from citydata.access.actors import Actor
from citydata.catalog.resources import referenced_blobs
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.models_access import AuditEntry
from tests.access.conftest import governed  # noqa: F401  (the access tests' governed catalog)
from tests.conftest import free_port

#: How long a test waits for a process to reach its pause point or to start serving.
WAIT_S = 60.0


@dataclass
class Node:
    settings: Settings
    platform: Platform
    port: int = field(default_factory=free_port)
    server: subprocess.Popen | None = None
    #: Requests started in the background (they hang at the pause point until the kill).
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, pause_at: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
        env.update({
            "CITYDATA_HOME": str(self.home),
            "CITYDATA_DATABASE_URL": self.settings.database_url,
            "CITYDATA_POSTCODES": "none",
            "CITYDATA_JOBS_INTERVAL_SECONDS": "0",  # nothing runs but what the test asks for
            "CITYDATA_WEBHOOK_INTERVAL_SECONDS": "0",
        })
        if pause_at:
            env["CITYDATA_PAUSE_AT"] = pause_at
        return env

    # -- processes ------------------------------------------------------------------------------
    def start(self, pause_at: str | None = None) -> subprocess.Popen:
        """Serve on this node's port (``pause_at``: stopping at that pause point)."""
        assert self.server is None, "the node is already serving"
        proc = subprocess.Popen(
            [sys.executable, "-m", "citydata.cli", "serve", "--port", str(self.port)],
            env=self.env(pause_at), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.server = proc
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/api/3/action/status_show").status_code == 200:
                    return proc
            except httpx.TransportError:
                time.sleep(0.2)
        self.kill(proc)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        """Stop the server normally (SIGTERM)."""
        if self.server is not None:
            self.server.terminate()
            self.server.wait()
            self.server = None

    def kill(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc is self.server:
            self.server = None

    def cli(self, *args: str, pause_at: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess:
        out = subprocess.run([sys.executable, "-m", "citydata.cli", *args],
                             env=self.env(pause_at), capture_output=True, text=True,
                             timeout=300)
        if check and out.returncode != 0:
            raise AssertionError(f"citydata {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
        return out

    def cli_in_background(self, *args: str, pause_at: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "citydata.cli", *args],
                                env=self.env(pause_at), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def kill_when_paused(self, proc: subprocess.Popen, point: str) -> None:
        """Wait until ``proc`` sits at pause point ``point``, then kill -9 it there."""
        marker = self.home / f"paused-{point}"
        deadline = time.monotonic() + WAIT_S
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), f"the process never reached the pause point {point!r}"
        assert marker.read_text() == str(proc.pid), "another process paused there"
        assert proc.poll() is None, "the process left the pause point before the kill"
        self.kill(proc)
        marker.unlink()
        for t in self.threads:
            t.join()
        self.threads.clear()

    # -- requests -------------------------------------------------------------------------------
    def post(self, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(f"{self.base}{path}", headers={"Authorization": token},
                          timeout=WAIT_S, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": token} if token else {}
        return httpx.get(f"{self.base}{path}", headers=headers, timeout=WAIT_S, **kwargs)

    def post_in_background(self, path: str, token: str, **kwargs: Any) -> None:
        """Send a request that will never be answered (the server dies at a pause point)."""

        def send() -> None:
            with contextlib.suppress(httpx.TransportError):  # killed mid-request: the point
                self.post(path, token, **kwargs)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        self.threads.append(t)

    def action(self, name: str, token: str | None = None, **params: Any) -> dict:
        """A CKAN action's ``result`` (GET), asserting it succeeded."""
        r = self.get(f"/api/3/action/{name}", token, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json()["result"])

    # -- what is stored -------------------------------------------------------------------------
    def blobs(self) -> set[str]:
        return {p.name for p in (self.home / "files" / "sha256").rglob("*") if p.is_file()}

    def staging(self) -> list[Path]:
        return list((self.home / "files" / "tmp").iterdir())

    def referenced(self) -> set[str]:
        with self.platform.db.session() as session:
            return referenced_blobs(session)

    def audit_actions(self) -> list[str]:
        with self.platform.db.session() as session:
            return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))

    def gc(self) -> str:
        return str(self.cli("gc", "--staging-age", "0").stdout.strip())

    def assert_recovered(self) -> str:
        """After gc: every stored blob has its row and every row its blob, no staging file is
        left, and the audit chain verifies. Returns what gc reported."""
        report = self.gc()
        referenced = self.referenced()
        assert self.blobs() == referenced, "gc left an orphan blob, or a row lost its file"
        assert self.staging() == []
        verified = self.cli("audit", "verify", check=False)
        assert verified.returncode == 0, verified.stderr
        assert "Audit log intact" in verified.stdout
        return report


@pytest.fixture
def node(settings: Settings, platform: Platform) -> Iterator[Node]:
    n = Node(settings, platform)
    yield n
    if n.server is not None:
        n.kill(n.server)


@pytest.fixture
def publisher(make_ctx: Callable[..., Any]) -> str:
    """A sysadmin ``ed`` and the organisation ``camden``; returns ed's API token."""
    from citydata.catalog import organizations, users

    with make_ctx() as ctx:
        system = Actor.system()
        users.create_user(ctx.session, "ed", "ed@example.org", "ed-pass-123", sysadmin=True)
        organizations.create_organization(ctx.session, system,
                                          {"name": "camden", "title": "Camden", "kind": "borough"})
        return str(users.create_token(ctx.session, system, "ed", name="crash-tests"))


def wait_for(condition: Callable[[], bool]) -> None:
    """Wait (at most :data:`WAIT_S`) until ``condition()`` holds; the caller asserts it."""
    deadline = time.monotonic() + WAIT_S
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def csv_bytes(rows: int, *, start: int = 1) -> bytes:
    """A small table of street trees, ``rows`` long."""
    lines = ["tree_id,species,height_m"]
    lines += [f"T{i:05d},{('Plane', 'Lime', 'Oak')[i % 3]},{5 + i % 20}"
              for i in range(start, start + rows)]
    return ("\n".join(lines) + "\n").encode()

"""Kill -9 the real server in the middle of an upload: nothing half-written survives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "citydata.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/3/action/status_show").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


def cli(env: dict, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "citydata.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_kill_mid_upload_leaves_no_resource_and_gc_cleans(settings, tmp_path):
    env = {
        **os.environ,
        "CITYDATA_HOME": str(settings.home),
        "CITYDATA_DATABASE_URL": settings.database_url,
        "CITYDATA_POSTCODES": "none",
    }
    cli(env, "init")
    cli(
        env,
        "user",
        "create",
        "ed",
        "--email",
        "ed@example.org",
        "--password",
        "ed-pass-123",
        "--sysadmin",
    )
    token = cli(env, "token", "create", "ed")
    cli(env, "org", "create", "camden")
    port = free_port()
    proc = start_server(env, port)
    base = f"http://127.0.0.1:{port}/api/3/action"
    try:
        r = httpx.post(
            f"{base}/package_create",
            headers={"Authorization": token},
            json={"name": "big-upload", "owner_org": "camden"},
        )
        assert r.status_code == 200
        # Start a 20 MB multipart upload by hand, send 2 MB of it, then kill the server.
        boundary = "citydataboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="package_id"\r\n\r\n'
            f'big-upload\r\n--{boundary}\r\nContent-Disposition: form-data; name="upload"; '
            f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            (
                f"POST /api/3/action/resource_create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {token}\r\nContent-Type: multipart/form-data; boundary={boundary}"
                f"\r\nContent-Length: {len(head) + 20_000_000}\r\n\r\n"
            ).encode()
            + head
        )
        for _ in range(32):
            sock.sendall(b"x" * 65536)
        staging = Path(settings.home) / "files" / "tmp"
        deadline = time.time() + 10
        while not any(staging.glob("*.part")) and time.time() < deadline:
            time.sleep(0.05)
        assert any(staging.glob("*.part")), "the upload should be streaming to a staging file"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    sock.close()

    proc = start_server(env, port)
    try:
        shown = httpx.get(f"{base}/package_show?id=big-upload").json()["result"]
        assert shown["resources"] == []  # no half resource, no orphan row
    finally:
        proc.terminate()
        proc.wait()
    blobs = Path(settings.home) / "files" / "sha256"
    assert not any(p for p in blobs.rglob("*") if p.is_file())
    assert "Removed 1 staging files" in cli(env, "gc", "--staging-age", "0")
    assert not any(staging.iterdir())

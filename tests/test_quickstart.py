"""The README's Quick start, run as written: `make run` serves the demo London platform.

`make test` is the other README command; CI runs it, so this file covers `make run` (twice: the
second run must be quick and change nothing).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def readme_commands() -> list[str]:
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README has a Quick start code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_is_make_run_and_make_test():
    assert readme_commands() == ["make run", "make test"]


def run_until_serving(home: Path, port: int) -> tuple[subprocess.Popen, float, str]:
    """Start `make run` and wait until it answers; return the process, seconds and log."""
    env = {**os.environ, "CITYDATA_HOME": str(home), "CITYDATA_POSTCODES": "london"}
    env.pop("CITYDATA_DATABASE_URL", None)
    log = home.parent / f"run-{port}.log"
    started = time.time()
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while time.time() - started < 600:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/3/action/status_show", timeout=2)
            if r.status_code == 200:
                return proc, time.time() - started, log.read_text()
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(1)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    raise AssertionError(f"make run did not serve:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def test_make_run_serves_the_london_demo_and_is_idempotent(tmp_path):
    home = tmp_path / "var"
    port = free_port()
    proc, _, _ = run_until_serving(home, port)
    base = f"http://127.0.0.1:{port}"
    try:
        found = httpx.get(
            f"{base}/api/3/action/package_search",
            params={"rows": 0, "facet.field": '["organization"]', "facet.limit": "-1"},
        ).json()["result"]
        assert found["count"] >= 300
        assert len(found["facets"]["organization"]) >= 40
        orgs = httpx.get(f"{base}/api/3/action/organization_list").json()["result"]
        assert {"camden-council", "westminster-council", "city-of-london"} & set(orgs)
        assert httpx.get(f"{base}/").status_code == 200
        assert httpx.get(f"{base}/catalog.ttl").status_code == 200
    finally:
        stop(proc)
    db_before = (home / "citydata.db").stat().st_size

    proc, _, log = run_until_serving(home, port)
    try:
        again = httpx.get(f"{base}/api/3/action/package_search?rows=0").json()["result"]
        assert again["count"] == found["count"]  # nothing added the second time
    finally:
        stop(proc)
    # The second run recognises everything as loaded instead of redoing it.
    assert "demo catalog: up to date" in log and "datasets: 0" in log
    assert (home / "citydata.db").stat().st_size == db_before

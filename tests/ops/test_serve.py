"""``citydata serve`` as operators run it: a real uvicorn with two worker processes in
production mode, JSON logs on stderr and Prometheus multiprocess metrics."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
#: How long to wait for the workers to start (not a timing assertion).
PATIENCE = 90.0


def _wait_until_serving(proc: subprocess.Popen, base: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while True:
        assert proc.poll() is None, "citydata serve exited early"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "citydata serve did not start"
        time.sleep(0.2)


def test_serve_in_production_writes_json_logs_and_sums_metrics_over_workers(
        settings, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "CITYDATA_ENV": "production",  # JSON logs by default
        "CITYDATA_SECRET_KEY": secrets.token_urlsafe(48),
        "CITYDATA_HOME": str(settings.home),
        "CITYDATA_DATABASE_URL": settings.database_url,
        "CITYDATA_POSTCODES": "none",
        "CITYDATA_NODE_MODULES": str(settings.node_modules),
        "CITYDATA_JOBS_INTERVAL_SECONDS": "0",
        "CITYDATA_WEBHOOK_INTERVAL_SECONDS": "0",
        "CITYDATA_HOST": "127.0.0.1",
        "CITYDATA_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    env.pop("CITYDATA_LOG_FORMAT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "citydata.cli", "serve", "--workers", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_serving(proc, base)
        ids = [f"ops-test-{i}" for i in range(6)]
        with httpx.Client(base_url=base, timeout=20) as http:
            for request_id in ids:  # new connections: the kernel spreads them over workers
                r = http.get("/api/3/action/package_list?api_key=query-secret",
                             headers={"X-Request-ID": request_id, "Authorization": token,
                                      "Connection": "close"})
                assert r.status_code in (200, 403)  # an unknown token: refused, not a 500
                assert r.headers["x-request-id"] == request_id
            scraped = http.get("/metrics").text
    finally:
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=60)

    counted = sum(
        s.value for f in text_string_to_metric_families(scraped) for s in f.samples
        if s.name == "citydata_http_requests_total"
        and s.labels["route"] == "/api/3/action/{name}")
    assert counted == len(ids)  # whichever worker answered the scrape
    assert any(f.name == "citydata_audit_chain_length"
               for f in text_string_to_metric_families(scraped))

    assert stdout.strip() == ""
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
    access = {line["request_id"]: line for line in lines if line["logger"] == "citydata.access"}
    assert set(ids) <= set(access)
    assert all(access[i]["route"] == "/api/3/action/{name}" for i in ids)
    assert not any(line["logger"] == "uvicorn.access" for line in lines)
    assert "Started server process" in stderr  # uvicorn's own lines, in the same format
    assert token not in stderr and "query-secret" not in stderr

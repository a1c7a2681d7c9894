"""Server-Sent Events through a real uvicorn server, on both backends: live events, resuming
with Last-Event-ID (also across a kill -9 of the server), filters, keep-alives, and the
subscription ending when the client goes or the server stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from citydata.events.hub import Hub
from tests.conftest import free_port
from tests.events.conftest import add
from tests.events.sse_client import SSE

ROOT = Path(__file__).resolve().parents[2]
#: How long a read waits before the test fails (never a timing assertion).
PATIENCE = 20.0
SSE_ACCEPT = {"Accept": "text/event-stream"}


def subscribers(platform) -> int:
    return sum(h.subscriber_count for h in Hub.existing(platform))


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_follow_live_then_resume_with_last_event_id(events_platform, live_server):
    p = events_platform
    add(p, 2)  # history: not sent to a client that gives no resume point
    url = f"{live_server}/api/v1/events/testfeed"
    with httpx.Client(timeout=PATIENCE) as http:
        with http.stream("GET", url, headers=SSE_ACCEPT) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["x-accel-buffering"] == "no"
            sse = SSE(r)
            assert sse.message() == {"retry": "3000"}  # subscribed before this was sent
            new = add(p, 3, type="thing.changed")
            got = [sse.event() for _ in range(3)]
            assert [m["id"] for m in got] == new
            assert [m["event"] for m in got] == ["thing.changed"] * 3
            first = got[0]["data"]
            assert first["created_at"].endswith("Z")
            assert {k: v for k, v in first.items() if k != "created_at"} == {
                "id": new[0], "stream": "testfeed", "type": "thing.changed", "key": "thing-0",
                "data": {"ward": "north", "i": 0}}
            assert subscribers(p) == 1
        # The client went away: the server's generator ends and unsubscribes.
        wait_for(lambda: subscribers(p) == 0, "the server to notice the disconnect")

        with http.stream("GET", url, headers={**SSE_ACCEPT, "Last-Event-ID": str(new[0])}) as r:
            sse = SSE(r)
            assert sse.message() == {"retry": "3000"}
            assert sse.ids(2) == new[1:]
            live = add(p, 1)
            assert sse.ids(1) == live


def test_query_parameters_resume_and_filter(events_platform, live_server):
    p = events_platform
    north = add(p, 2, ward="north")
    south = add(p, 2, ward="south")
    with httpx.Client(timeout=PATIENCE) as http, http.stream(
        "GET", f"{live_server}/api/v1/events/testfeed",
        params={"format": "sse", "after": "0", "ward": "south"},
    ) as r:
        sse = SSE(r)
        assert sse.ids(2) == south
        add(p, 1, ward="north")
        later = add(p, 1, ward="south")
        assert sse.ids(1) == later
    with httpx.Client(timeout=PATIENCE) as http, http.stream(
        "GET", f"{live_server}/api/v1/events/testfeed",
        params={"format": "sse", "last_event_id": str(north[0])}, headers=SSE_ACCEPT,
    ) as r:
        assert SSE(r).ids(3) == [north[1], *south]


def test_a_quiet_stream_sends_keep_alives(events_platform, live_server):
    events_platform.settings.events_keepalive_seconds = 0.2
    with httpx.Client(timeout=PATIENCE) as http, http.stream(
            "GET", f"{live_server}/api/v1/events/testfeed", headers=SSE_ACCEPT) as r:
        sse = SSE(r)
        assert sse.message() == {"retry": "3000"}
        assert sse.message() == {"comments": ["keep-alive"]}
        new = add(events_platform, 1)
        assert sse.event()["id"] == new[0]


# ---------------------------------------------------------------- across a server restart


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.events.server:app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/events").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError("the server exited")
    proc.kill()
    raise RuntimeError("the server did not start")


@pytest.fixture
def server_env(events_platform, tmp_path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CITYDATA_ENV": "test",
        "CITYDATA_HOME": str(tmp_path / "server-home"),
        "CITYDATA_DATABASE_URL": events_platform.settings.database_url,
        "CITYDATA_POSTCODES": "none",
        "CITYDATA_JOBS_INTERVAL_SECONDS": "0",
        # SQLite: this test appends from another process, which only the poll can see.
        "CITYDATA_EVENTS_POLL_SECONDS": "0.2",
    }


def test_resume_after_the_server_is_killed_gets_exactly_what_was_missed(
        events_platform, server_env):
    p = events_platform
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/events/testfeed"
    proc = start_server(server_env, port)
    try:
        with httpx.Client(timeout=PATIENCE) as http:
            with http.stream("GET", url, headers=SSE_ACCEPT) as r:
                sse = SSE(r)
                assert sse.message() == {"retry": "3000"}
                seen = add(p, 3)
                assert sse.ids(3) == seen
                proc.kill()  # SIGKILL: no shutdown, the connection just breaks
                proc.wait(timeout=PATIENCE)
                with pytest.raises((httpx.TransportError, EOFError)):
                    sse.message()
            missed = add(p, 2, ward="south") + add(p, 2, ward="east")

            proc = start_server(server_env, port)
            with http.stream("GET", url,
                             headers={**SSE_ACCEPT, "Last-Event-ID": str(seen[-1])}) as r:
                sse = SSE(r)
                assert sse.message() == {"retry": "3000"}
                assert sse.ids(4) == missed
                after = add(p, 1)
                assert sse.ids(1) == after  # live again, nothing twice
                # A graceful stop ends the open stream instead of waiting for the client.
                proc.send_signal(signal.SIGTERM)
                with pytest.raises(EOFError):
                    sse.message()
                # uvicorn re-raises the signal once it has shut down cleanly.
                assert proc.wait(timeout=PATIENCE) in (0, -signal.SIGTERM)
    finally:
        proc.kill()
        proc.wait(timeout=PATIENCE)

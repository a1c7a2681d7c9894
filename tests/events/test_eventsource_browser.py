"""A real browser's EventSource (Chromium, through Playwright) against our real server: it
receives events live, and when the server ends the stream it reconnects by itself with
Last-Event-ID and gets exactly what it missed.

SQLite only, like the other browser tests: the backends' differences are covered by
test_sse.py and test_hub.py on both.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citydata.events.hub import Hub
from tests.events.conftest import add

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PATIENCE_MS = 20_000

FOLLOW = """() => {
  window.got = []; window.opens = 0;
  const source = new EventSource("/api/v1/events/testfeed?type=thing.made");
  source.onopen = () => { window.opens += 1; };
  source.addEventListener("thing.made", (e) => {
    window.got.push({id: Number(e.lastEventId), event: JSON.parse(e.data)});
  });
}"""


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    target = tmp_path / "citydata.db"
    shutil.copy(sqlite_template, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def page(events_platform, live_server):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run `make system-deps` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page()
        pg.set_default_timeout(PATIENCE_MS)
        yield pg
        browser.close()


def end_server_streams(platform) -> None:  # type: ignore[no-untyped-def]
    """Close every subscription on the server's hub, in its event loop: the responses end."""
    for hub in Hub.existing(platform):
        def close_all(hub: Hub = hub) -> None:
            for subs in list(hub._subs.values()):
                for sub in list(subs):
                    sub.close()

        hub.loop.call_soon_threadsafe(close_all)


def test_eventsource_follows_and_resumes_by_itself(page, events_platform, live_server):
    p = events_platform
    requests: list = []
    page.on("request", lambda r: requests.append(r)
            if "/api/v1/events/testfeed" in r.url else None)
    page.goto(f"{live_server}/api/v1/events")  # our origin: EventSource is same-origin
    page.evaluate(FOLLOW)
    page.wait_for_function("() => window.opens === 1")

    first = add(p, 2, type="thing.made")
    add(p, 1, type="thing.changed")  # not what this page asked for
    page.wait_for_function("() => window.got.length === 2")

    end_server_streams(p)
    deadline = time.monotonic() + PATIENCE_MS / 1000
    while sum(h.subscriber_count for h in Hub.existing(p)):
        assert time.monotonic() < deadline, "the server did not end the stream"
        time.sleep(0.02)
    missed = add(p, 2, type="thing.made")  # while the browser waits to reconnect
    page.wait_for_function("() => window.opens === 2 && window.got.length === 4")

    got = page.evaluate("() => window.got")
    assert [g["id"] for g in got] == first + missed
    assert [g["event"]["id"] for g in got] == first + missed
    assert {g["event"]["type"] for g in got} == {"thing.made"}
    asked = [r.all_headers() for r in requests]
    assert len(asked) == 2 and "last-event-id" not in asked[0]
    assert asked[1]["last-event-id"] == str(first[-1])
    assert asked[1]["accept"] == "text/event-stream"

"""The dispatcher loop in the server process: started by the application's lifespan, woken by
new events, unharmed by a failing pass, and stopped cleanly on shutdown."""

from __future__ import annotations

import logging
import time

from fastapi.testclient import TestClient

from citydata.app import create_app
from citydata.events import webhook_store
from citydata.events.hub import Hub
from tests.webhooks.conftest import add, subscribe
from tests.webhooks.receiver import Behaviour


def wait_for(check, what: str, limit: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll until ``check()`` holds (a deadline against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_the_server_delivers_new_events_and_stops_cleanly(platform, receiver, monkeypatch,
                                                          caplog):
    platform.settings.webhook_interval_seconds = 0.05
    subscribe(platform, receiver, "live", {"kind": "tree"})
    real_claim = webhook_store.claim_batches
    failures = {"left": 1}

    def claim_failing_once(*args):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("the database went away")
        return real_claim(*args)

    monkeypatch.setattr(webhook_store, "claim_batches", claim_failing_once)
    caplog.set_level(logging.ERROR, logger="citydata.webhooks")
    with TestClient(create_app(platform=platform)) as client:
        assert client.get("/api/v1/events").status_code == 200
        wait_for(lambda: failures["left"] == 0, "the failing pass")
        ids = add(platform, "tree", "bench", "tree")
        wait_for(lambda: sorted(receiver.ids("live")) == [ids[0], ids[2]], "the deliveries")
        more = add(platform, "tree")
        wait_for(lambda: more[0] in receiver.ids("live"), "the next delivery")
    assert "webhook dispatch failed" in caplog.text  # logged, and the loop went on
    assert Hub.existing(platform) == []  # shut down: the hub it waited on is closed
    assert all(a.verified for a in receiver.at("live"))


def test_the_loop_is_off_when_the_interval_is_zero(platform, receiver):
    platform.settings.webhook_interval_seconds = 0
    subscribe(platform, receiver, "off")
    with TestClient(create_app(platform=platform)):
        add(platform, "tree")
    # Nothing ran it: the event is still after the cursor for `dispatch-once` to send.
    from tests.webhooks.conftest import dispatch

    assert receiver.ids("off") == []
    assert dispatch(platform)["delivered"] == 1


def test_a_hanging_endpoint_holds_up_only_itself(platform, receiver):
    """Each subscription's batch is its own task: while one endpoint hangs (for longer than
    this test waits), the others get event after event; shutting down gives its lease back."""
    from citydata.storage.models_webhooks import WebhookSubscription

    platform.settings.webhook_interval_seconds = 0.05
    platform.settings.webhook_timeout_seconds = 60
    receiver.behaviour["/stuck"] = Behaviour(hang=True)
    stuck = subscribe(platform, receiver, "stuck")
    subscribe(platform, receiver, "quick")
    with TestClient(create_app(platform=platform)):
        for _ in range(3):
            (event_id,) = add(platform, "tree")
            wait_for(lambda e=event_id: e in receiver.ids("quick"), f"event {event_id}")
        assert receiver.ids("stuck")[:1] == receiver.ids("quick")[:1]  # it is being sent
        with platform.db.session() as session:
            assert session.get(WebhookSubscription, stuck).lease_owner != ""
    with platform.db.session() as session:
        row = session.get(WebhookSubscription, stuck)
        assert row.lease_owner == "" and row.cursor < event_id  # nothing skipped

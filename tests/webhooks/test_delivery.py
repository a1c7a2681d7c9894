"""The dispatcher against real receivers over HTTP, on both backends: what is sent, signed how,
retried when, given up on when, replayed, paused, and what survives a restart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from citydata.events import webhooks
from citydata.events.webhook_signing import signature
from citydata.platform import Platform
from citydata.storage.models import utcnow
from citydata.storage.models_webhooks import WebhookDelivery
from tests.webhooks.conftest import add, dispatch, queue, show, subscribe, system_ctx, with_streams
from tests.webhooks.receiver import Behaviour


def delivery_rows(platform: Platform) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0)


def test_only_matching_events_arrive_signed_and_first_successes_leave_no_row(
        platform, receiver):
    trees = subscribe(platform, receiver, "trees", {"kind": "tree"})
    everything = subscribe(platform, receiver, "all")
    ids = add(platform, "tree", "bench", "tree", "lamp", "tree")
    report = dispatch(platform)
    assert report["subscriptions"] == 2 and report["delivered"] == 8

    tree_ids = [i for i, k in zip(ids, ["tree", "bench", "tree", "lamp", "tree"], strict=True)
                if k == "tree"]
    assert sorted(receiver.ids("trees")) == tree_ids
    assert sorted(receiver.ids("all")) == ids
    for arrival in receiver.at("trees") + receiver.at("all"):
        assert arrival.verified, arrival.headers
        assert arrival.attempt == 1
        assert arrival.headers["content-type"] == "application/json"
        assert arrival.headers["user-agent"].startswith("citydata-webhooks/")
        assert arrival.headers["citydata-event-type"] == "thing.made"
        event = arrival.event
        assert event["id"] == arrival.event_id and event["stream"] == "whtest"
        assert set(event) == {"id", "stream", "type", "key", "created_at", "data"}
    # Each subscription's own secret signs its deliveries.
    other = receiver.secrets["/all"]
    first = receiver.at("trees")[0]
    assert not webhooks.verify_signature(other, first.headers["citydata-signature"], first.body)

    assert show(platform, trees)["cursor"] == ids[-1] == show(platform, everything)["cursor"]
    assert show(platform, trees)["delivered"] == 3 and show(platform, everything)["failed"] == 0
    assert delivery_rows(platform) == 0  # successes at the first attempt are not rows
    # Nothing new: the next pass sends nothing.
    assert dispatch(platform)["sent"] == 0 and len(receiver.ids("all")) == 5


def test_a_subscription_starts_at_the_next_event(platform, receiver):
    before = add(platform, "tree")
    sub = subscribe(platform, receiver, "late")
    assert show(platform, sub)["cursor"] == before[-1]
    after = add(platform, "tree")
    dispatch(platform)
    assert receiver.ids("late") == after


def test_signature_rules():
    body = b'{"id":1,"data":{"kind":"tree"}}'
    header = signature("whsec_k", body, 1_700_000_000)
    at = 1_700_000_100.0
    assert webhooks.verify_signature("whsec_k", header, body, now=at)
    assert webhooks.verify_signature("whsec_k", header, body.decode(), now=at)
    assert not webhooks.verify_signature("whsec_k", header, body + b" ", now=at)  # tampered
    assert not webhooks.verify_signature("whsec_k", header, body.replace(b"tree", b"bush"),
                                         now=at)
    assert not webhooks.verify_signature("whsec_other", header, body, now=at)
    assert not webhooks.verify_signature("whsec_k", header, body, now=at + 300)  # too old
    assert webhooks.verify_signature("whsec_k", header, body, tolerance=600, now=at + 300)
    # The timestamp is covered by the MAC: moving it forward breaks the signature.
    moved = header.replace("t=1700000000", "t=1700000100")
    assert not webhooks.verify_signature("whsec_k", moved, body, now=at)
    # Several v1 values (a rotated secret): one matching is enough.
    assert webhooks.verify_signature("whsec_k", header.replace(",v1=", ",v1=00ff,v1="), body,
                                     now=at)
    for bad in ("", "t=1700000000", "v1=abc", "t=x,v1=abc", "garbage", "t=1700000000,v1=é"):
        assert not webhooks.verify_signature("whsec_k", bad, body, now=at)


def test_a_tampered_delivery_does_not_verify(platform, receiver):
    subscribe(platform, receiver, "t")
    add(platform, "tree")
    dispatch(platform)
    (arrival,) = receiver.at("t")
    secret = receiver.secrets["/t"]
    assert webhooks.verify_signature(secret, arrival.headers["citydata-signature"], arrival.body)
    event = arrival.event
    event["data"]["kind"] = "bench"
    tampered = json.dumps(event, separators=(",", ":")).encode()
    assert not webhooks.verify_signature(secret, arrival.headers["citydata-signature"],
                                         tampered)


def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(platform, receiver):
    base = platform.settings.webhook_retry_base_seconds
    receiver.behaviour["/flaky"] = Behaviour(fail_first=2)
    sub = subscribe(platform, receiver, "flaky")
    (event_id,) = add(platform, "tree")

    start = utcnow()
    report = dispatch(platform, now=start)
    assert report["failed"] == 1 and report["handed_over"] == 1
    (row,) = queue(platform, sub)
    assert row["status"] == "retrying" and row["attempts"] == 1
    assert row["last_status_code"] == 503 and row["last_error"] == "HTTP 503"
    assert row["next_attempt_at"] == (start + timedelta(seconds=base)).isoformat() + "Z"
    assert show(platform, sub)["cursor"] == event_id  # handed over: queued for retry

    # Not due yet: nothing is sent.
    assert dispatch(platform, now=start + timedelta(seconds=base - 1))["sent"] == 0
    second = start + timedelta(seconds=base)
    assert dispatch(platform, now=second)["failed"] == 1
    (row,) = queue(platform, sub)
    assert row["attempts"] == 2
    assert row["next_attempt_at"] == (second + timedelta(seconds=2 * base)).isoformat() + "Z"

    third = second + timedelta(seconds=2 * base)
    assert dispatch(platform, now=third)["delivered"] == 1
    assert [a.attempt for a in receiver.at("flaky")] == [1, 2, 3]
    assert all(a.verified for a in receiver.at("flaky"))
    (row,) = queue(platform, sub)
    assert row["status"] == "delivered" and row["attempts"] == 3 and row["next_attempt_at"] is None
    info = show(platform, sub)
    assert (info["delivered"], info["failed"], info["retrying"], info["dead"]) == (1, 2, 0, 0)
    # Delivered: it is not sent again, however late it gets.
    assert dispatch(platform, now=third + timedelta(days=30))["sent"] == 0


def test_backoff_doubles_up_to_the_cap(settings):
    settings.webhook_retry_base_seconds = 10
    settings.webhook_retry_cap_seconds = 3600
    assert [webhooks.backoff_seconds(n, settings) for n in range(1, 11)] == [
        10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert webhooks.backoff_seconds(100, settings) == 3600


def test_a_receiver_that_always_fails_ends_in_the_dead_letters(platform, receiver):
    platform.settings.webhook_max_attempts = 3
    receiver.behaviour["/down"] = Behaviour(status=500)
    receiver.behaviour["/up"] = Behaviour()
    down = subscribe(platform, receiver, "down")
    up = subscribe(platform, receiver, "up")
    ids = add(platform, "tree", "bench")
    clock = utcnow()
    dispatch(platform, now=clock)
    for _ in range(5):  # more passes than attempts: it stops at 3
        clock += timedelta(hours=2)
        dispatch(platform, now=clock)
    assert sorted(receiver.ids("down")) == sorted(ids * 3)
    assert sorted(receiver.ids("up")) == ids  # the healthy subscription is not held up
    assert show(platform, up)["delivered"] == 2 and queue(platform, up) == []
    dead = queue(platform, down, "dead")
    assert [d["event_id"] for d in dead] == ids
    assert all(d["attempts"] == 3 and d["last_status_code"] == 500 and
               d["next_attempt_at"] is None for d in dead)
    assert queue(platform, down, "retrying") == []
    info = show(platform, down)
    assert info["dead"] == 2 and info["failed"] == 6 and info["delivered"] == 0
    assert info["last_error"].endswith("HTTP 500")


def test_unreachable_and_hanging_receivers_fail_and_others_go_on(platform, receiver):
    from tests.conftest import free_port

    platform.settings.webhook_timeout_seconds = 0.5
    receiver.behaviour["/hang"] = Behaviour(hang=True)
    hang = subscribe(platform, receiver, "hang")
    ok = subscribe(platform, receiver, "ok")
    with platform.db.session() as session:
        closed = webhooks.create(platform, system_ctx(platform, session), {
            "stream": "whtest", "url": f"http://127.0.0.1:{free_port()}/nobody"}).id
    (event_id,) = add(platform, "tree")
    report = dispatch(platform)
    assert report["delivered"] == 1 and report["failed"] == 2 and report["errors"] == 0
    assert receiver.ids("ok") == [event_id]
    (timed_out,) = queue(platform, hang)
    assert timed_out["last_error"] == "No answer within 0.5 s"
    assert timed_out["last_status_code"] is None
    (refused,) = queue(platform, closed)
    assert refused["last_error"].startswith("Could not deliver: ConnectError")
    assert show(platform, ok)["cursor"] == show(platform, closed)["cursor"] == event_id


def test_a_broken_subscription_is_paused_and_does_not_stop_the_others(platform, receiver):
    from sqlalchemy import update

    from citydata.storage.models_webhooks import WebhookSubscription

    broken = subscribe(platform, receiver, "broken")
    fine = subscribe(platform, receiver, "fine")
    with platform.db.session() as session:  # a filter the stream no longer knows
        session.execute(update(WebhookSubscription).where(WebhookSubscription.id == broken)
                        .values(filters='{"colour": "red"}'))
    cursor = show(platform, broken)["cursor"]
    ids = add(platform, "tree")
    dispatch(platform)
    assert receiver.ids("fine") == ids and receiver.ids("broken") == []
    info = show(platform, broken)
    assert info["status"] == "paused" and "colour" in info["last_error"]
    assert info["cursor"] == cursor  # nothing was skipped: fix it, resume, and it goes on
    assert show(platform, fine)["status"] == "active"


def test_replay_sends_again_from_an_event_id(platform, receiver):
    sub = subscribe(platform, receiver, "r", {"kind": "tree"})
    ids = add(platform, "tree", "bench", "tree", "tree")
    dispatch(platform)
    assert sorted(receiver.ids("r")) == [ids[0], ids[2], ids[3]]
    with platform.db.session() as session:
        webhooks.replay(system_ctx(platform, session), sub, ids[0])
    assert show(platform, sub)["cursor"] == ids[0]
    dispatch(platform)
    assert sorted(receiver.ids("r")) == sorted([ids[0], ids[2], ids[3], ids[2], ids[3]])
    # A replay never moves the cursor forward (that would skip events).
    with platform.db.session() as session:
        webhooks.replay(system_ctx(platform, session), sub, ids[-1] + 1000)
    assert show(platform, sub)["cursor"] == ids[-1]


def test_replay_revives_dead_letters(platform, receiver):
    platform.settings.webhook_max_attempts = 1
    receiver.behaviour["/d"] = Behaviour(status=500)
    sub = subscribe(platform, receiver, "d")
    ids = add(platform, "tree", "tree")
    dispatch(platform)
    assert [d["event_id"] for d in queue(platform, sub, "dead")] == ids
    receiver.behaviour["/d"] = Behaviour()  # the receiver is fixed
    with platform.db.session() as session:
        webhooks.replay(system_ctx(platform, session), sub, ids[0] - 1)
    dispatch(platform)
    assert sorted(receiver.ids("d")) == sorted(ids + ids)
    assert queue(platform, sub, "dead") == []
    assert [d["status"] for d in queue(platform, sub)] == ["delivered", "delivered"]


def test_pause_holds_events_and_resume_sends_them(platform, receiver):
    platform.settings.webhook_max_attempts = 5
    receiver.behaviour["/p"] = Behaviour(fail_first=1)
    sub = subscribe(platform, receiver, "p")
    first = add(platform, "tree")
    clock = utcnow()
    dispatch(platform, now=clock)  # fails once: a retry is queued
    with platform.db.session() as session:
        webhooks.set_status(system_ctx(platform, session), sub, "paused")
    later = add(platform, "bench")
    clock += timedelta(hours=1)
    assert dispatch(platform, now=clock)["sent"] == 0  # neither new events nor the retry
    assert show(platform, sub)["status"] == "paused"
    with platform.db.session() as session:
        webhooks.set_status(system_ctx(platform, session), sub, "active")
    dispatch(platform, now=clock)
    assert sorted(receiver.ids("p")) == sorted(first + first + later)


def test_dispatcher_state_survives_a_restart(platform, receiver, settings):
    receiver.behaviour["/s"] = Behaviour(fail_first=1)
    sub = subscribe(platform, receiver, "s", {"kind": "tree"})
    ids = add(platform, "tree", "bench", "tree")
    clock = utcnow()
    dispatch(platform, now=clock)  # both trees fail once and are queued
    assert len(queue(platform, sub, "retrying")) == 2
    platform.close()

    again = with_streams(Platform(settings))
    try:
        more = add(again, "tree")
        assert show(again, sub)["cursor"] == ids[-1]
        dispatch(again, now=clock)  # the new event (its first attempt fails too)
        clock += timedelta(hours=2)
        dispatch(again, now=clock)  # every retry is due
        arrived = receiver.ids("s")
        assert sorted(arrived) == sorted([ids[0], ids[2], more[0]] * 2)
        assert [d["status"] for d in queue(again, sub)] == ["delivered"] * 3
        assert show(again, sub)["cursor"] == more[0]
        clock += timedelta(days=1)
        assert dispatch(again, now=clock)["sent"] == 0  # nothing delivered goes again
    finally:
        again.close()


def test_a_crash_mid_batch_resends_only_that_batch(platform, receiver, settings):
    """A process that claimed a batch and died: its lease keeps others off the batch until it
    runs out, then the batch (and only it) is sent again."""
    import asyncio

    from citydata.events import webhook_store
    from citydata.events.webhook_dispatch import Dispatcher

    sub = subscribe(platform, receiver, "c")
    delivered = add(platform, "tree", "tree")
    dispatch(platform)
    pending = add(platform, "tree", "bench")

    async def claim_and_die() -> None:
        import httpx

        async with httpx.AsyncClient() as client:
            d = Dispatcher(platform, client)
            batches, _ = webhook_store.claim_batches(platform.db, d.holder, 10)
            assert [b.id for b in batches] == [sub]

    asyncio.run(claim_and_die())
    platform.close()

    again = with_streams(Platform(settings))
    try:
        assert dispatch(again)["sent"] == 0  # the dead process's lease still holds
        expired = utcnow() + timedelta(seconds=max(60, 3 * settings.webhook_timeout_seconds) + 1)
        assert dispatch(again, now=expired)["delivered"] == 2
        assert sorted(receiver.ids("c")) == delivered + pending
        assert show(again, sub)["cursor"] == pending[-1]
    finally:
        again.close()


def test_two_dispatchers_never_send_the_same_batch(platform, receiver, settings):
    import asyncio

    subs = [subscribe(platform, receiver, f"s{i}") for i in range(6)]
    ids = add(platform, *["tree"] * 30)
    other = with_streams(Platform(settings))
    try:
        async def both() -> list[dict[str, int]]:
            return list(await asyncio.gather(webhooks.dispatch_once(platform),
                                             webhooks.dispatch_once(other)))

        reports = asyncio.run(both())
        # Whatever one pass did not take, the next passes do; none is sent twice.
        while dispatch(platform)["sent"] or dispatch(other)["sent"]:
            pass
    finally:
        other.close()
    assert sum(r["subscriptions"] for r in reports) == len(subs)
    for i in range(6):
        assert sorted(receiver.ids(f"s{i}")) == ids  # every event once


@pytest.mark.parametrize("count", [250])
def test_a_backlog_goes_out_in_batches(platform, receiver, count):
    from citydata.events.webhook_dispatch import BATCH_SIZE

    sub = subscribe(platform, receiver, "b", {"kind": "tree"})
    ids = add(platform, *(["tree", "bench"] * (count // 2)))
    passes = 0
    while dispatch(platform)["handed_over"]:
        passes += 1
    assert passes == -(-len(ids) // BATCH_SIZE)
    assert sorted(receiver.ids("b")) == ids[::2]
    assert show(platform, sub)["cursor"] == ids[-1]

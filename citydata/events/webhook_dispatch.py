"""The webhook dispatcher: hands each subscription the new events of its stream, signed.

Two kinds of work, bounded together by ``webhook_max_in_flight`` requests in flight per
process (and :data:`PER_SUBSCRIPTION` per endpoint):

* **New events.** A subscription behind its stream is claimed (a lease on its row, see
  :mod:`citydata.events.webhook_store`: two server processes never send the same batch). The
  next :data:`BATCH_SIZE` events after its cursor are read, those its filters match are
  POSTed concurrently, and then, in one transaction, every failure joins the retry queue and
  the cursor moves past the batch. A crash before that re-sends at most this one batch:
  delivery is at least once (receivers dedupe on ``Citydata-Event-Id``), and within a batch
  not in order. A delivery that succeeds first time leaves no row.
* **Retries.** Queued deliveries that are due are claimed the same way and sent again; after
  ``webhook_max_attempts`` attempts one is dead (kept, listed, replayable).

In the server (:func:`run`) each subscription's batch is a task of its own, so a slow or
hanging endpoint delays only itself: the others are claimed again as soon as their batch is
done. A subscription that breaks (its stream gone, its stored filters refused) is paused with
the reason; any other error is logged, recorded on it, and keeps it off for a while.
:func:`dispatch_once` is one round of the same work, for the command line and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from typing import Any, cast

import httpx
from starlette.concurrency import run_in_threadpool

from citydata.events import webhook_store as store
from citydata.events.log import Event
from citydata.events.webhook_signing import (
    AddressRefused,
    delivery_headers,
    guards_private,
    public_addresses,
)
from citydata.events.webhook_store import GONE, Batch, Broken, Outcome, Retry, backoff_seconds
from citydata.platform import Platform
from citydata.settings import Settings
from citydata.storage.models import utcnow

log = logging.getLogger("citydata.webhooks")

#: Events read after a subscription's cursor at a time: what a crash may re-send.
BATCH_SIZE = 100
#: Requests in flight to one endpoint at once.
PER_SUBSCRIPTION = 10
#: Subscriptions and due retries one process works on at once (the rest wait their turn).
MAX_SUBSCRIPTIONS = 200
MAX_RETRIES = 500
#: A subscription whose batch failed unexpectedly is left alone this long.
ERROR_HOLD = timedelta(seconds=30)
#: Bytes of a receiver's answer read (so the connection can be reused); the rest is ignored.
MAX_ANSWER = 64 * 1024
REPORT_KEYS = ("subscriptions", "handed_over", "sent", "delivered", "failed", "dead", "errors")

__all__ = ["BATCH_SIZE", "Dispatcher", "backoff_seconds", "dispatch_once",
           "dispatch_once_sync", "event_body", "make_client", "run"]


def make_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries go through: no redirects, no proxies from the environment."""
    n = settings.webhook_max_in_flight
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds), follow_redirects=False,
        trust_env=False, limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))


def event_body(event: Event) -> bytes:
    """The JSON body of a delivery: the event's ``as_dict()``."""
    return json.dumps(event.as_dict(), separators=(",", ":"), ensure_ascii=False,
                      default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


async def _pinned(url: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Resolve the host once, refuse it unless every address is public, and connect to that
    very address (Host and TLS server name stay the original), so a name cannot resolve to a
    private address between the check and the connection."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await run_in_threadpool(public_addresses, parsed.host, port)
    headers["Host"] = parsed.netloc.decode("ascii")
    return str(parsed.copy_with(host=addresses[0])), {"sni_hostname": parsed.host}


class Dispatcher:
    """One process's dispatcher: its HTTP client, its limits, and the leases it holds."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient,
                 clock: Callable[[], datetime] = utcnow) -> None:
        settings = platform.settings
        self.platform, self.client, self.settings = platform, client, settings
        self.holder = store.Holder(
            owner=f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            clock=clock, span=timedelta(seconds=max(60.0, 3 * settings.webhook_timeout_seconds)))
        self.sem = asyncio.Semaphore(settings.webhook_max_in_flight)
        self.report: dict[str, int] = dict.fromkeys(REPORT_KEYS, 0)
        #: What this dispatcher holds leases on right now (renewed while held).
        self.sub_ids: set[str] = set()
        self.delivery_ids: set[str] = set()
        #: The newest event id when work was last claimed.
        self.seen = 0

    # -- claiming ---------------------------------------------------------------------------

    async def claim(self) -> tuple[list[Batch], list[Retry]]:
        db = self.platform.db
        batches, self.seen = await run_in_threadpool(
            store.claim_batches, db, self.holder, MAX_SUBSCRIPTIONS - len(self.sub_ids))
        retries: list[Retry] = []
        if not self.delivery_ids:
            retries = await run_in_threadpool(store.claim_retries, db, self.holder, MAX_RETRIES)
        self.sub_ids.update(b.id for b in batches)
        self.delivery_ids.update(r.id for r in retries)
        self.report["subscriptions"] += len(batches)
        return batches, retries

    async def keep_leases(self) -> None:
        while True:
            await asyncio.sleep(self.holder.span.total_seconds() / 3)
            try:
                await run_in_threadpool(store.extend, self.platform.db, self.holder,
                                        set(self.sub_ids), set(self.delivery_ids))
            except Exception:
                log.exception("could not renew webhook leases")

    # -- sending ----------------------------------------------------------------------------

    async def post(self, url: str, secret: str, event: Event, attempt: int,
                   per_sub: asyncio.Semaphore) -> Outcome:
        """One attempt at delivering ``event``; never raises for what the receiver does."""
        timeout = self.settings.webhook_timeout_seconds
        async with per_sub, self.sem:
            body = event_body(event)
            headers = delivery_headers(secret, body, event.id, event.type, attempt)
            target, extensions = url, cast(dict[str, Any], {})
            self.report["sent"] += 1
            try:
                async with asyncio.timeout(timeout):
                    if guards_private(self.settings):
                        target, extensions = await _pinned(url, headers)
                    async with self.client.stream("POST", target, content=body, headers=headers,
                                                  extensions=extensions) as response:
                        status, read = response.status_code, 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read > MAX_ANSWER:
                                break
            except (TimeoutError, httpx.TimeoutException):
                return Outcome(False, None, f"No answer within {timeout:g} s")
            except AddressRefused as exc:
                return Outcome(False, None, f"Refused: {exc}")
            except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
                detail = str(exc).splitlines()[0][:200] if str(exc) else ""
                return Outcome(False, None, f"Could not deliver: {type(exc).__name__}"
                               + (f": {detail}" if detail else ""))
            if 200 <= status < 300:
                return Outcome(True, status)
            return Outcome(False, status, f"HTTP {status}")

    async def serve_batch(self, b: Batch) -> None:
        db, holder = self.platform.db, self.holder
        try:
            events, last, read = await run_in_threadpool(store.read_batch, self.platform, b,
                                                         BATCH_SIZE)
            per_sub = asyncio.Semaphore(PER_SUBSCRIPTION)
            outcomes = await asyncio.gather(*(self.post(b.url, b.secret, e, 1, per_sub)
                                              for e in events))
            await run_in_threadpool(store.finish_batch, db, self.settings, holder, b, last,
                                    read, list(zip(events, outcomes, strict=True)),
                                    self.report)
        except Broken as exc:
            log.warning("webhook %s paused: %s", b.id, exc)
            await run_in_threadpool(store.release, db, holder, [b.id], error=str(exc),
                                    pause=True)
        except Exception as exc:  # a broken subscription must not stop the others
            log.exception("webhook %s: dispatch failed", b.id)
            self.report["errors"] += 1
            await run_in_threadpool(store.release, db, holder, [b.id], hold=ERROR_HOLD,
                                    error=f"Dispatch failed ({type(exc).__name__}); "
                                    "trying again shortly")
        finally:
            self.sub_ids.discard(b.id)

    async def serve_retries(self, retries: list[Retry]) -> None:
        db, ids = self.platform.db, [r.id for r in retries]
        try:
            events = await run_in_threadpool(store.load_events, db, retries)
            per_sub: dict[str, asyncio.Semaphore] = {}

            async def one(r: Retry) -> tuple[Retry, Outcome]:
                event = events[r.id]
                if event is None:
                    return r, Outcome(False, None, GONE)
                sem = per_sub.setdefault(r.subscription_id, asyncio.Semaphore(PER_SUBSCRIPTION))
                return r, await self.post(r.url, r.secret, event, r.attempts + 1, sem)

            results = list(await asyncio.gather(*(one(r) for r in retries)))
            await run_in_threadpool(store.finish_retries, db, self.settings, self.holder,
                                    results, self.report)
        except Exception:  # left to a later round; the other work goes on
            log.exception("webhook retries failed")
            self.report["errors"] += 1
            await run_in_threadpool(store.release, db, self.holder, (), ids, hold=ERROR_HOLD)
        finally:
            self.delivery_ids.difference_update(ids)

    def work(self, batches: list[Batch], retries: list[Retry]
             ) -> list[Coroutine[Any, Any, None]]:
        return [*(self.serve_batch(b) for b in batches),
                *([self.serve_retries(retries)] if retries else [])]


async def dispatch_once(platform: Platform, *, client: httpx.AsyncClient | None = None,
                        now: datetime | None = None) -> dict[str, int]:
    """One round: a batch of new events for every subscription behind its stream, and the
    retries that are due (at ``now``, naive UTC; default the clock), all finished before it
    returns. Answers with counts: ``subscriptions`` served, events ``handed_over``
    (delivered, filtered out, queued or given up on), requests ``sent``, ``delivered``,
    ``failed``, ``dead``, ``errors``."""
    own = client is None
    http = client or make_client(platform.settings)
    d = Dispatcher(platform, http, (lambda: now) if now is not None else utcnow)
    keeper = asyncio.create_task(d.keep_leases())
    try:
        batches, retries = await d.claim()
        await asyncio.gather(*d.work(batches, retries))
    finally:
        keeper.cancel()
        if own:
            await http.aclose()
    return d.report


def dispatch_once_sync(platform: Platform, now: datetime | None = None) -> dict[str, int]:
    """:func:`dispatch_once` for callers without an event loop (the command line)."""
    return asyncio.run(dispatch_once(platform, now=now))


async def run(platform: Platform) -> None:
    """The server's dispatcher, until cancelled. Claims work, runs each batch as its own task,
    and claims again when a task finishes, a new event arrives, or
    ``webhook_interval_seconds`` pass (retries falling due). Errors are logged; it goes on.
    On cancellation it gives its leases back, so another process can carry on at once."""
    from citydata.events.hub import Hub

    interval = platform.settings.webhook_interval_seconds
    if interval <= 0:
        return
    async with make_client(platform.settings) as client:
        d = Dispatcher(platform, client)
        tasks: set[asyncio.Task[None]] = set()
        progress = asyncio.Event()

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            progress.set()

        keeper = asyncio.create_task(d.keep_leases())
        try:
            while True:
                progress.clear()
                after: int | None = None
                try:
                    for job in d.work(*await d.claim()):
                        task = asyncio.create_task(job)
                        tasks.add(task)
                        task.add_done_callback(done)
                    # An event committed since the claim looked wakes us at once.
                    after = d.seen or None
                except Exception:  # the dispatcher must never take the server down
                    log.exception("webhook dispatch failed")
                waits = [asyncio.ensure_future(progress.wait()), asyncio.ensure_future(
                    Hub.of(platform).wait_for_new(interval, after_id=after))]
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
        finally:
            keeper.cancel()
            subs, deliveries = set(d.sub_ids), set(d.delivery_ids)
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):  # else their leases simply run out
                await run_in_threadpool(store.release, platform.db, d.holder, subs,
                                        deliveries)

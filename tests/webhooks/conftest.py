"""Fixtures of the webhook tests: the test stream registered on the platform, a real receiver,
and helpers that append events and run dispatcher passes the way the server does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from citydata.access.actors import Actor
from citydata.catalog.context import Ctx
from citydata.events import log, webhooks
from citydata.platform import Platform
from citydata.settings import Settings
from tests.webhooks import stream_plugin
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The tests run the dispatcher passes themselves (the server's loop has its own test).
    settings.webhook_interval_seconds = 0
    return settings


def with_streams(platform: Platform) -> Platform:
    platform.plugins.register(stream_plugin, name="webhooks-test-stream")
    return platform


@pytest.fixture
def platform(platform: Platform) -> Platform:
    return with_streams(platform)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def add(platform: Platform, *kinds: str, type: str = "thing.made") -> list[int]:
    """Append one event per kind, in one committed transaction; their ids."""
    with platform.db.session() as session:
        return [log.append(session, stream_plugin.NAME, type, f"thing-{i}", {"kind": k, "i": i})
                for i, k in enumerate(kinds)]


def dispatch(platform: Platform, now: datetime | None = None) -> dict[str, int]:
    return asyncio.run(webhooks.dispatch_once(platform, now=now))


def subscribe(platform: Platform, receiver: Receiver, name: str,
              filters: dict[str, Any] | None = None, actor: Actor | None = None) -> str:
    """A subscription delivering to ``receiver``'s ``/name``, whose secret it then knows."""
    with platform.db.session() as session:
        ctx = Ctx(session, actor or Actor.system(), platform.settings, platform.files)
        sub = webhooks.create(platform, ctx, {"stream": stream_plugin.NAME,
                                              "url": receiver.url_for(name),
                                              "filters": filters or {}})
        receiver.secrets[f"/{name}"] = sub.secret
        return sub.id


def system_ctx(platform: Platform, session: Any) -> Ctx:
    return Ctx(session, Actor.system(), platform.settings, platform.files)


def show(platform: Platform, sub_id: str) -> dict[str, Any]:
    with platform.db.session() as session:
        ctx = system_ctx(platform, session)
        return webhooks.subscription_dict(session, webhooks.get(ctx, sub_id))


def queue(platform: Platform, sub_id: str, status: str = "") -> list[dict[str, Any]]:
    with platform.db.session() as session:
        ctx = system_ctx(platform, session)
        return [webhooks.delivery_dict(d) for d in webhooks.deliveries(ctx, sub_id, status)]

"""Fixtures of the events tests: the test stream registered on the platform, and helpers to
append events the way a data service does (each call its own committed transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from citydata.events import log
from citydata.platform import Platform
from tests.events import stream_plugin


@pytest.fixture
def events_platform(platform: Platform) -> Iterator[Platform]:
    platform.plugins.register(stream_plugin, name="events-test")
    yield platform


def add(platform: Platform, n: int = 1, *, type: str = "thing.made", ward: str = "north",
        stream: str = stream_plugin.NAME, **data: Any) -> list[int]:
    """Append ``n`` events in one committed transaction; their ids."""
    with platform.db.session() as session:
        return [log.append(session, stream, type, f"thing-{i}", {"ward": ward, "i": i, **data})
                for i in range(n)]


def all_ids(platform: Platform, stream: str = stream_plugin.NAME, after: int = 0) -> list[int]:
    with platform.db.session() as session:
        out: list[int] = []
        while page := log.read(session, stream, after):
            out += [e.id for e in page]
            after = page[-1].id
        return out

"""A test event stream, published through the ``citydata_event_streams`` hook like a data
service's: ``whtest``, filterable by ``kind`` (and ``type`` and ``key``)."""

from __future__ import annotations

from typing import Any

from citydata.events.streams import Stream, field_filters
from citydata.hookspecs import hookimpl

NAME = "whtest"
STREAM = Stream(
    name=NAME,
    title="Webhook test stream",
    description="Things made and changed, for the webhook tests",
    parse_filters=field_filters({"kind": lambda e: e.data.get("kind")}),
    event_types=("thing.made", "thing.changed"),
)


@hookimpl
def citydata_event_streams() -> list[Any]:
    return [STREAM]

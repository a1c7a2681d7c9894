"""A small event stream for the events tests, published through the real plug-in hook."""

from __future__ import annotations

from typing import Any

from citydata.events.streams import Stream, field_filters
from citydata.hookspecs import hookimpl

NAME = "testfeed"
STREAM = Stream(
    name=NAME,
    title="Test feed",
    description="Things made and changed, for the events tests.",
    parse_filters=field_filters({"ward": lambda e: e.data.get("ward")}),
    event_types=("thing.made", "thing.changed"),
)


@hookimpl
def citydata_event_streams() -> list[Any]:
    return [STREAM]

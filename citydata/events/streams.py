"""Event streams: what a plug-in publishes (``citydata_event_streams``) and how readers of a
stream narrow it down with query parameters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from citydata.errors import NotFound, ValidationError
from citydata.events.log import STREAM_NAME, Event

#: A filter compiled from a reader's parameters: True for the events it wants.
Predicate = Callable[[Event], bool]


@dataclass(frozen=True)
class Stream:
    """A stream of events a plug-in appends to (``citydata.events.log.append``).

    ``parse_filters`` turns a reader's query parameters (those the events API does not use
    itself) into a predicate, raising :class:`citydata.errors.ValidationError` for a
    parameter it does not know or a value it cannot use. It is called once per connection or
    page, never per event; the predicate is called per event, so it should be cheap.
    """

    name: str
    title: str
    description: str
    parse_filters: Callable[[Mapping[str, str]], Predicate]
    event_types: tuple[str, ...] = ()


def all_streams(platform: Any) -> dict[str, Stream]:
    """Every stream the plug-ins publish, by name."""
    found: dict[str, Stream] = {}
    for published in platform.plugins.hook.citydata_event_streams():
        for stream in published or []:
            if not isinstance(stream, Stream):
                raise TypeError(f"citydata_event_streams returned {stream!r}, not a Stream")
            if not STREAM_NAME.match(stream.name):
                raise ValueError(f"Not a stream name: {stream.name!r}")
            if stream.name in found:
                raise ValueError(f"Two plug-ins publish the event stream {stream.name!r}")
            found[stream.name] = stream
    return dict(sorted(found.items()))


def get_stream(platform: Any, name: str) -> Stream:
    """The stream called ``name``; :class:`citydata.errors.NotFound` if no plug-in has it."""
    stream = all_streams(platform).get(name)
    if stream is None:
        raise NotFound(f"There is no event stream called {name!r}")
    return stream


def field_filters(
    fields: Mapping[str, Callable[[Event], Any]] | None = None,
) -> Callable[[Mapping[str, str]], Predicate]:
    """A ``parse_filters`` for the common case: each parameter names a field and lists the
    values wanted, comma-separated (``type=application.decided,application.withdrawn``).

    ``type`` (the event type) and ``key`` are always offered; ``fields`` adds more, each a
    function reading the value from an event (compared as text). Several parameters must all
    match; unknown parameters are an error, so a typo does not silently widen a feed."""
    getters: dict[str, Callable[[Event], Any]] = {
        "type": lambda e: e.type, "key": lambda e: e.key, **(fields or {})}

    def parse(params: Mapping[str, str]) -> Predicate:
        unknown = sorted(set(params) - set(getters))
        if unknown:
            raise ValidationError(
                f"Unknown filter: {', '.join(unknown)} (this stream filters on "
                f"{', '.join(sorted(getters))})",
                fields={name: ["Not a filter of this stream"] for name in unknown})
        wanted: list[tuple[Callable[[Event], Any], frozenset[str]]] = []
        for name, raw in params.items():
            values = frozenset(v.strip() for v in raw.split(",") if v.strip())
            if not values:
                raise ValidationError(f"{name}: give at least one value",
                                      fields={name: ["Give at least one value"]})
            wanted.append((getters[name], values))

        def match(ev: Event) -> bool:
            for get, values in wanted:
                value = get(ev)
                if value is None or str(value) not in values:
                    return False
            return True

        return match

    return parse

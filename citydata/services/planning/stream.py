"""The Planning Datahub's event stream ``planning``: one event per application created or
changed, and the filters subscribers (SSE and webhooks) may set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from citydata.errors import ValidationError, field_error
from citydata.events.streams import Stream
from citydata.services.planning.harmonise import CODES
from citydata.services.planning.query import parse_bbox

EVENT_TYPES = (
    "application.received", "application.validated", "application.decided",
    "application.withdrawn", "application.appealed", "application.updated",
)  # fmt: skip
FILTERS = ("lpa", "ward", "bbox", "type", "application_type")


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def parse_filters(params: Mapping[str, str]) -> Any:
    unknown = sorted(set(params) - set(FILTERS))
    if unknown:
        raise ValidationError(f"Unknown filter {unknown[0]!r}; the planning stream filters by "
                              f"{', '.join(FILTERS)}", fields={unknown[0]: ["unknown filter"]})
    lpas = {v.lower() for v in _list(params.get("lpa", ""))}
    wards = set(_list(params.get("ward", "")))
    kinds = set()
    for v in _list(params.get("type", "")):
        name = v if v.startswith("application.") else f"application.{v}"
        if name not in EVENT_TYPES:
            raise field_error("type", f"one of {', '.join(EVENT_TYPES)}")
        kinds.add(name)
    app_types = set(_list(params.get("application_type", "")))
    bad = app_types - set(CODES["application_type"])
    if bad:
        raise field_error("application_type", f"unknown value {sorted(bad)[0]!r}")
    box = parse_bbox(params["bbox"]) if params.get("bbox") else None

    def match(event: Any) -> bool:
        if kinds and event.type not in kinds:
            return False
        app = event.data.get("application") or {}
        if lpas and str(event.data.get("source", {}).get("feed", "")).lower() not in lpas \
                and str(app.get("lpa_code", "")).lower() not in lpas:
            return False
        if wards and app.get("ward") not in wards:
            return False
        if app_types and app.get("application_type") not in app_types:
            return False
        if box is not None:
            lon, lat = app.get("lon"), app.get("lat")
            if lon is None or lat is None:
                return False
            w, s, e, n = box
            if not (w <= lon <= e and s <= lat <= n):
                return False
        return True

    return match


STREAM = Stream(
    name="planning",
    title="Planning applications",
    description="Every planning application received by a London planning authority, and "
    "every change to one (validated, decided, withdrawn, appealed, updated), with the "
    "provenance of the values it changed.",
    parse_filters=parse_filters,
    event_types=EVENT_TYPES,
)

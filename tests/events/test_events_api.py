"""The events API in process: the list of streams, JSON pages for polling clients, OpenAPI,
and bad input answered in the native error shape (never a 500, never a half-open stream)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path

import pytest

from citydata.errors import NotFound, ValidationError
from citydata.events.log import Event
from citydata.events.streams import Stream, all_streams, get_stream
from tests.events.conftest import add
from tests.events.stream_plugin import STREAM

SSE = {"Accept": "text/event-stream"}
DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


@pytest.fixture
def api(events_platform, client):
    return client


def assert_error(r, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"], body


def test_streams_come_from_the_plugin_hook(events_platform):
    assert all_streams(events_platform)["testfeed"] is STREAM
    assert get_stream(events_platform, "testfeed") is STREAM
    with pytest.raises(NotFound):
        get_stream(events_platform, "nope")


def test_list_streams(api, events_platform):
    r = api.get("/api/v1/events")
    assert r.status_code == 200
    mine = {s["name"]: s for s in r.json()["results"]}["testfeed"]
    assert mine["last_id"] == 0
    assert mine["event_types"] == ["thing.made", "thing.changed"]
    assert mine["title"] == "Test feed" and mine["url"].endswith("/api/v1/events/testfeed")
    new = add(events_platform, 2)
    mine = {s["name"]: s for s in api.get("/api/v1/events").json()["results"]}["testfeed"]
    assert mine["last_id"] == new[-1]


def test_json_pages_for_polling_clients(api, events_platform):
    assert api.get("/api/v1/events/testfeed").json() == {"events": [], "next_after": 0}
    north = add(events_platform, 3, ward="north")
    south = add(events_platform, 2, ward="south")
    page = api.get("/api/v1/events/testfeed", params={"limit": 2}).json()
    assert [e["id"] for e in page["events"]] == north[:2] and page["next_after"] == north[1]
    assert page["events"][0]["type"] == "thing.made"
    assert page["events"][0]["data"] == {"ward": "north", "i": 0}
    page = api.get("/api/v1/events/testfeed", params={"after": page["next_after"]}).json()
    assert [e["id"] for e in page["events"]] == north[2:] + south
    done = api.get("/api/v1/events/testfeed", params={"after": page["next_after"]}).json()
    assert done == {"events": [], "next_after": page["next_after"]}
    # Filters, and the other ways to say where to resume.
    page = api.get("/api/v1/events/testfeed", params={"ward": "south", "limit": 1}).json()
    assert [e["id"] for e in page["events"]] == south[:1] and page["next_after"] == south[0]
    page = api.get("/api/v1/events/testfeed", headers={"Last-Event-ID": str(south[0])}).json()
    assert [e["id"] for e in page["events"]] == south[1:]
    page = api.get("/api/v1/events/testfeed?last_event_id=" + str(north[2])).json()
    assert [e["id"] for e in page["events"]] == south
    page = api.get("/api/v1/events/testfeed", params={"format": "json"},
                   headers={"Last-Event-ID": ""}).json()  # empty: from the start
    assert len(page["events"]) == 5


@pytest.mark.parametrize("headers, params, field", [
    ({"Last-Event-ID": "abc"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "-1"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "1.5"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "1_000"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "1e3"}, {}, "Last-Event-ID"),
    ({"Last-Event-ID": "9" * 30}, {}, "Last-Event-ID"),
    ({}, {"after": "yesterday"}, "after"),
    ({}, {"last_event_id": "0x10"}, "last_event_id"),
    ({}, {"colour": "red"}, "colour"),  # not a filter of this stream
    ({}, {"ward": ""}, "ward"),
    ({}, {"ward": " , "}, "ward"),
    ({}, {"limit": "0"}, "limit"),
    ({}, {"limit": "1001"}, "limit"),
    ({}, {"limit": "many"}, "limit"),
    ({}, {"format": "xml"}, "format"),
])
@pytest.mark.parametrize("accept", [{}, SSE], ids=["json", "sse"])
def test_bad_input_is_a_400_in_the_native_shape(api, headers, params, field, accept):
    r = api.get("/api/v1/events/testfeed", headers={**accept, **headers}, params=params)
    assert_error(r, 400, "validation_error", field)


@pytest.mark.parametrize("accept", [{}, SSE], ids=["json", "sse"])
def test_an_unknown_stream_is_a_404(api, accept):
    assert_error(api.get("/api/v1/events/nope", headers=accept), 404, "not_found")
    assert_error(api.get("/api/v1/events/nope", params={"format": "sse"}), 404, "not_found")


def test_the_openapi_document_describes_the_endpoints(api):
    spec = api.get("/api/openapi.json").json()
    listing = spec["paths"]["/api/v1/events"]["get"]
    assert listing["summary"] and listing["description"]
    read = spec["paths"]["/api/v1/events/{stream}"]["get"]
    assert read["summary"] and "Last-Event-ID" in read["description"]
    assert {"application/json", "text/event-stream"} <= set(read["responses"]["200"]["content"])
    assert {"400", "404"} <= set(read["responses"])
    params = {p["name"] for p in read["parameters"]}
    assert {"stream", "after", "last_event_id", "limit", "format"} <= params


def test_the_plugin_example_in_the_docs_works():
    section = DOC.read_text().split("## For plug-in authors", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "docs/events.md has no plug-in example"
    namespace: dict = {"__name__": "documented_plugin"}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102
    stream = namespace["PLANNING"]
    assert isinstance(stream, Stream) and namespace["citydata_event_streams"]() == [stream]
    match = stream.parse_filters({"ward": "Kilburn", "type": "application.decided"})
    ev = Event(1, "planning", "application.decided", "camden/1", datetime(2024, 5, 1),
               {"ward": "Kilburn"})
    assert match(ev)
    assert not match(dataclasses.replace(ev, type="application.received"))
    assert not match(dataclasses.replace(ev, data={"ward": "Highgate"}))
    with pytest.raises(ValidationError):
        stream.parse_filters({"colour": "red"})

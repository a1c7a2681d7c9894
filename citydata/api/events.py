"""Native API of event streams: list them, read a page (polling clients) or follow one live
with Server-Sent Events. Thin: the log and the hub are in :mod:`citydata.events`.

:func:`sse_response` is reusable: a data service's own feed (``/api/v1/planning/events``)
parses its parameters with :func:`resume_point` and :func:`stream_filters` and answers with it.
Errors use the native shape ``{"error": {"code", "message", "fields"}}`` and are raised before
a stream starts, so a bad request never turns into a half-open stream.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from citydata.api.deps import DECLARATION_PARAMS, get_platform
from citydata.api.openapi import errors
from citydata.errors import field_error
from citydata.events import log as event_log
from citydata.events.hub import Hub, Subscription
from citydata.events.log import Event
from citydata.events.streams import Predicate, Stream, all_streams, get_stream

router = APIRouter(prefix="/api/v1", tags=["Events"])

#: Reconnection delay a client's EventSource is told to use (milliseconds).
RETRY_MS = 3000
#: How often a quiet stream checks that its client is still there (where the server does
#: not tell it: see :func:`_polls_for_disconnect`).
DISCONNECT_CHECK_SECONDS = 1.0
PAGE_MAX = 1000
#: Parameters of the events API itself; any other goes to the stream's ``parse_filters``.
RESERVED = frozenset({"after", "limit", "last_event_id", "format", *DECLARATION_PARAMS})
_EVENT_ID = re.compile(r"^[0-9]{1,18}$")

#: Event streams being served, by platform (weakly: a response that never started leaves
#: nothing behind); platforms whose server is shutting down.
_open_streams: dict[int, weakref.WeakSet[Subscription]] = {}
_stopping: set[int] = set()

SSE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
EVENT_SCHEMA = {
    "type": "object",
    "required": ["id", "stream", "type", "key", "created_at", "data"],
    "properties": {
        "id": {"type": "integer"}, "stream": {"type": "string"}, "type": {"type": "string"},
        "key": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
        "data": {"type": "object"},
    },
}
SSE_EXAMPLE = (
    "retry: 3000\n\n"
    "id: 42\nevent: application.decided\n"
    'data: {"id":42,"stream":"planning","type":"application.decided",'
    '"key":"camden/2024/0001/P","created_at":"2024-05-01T10:00:00.000Z","data":{}}\n\n'
    ": keep-alive\n\n"
)


# ---------------------------------------------------------------- reusable pieces


def resume_point(request: Request) -> int | None:
    """Where a reader resumes: the ``Last-Event-ID`` header (what EventSource sends when it
    reconnects), else ``?last_event_id=``, else ``?after=``; None when none is given. Not a
    whole number: :class:`ValidationError`."""
    for name, raw in (("Last-Event-ID", request.headers.get("last-event-id")),
                      ("last_event_id", request.query_params.get("last_event_id")),
                      ("after", request.query_params.get("after"))):
        if raw is None or not raw.strip():
            continue
        if not _EVENT_ID.match(raw.strip()):
            raise field_error(name, "must be an event id (a whole number, 0 for the start)")
        return int(raw.strip())
    return None


def stream_filters(request: Request, stream: Stream) -> Predicate | None:
    """The stream's predicate for the request's other query parameters (None: no filter)."""
    params = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    return stream.parse_filters(params) if params else None


def wants_event_stream(request: Request) -> bool:
    """SSE when asked for with ``Accept: text/event-stream`` or ``?format=sse``."""
    fmt = request.query_params.get("format")
    if fmt is not None and fmt not in ("sse", "json"):
        raise field_error("format", "must be sse or json")
    if fmt is not None:
        return fmt == "sse"
    return "text/event-stream" in request.headers.get("accept", "")


#: Frames recently encoded, by event object: the hub hands every subscriber of an event the
#: same ``Event``, so a fan-out to N streams encodes it once, not N times.
_frame_cache: dict[int, tuple[Event, str]] = {}
FRAME_CACHE_SIZE = 256


def sse_frame(ev: Event) -> str:
    hit = _frame_cache.get(id(ev))
    if hit is not None and hit[0] is ev:
        return hit[1]
    data = json.dumps(ev.as_dict(), separators=(",", ":"), ensure_ascii=False)
    frame = f"id: {ev.id}\nevent: {ev.type}\ndata: {data}\n\n"
    if len(_frame_cache) >= FRAME_CACHE_SIZE:
        _frame_cache.clear()  # atomic, unlike evicting one (event loops in several threads)
    _frame_cache[id(ev)] = (ev, frame)  # holding ``ev`` keeps its id from being reused
    return frame


def _polls_for_disconnect(request: Request) -> bool:
    """Whether a stream must check for a departed client itself. On servers of ASGI spec
    < 2.4 (uvicorn says 2.3) Starlette's StreamingResponse waits for ``http.disconnect`` and
    cancels the stream; from 2.4 on it relies on a write failing, which a quiet stream never
    attempts. (Each check is a receive through every middleware: with 1,000 streams the
    checks kept a quarter of a core busy.)"""
    raw = str(request.scope.get("asgi", {}).get("spec_version", "2.0"))
    try:
        return tuple(int(part) for part in raw.split(".")) >= (2, 4)
    except ValueError:
        return True


def sse_response(request: Request, platform: Any, stream: Stream, match: Predicate | None,
                 last_event_id: int | None) -> StreamingResponse:
    """Follow ``stream`` live as Server-Sent Events: everything after ``last_event_id`` first
    (None: only what happens from now on), then each new event as it is committed; a
    keep-alive comment when quiet. Ends when the client goes, the server shuts down, or the
    client reads too slowly (it reconnects with ``Last-Event-ID`` and loses nothing).

    Must be called from the server's event loop (an ``async def`` route): the subscription is
    registered here, so nothing committed after this call is missed."""
    if id(platform) in _stopping:  # shutting down: come back later (or to another process)
        return StreamingResponse(_retry_later(), media_type="text/event-stream",
                                 headers=SSE_HEADERS)
    keepalive = float(platform.settings.events_keepalive_seconds)
    open_streams = _open_streams.setdefault(id(platform), weakref.WeakSet())
    sub = Hub.of(platform).subscribe(stream.name, after_id=last_event_id, match=match)
    open_streams.add(sub)
    return StreamingResponse(_frames(request, sub, keepalive, open_streams),
                             media_type="text/event-stream", headers=SSE_HEADERS)


def end_streams_on_shutdown(platform: Any) -> None:
    """End the event streams when the server is told to stop (SIGINT, SIGTERM).

    uvicorn stops accepting connections, then waits for the open responses to finish before
    it shuts the application down — and an event stream never finishes by itself. So chain
    to the server's own signal handlers: on a signal the streams end (clients reconnect with
    ``Last-Event-ID``, to another process or after the restart). Call from the lifespan's
    start-up; does nothing off the main thread (tests' in-thread servers)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()

    def stop() -> None:
        _stopping.add(id(platform))
        for sub in list(_open_streams.get(id(platform), ())):
            sub.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):  # no server handler to chain to: leave it alone
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            previous(signum, frame)
            loop.call_soon_threadsafe(stop)

        signal.signal(sig, handler)


async def _retry_later() -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"


async def _frames(request: Request, sub: Subscription, keepalive: float,
                  open_streams: weakref.WeakSet[Subscription]) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[Event] | None = None
    poll = _polls_for_disconnect(request)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        quiet_since = loop.time()
        while True:
            if pending is None:
                pending = asyncio.ensure_future(sub.__anext__())
            wait = keepalive - (loop.time() - quiet_since)
            if poll:
                wait = min(wait, DISCONNECT_CHECK_SECONDS)
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, wait))
            if done:
                task, pending = pending, None
                try:
                    first = task.result()
                except StopAsyncIteration:
                    return  # dropped for reading too slowly, or the server is closing
                yield "".join(sse_frame(ev) for ev in (first, *sub.ready()))
                quiet_since = loop.time()
                continue
            if poll and await request.is_disconnected():
                return
            if loop.time() - quiet_since >= keepalive:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
    finally:
        if pending is not None:
            pending.cancel()
        sub.close()
        open_streams.discard(sub)


# ---------------------------------------------------------------- routes


@router.get(
    "/events",
    summary="Event streams",
    description="Every stream of events this node publishes, with the types of event it has "
    "and the newest event's id (`last_id`, 0 when empty). Follow one at "
    "`/api/v1/events/{stream}`.",
    responses={200: {"description": "The streams", "content": {"application/json": {
        "schema": {"type": "object", "required": ["count", "results"], "properties": {
            "count": {"type": "integer"},
            "results": {"type": "array", "items": {
                "type": "object",
                "required": ["name", "title", "description", "event_types", "last_id", "url"],
                "properties": {"name": {"type": "string"}, "title": {"type": "string"},
                               "description": {"type": "string"},
                               "event_types": {"type": "array", "items": {"type": "string"}},
                               "last_id": {"type": "integer"},
                               "url": {"type": "string"}}}}}}}}}},
)
async def list_streams(request: Request) -> dict[str, Any]:
    platform = get_platform(request)
    streams = all_streams(platform)

    def run() -> dict[str, Any]:
        with platform.db.session() as session:
            results = [{
                "name": s.name, "title": s.title, "description": s.description,
                "event_types": list(s.event_types),
                "last_id": event_log.last_id(session, s.name),
                "url": str(request.url_for("read_stream", stream=s.name)),
            } for s in streams.values()]
        return {"count": len(results), "results": results}

    return await run_in_threadpool(run)


@router.get(
    "/events/{stream}",
    summary="Read or follow an event stream",
    description=(
        "With `Accept: text/event-stream` (or `?format=sse`): Server-Sent Events. The stream "
        "opens with `retry: 3000`; each event is `id: N`, `event: <type>` and `data: <the "
        "event as JSON>`; a `: keep-alive` comment is sent when it is quiet. Without a resume "
        "point only new events are sent; with one (the `Last-Event-ID` header, which "
        "EventSource sends when it reconnects, or `?last_event_id=` / `?after=`) every event "
        "after that id comes first, then live ones: in id order, none missed, none twice.\n\n"
        "Otherwise a JSON page for polling: `{\"events\": [...], \"next_after\": N}`; ask "
        "again with `?after=N` (`next_after` moves past filtered-out events too). A page "
        "with no events means you are up to date.\n\n"
        "Any other query parameter is one of the stream's filters (e.g. "
        "`?type=application.decided`); an unknown one is an error."
    ),
    responses={
        200: {"description": "A page of events, or an event stream",
              "content": {
                  "application/json": {"schema": {
                      "type": "object", "required": ["events", "next_after"], "properties": {
                          "events": {"type": "array", "items": EVENT_SCHEMA},
                          "next_after": {"type": "integer"}}}},
                  "text/event-stream": {"schema": {"type": "string"},
                                        "example": SSE_EXAMPLE}}},
        **errors(400, 404),
    },
    response_class=JSONResponse,
)
async def read_stream(
    request: Request,
    stream: str,
    after: str | None = Query(None, description="Events after this id (0: from the start)"),
    last_event_id: str | None = Query(None, description="As the `Last-Event-ID` header"),
    limit: int = Query(100, ge=1, le=PAGE_MAX, description="Events per JSON page"),
    fmt: str | None = Query(None, alias="format",
                            description="`sse` or `json` (default: by `Accept`)"),
) -> Response:
    platform = get_platform(request)
    found = get_stream(platform, stream)
    resume = resume_point(request)
    match = stream_filters(request, found)
    if wants_event_stream(request):
        return sse_response(request, platform, found, match, resume)

    def run() -> dict[str, Any]:
        with platform.db.session() as session:
            events, next_after = event_log.read_matching(session, found.name, resume or 0,
                                                         limit, match)
        return {"events": [e.as_dict() for e in events], "next_after": next_after}

    return JSONResponse(await run_in_threadpool(run))

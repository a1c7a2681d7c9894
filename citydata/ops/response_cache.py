"""A cache of anonymous responses in each server process, exact across processes.

Most requests to an open data portal are anonymous reads of the same pages, searches, rows and
features. The first such request is answered by the app; the response is kept in this process,
tagged with the public generation read *before* the app ran
(:mod:`citydata.storage.public_changes`). The same request is answered from the cache only
while the generation is unchanged and the entry is younger than
``CITYDATA_RESPONSE_CACHE_SECONDS`` (300: what changes with the clock alone, such as an
agreement reaching its end date, is at most that late).
Every committed write an anonymous reader could see moves the generation on, in its own
transaction, so no process ever serves a page from before a change it could read — the check
is one indexed read per request.

Only what is the same for every anonymous reader is kept: a GET with no credentials (no
``Authorization``, API key, session cookie, purpose or agreement header, signed node request),
answered ``200`` with a body of at most ``MAX_ENTRY_BYTES``, no ``Set-Cookie``, no
``Cache-Control: private|no-store|no-cache`` and no attachment: file downloads and event
streams are always answered by the app. The
key is the scheme, host, path, query string and ``Accept`` (OGC API negotiates on it). Request
ids, the access log and metrics are outside this middleware, so a hit is logged and counted
like any request, and answers ``X-Citydata-Cache: hit`` (``miss`` when it was just made, and
kept unless it turned out larger than ``MAX_ENTRY_BYTES``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from anyio import CapacityLimiter, to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citydata.storage import public_changes

if TYPE_CHECKING:
    from citydata.ops.metrics import HttpMetrics
    from citydata.platform import Platform

log = logging.getLogger("citydata.cache")
HEADER = b"x-citydata-cache"
MAX_ENTRY_BYTES = 512 * 1024
#: A request with any of these headers is someone's own: never cached, never served a copy.
PERSONAL_HEADERS = frozenset({
    b"authorization", b"x-ckan-api-key", b"x-citydata-purpose", b"x-citydata-agreement",
    b"signature", b"signature-input", b"citydata-node", b"last-event-id",
})
SESSION_COOKIE = b"citydata_session="
#: Probes, scrapes and streams: answered by the app every time.
NEVER = ("/healthz", "/readyz", "/metrics", "/api/v1/events", "/api/v1/planning/events",
         "/static/", "/vendor/")
_NOT_SHARED = (b"private", b"no-store", b"no-cache")


@dataclass(slots=True)
class Entry:
    generation: int
    made: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 200


class ResponseCache:
    """The entries of one process: least recently used first out, within a byte budget."""

    def __init__(self, max_bytes: int, max_age: float) -> None:
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.entries: OrderedDict[tuple, Entry] = OrderedDict()
        self.bytes = 0

    def get(self, key: tuple, generation: int, now: float) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.generation != generation or now - entry.made > self.max_age:
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        if key in self.entries:
            self._drop(key)
        self.entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: tuple) -> None:
        self.bytes -= self.entries.pop(key).size


def cache_key(scope: Scope) -> tuple | None:
    """The key of a request every anonymous reader would get the same answer to, else None."""
    if scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if path.startswith(NEVER) or "/download/" in path or path.endswith("/download"):
        return None  # stored files are sent by the app, without even the generation read
    host = accept = b""
    for name, value in scope["headers"]:
        if name in PERSONAL_HEADERS:
            return None
        if name == b"cookie" and SESSION_COOKIE in value:
            return None
        if name == b"host":
            host = value
        elif name == b"accept":
            accept = value
    return (scope.get("scheme", "http"), host, scope.get("root_path", ""), path,
            scope.get("query_string", b""), accept)


def shareable(message: Message) -> bool:
    """A response start every anonymous reader may be given a copy of."""
    if message["status"] != 200:
        return False
    for name, value in message.get("headers", ()):
        if name == b"set-cookie":
            return False
        if name == b"cache-control" and any(w in value.lower() for w in _NOT_SHARED):
            return False
        if name == b"content-disposition" and value.lower().startswith(b"attachment"):
            return False  # a stored file: always read from the store (and cheap to send)
        if name == b"vary" and b"*" in value:
            return False
    return True


class ResponseCacheMiddleware:
    """Answers repeated anonymous GETs from :class:`ResponseCache` (see the module doc)."""

    def __init__(self, app: ASGIApp, platform: Platform, metrics: HttpMetrics | None = None,
                 ) -> None:
        self.app = app
        self.engine = platform.db.engine
        settings = platform.settings
        self.cache = ResponseCache(settings.response_cache_mb * 1024 * 1024,
                                   settings.response_cache_seconds)
        self.enabled = settings.response_cache_mb > 0 and settings.response_cache_seconds > 0
        self.metrics = metrics
        # Its own threads' limit: a hit must not queue behind the slow requests holding the
        # 40 tokens of anyio's default limiter (those run the endpoints).
        self._limiter: tuple[Any, CapacityLimiter] | None = None

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.cache_outcome(outcome)

    def _own_limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()  # a limiter belongs to one event loop
        if self._limiter is None or self._limiter[0] is not loop:
            self._limiter = (loop, CapacityLimiter(8))
        return self._limiter[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = cache_key(scope) if self.enabled and scope["type"] == "http" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        try:
            generation = await to_thread.run_sync(public_changes.current, self.engine,
                                                  limiter=self._own_limiter())
        except Exception:  # the database is down: the app answers (and says so)
            log.warning("could not read the public generation", exc_info=True)
            generation = None
        if generation is None:
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        entry = self.cache.get(key, generation, now)
        if entry is not None:
            self._count("hit")
            if entry.route is not None:
                scope["route"] = entry.route  # the access log and metrics name the route
            await send({"type": "http.response.start", "status": entry.status,
                        "headers": [*entry.headers, (HEADER, b"hit")]})
            await send({"type": "http.response.body", "body": entry.body})
            return
        self._count("miss")
        await self._fill(scope, receive, send, key, generation, now)

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: tuple,
                    generation: int, now: float) -> None:
        start: Message | None = None
        keep = True
        body: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal start, keep, size
            if message["type"] == "http.response.start":
                keep = shareable(message)
                start = message
                if keep:
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (HEADER, b"miss")]}
            elif message["type"] == "http.response.body" and keep:
                chunk = message.get("body", b"")
                size += len(chunk)
                keep = size <= MAX_ENTRY_BYTES  # larger: passed through, not kept
                body.append(chunk)
            await send(message)

        await self.app(scope, receive, capture)
        if keep and start is not None and body:
            self.cache.put(key, Entry(generation, now, int(start["status"]),
                                      list(start.get("headers", ())), b"".join(body),
                                      scope.get("route")))

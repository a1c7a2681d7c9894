"""Per-request context: an id, one access log line and the HTTP metrics.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so streamed responses — downloads and
the long-lived SSE feeds — pass through chunk by chunk, never buffered. The access line
names the matched *route template* (``/dataset/{name}``), never the raw path or query
string, and no header: tokens in ``Authorization``, cookies, ``?api_key=`` or form bodies
cannot reach the logs from here.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citydata.ops.logging import request_id_var

if TYPE_CHECKING:
    from citydata.ops.metrics import HttpMetrics

access_log = logging.getLogger("citydata.access")
HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Probes and scrapes hit these every few seconds: their lines are logged at debug only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "unmatched"


def request_id_from(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random id."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            try:
                given = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SANE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def route_template(scope: Scope, root_path: str = "") -> str:
    """The path template of the route that handled the request (bounded cardinality).

    A mounted app (the static files) leaves no route in the scope, only its prefix added to
    ``root_path``: that gives ``/static/{path}``.
    """
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    mounted = str(scope.get("root_path", ""))[len(root_path):]
    return f"{mounted}/{{path}}" if mounted.startswith("/") else UNMATCHED


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


class RequestContextMiddleware:
    """Gives every HTTP request an id (echoed in ``X-Request-ID``), times it, and logs one
    access line and records its metrics as the response's last bytes go out."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, self.metrics)
        token = request_id_var.set(exchange.request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.started(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last bytes leave, so a client that has its answer
                # always finds it counted in the next scrape.
                exchange.finish()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # The error handler outside logs the traceback; the id stays set for its line.
            exchange.finish()  # a 500 unless the response had already started
            raise
        exchange.finish()  # a stream whose client went away ends without a last chunk
        request_id_var.reset(token)


class _Exchange:
    """One request's id, timing and outcome, recorded exactly once."""

    def __init__(self, scope: Scope, metrics: HttpMetrics | None) -> None:
        self.scope = scope
        self.metrics = metrics
        self.request_id = request_id_from(scope)
        self.root_path = str(scope.get("root_path", ""))
        self.began = time.perf_counter()
        self.status = 500
        self.streaming = False
        self.done = False

    def started(self, message: Message) -> None:
        self.status = int(message["status"])
        headers = MutableHeaders(scope=message)
        headers[HEADER] = self.request_id
        self.streaming = headers.get("content-type", "").startswith("text/event-stream")

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        duration = time.perf_counter() - self.began
        route = route_template(self.scope, self.root_path)
        method = str(self.scope.get("method", ""))
        if self.metrics is not None:
            self.metrics.observe(method, route, self.status, duration,
                                 streaming=self.streaming)
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": self.status,
            "duration_ms": round(duration * 1000, 3),
            "client": _client(self.scope),
        }
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        access_log.log(level, "%s %s %s", method, route, self.status, extra=fields)

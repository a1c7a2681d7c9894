"""A real webhook receiver for the tests: a threaded HTTP server on a free loopback port that
checks every delivery's signature the way a subscriber would and records what arrived.

Each subscription gets its own path (``receiver.url_for("a")`` is ``http://127.0.0.1:N/a``)
with its own secret (``receiver.secrets["/a"] = ...`` once the subscription is made) and its
own behaviour: answer 200, fail the first ``fail_first`` attempts at each event, always answer
``status``, or hang until the test ends.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from citydata.events.webhooks import verify_signature
from tests.federation.fakes import FakeServer, Request, _Handler, _HTTPServer


class _Backlogged(_HTTPServer):
    # The dispatcher opens up to 50 connections at once; socketserver's default backlog of 5
    # would have the kernel reset some of them.
    request_queue_size = 256


@dataclass
class Behaviour:
    fail_first: int = 0
    #: Always answer this status (None: 200 once past fail_first).
    status: int | None = None
    hang: bool = False


@dataclass(frozen=True)
class Arrival:
    path: str
    event_id: int
    attempt: int
    verified: bool
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.arrivals: list[Arrival] = []

    def start(self) -> Receiver:
        httpd = _Backlogged((self.host, 0), _Handler)
        httpd.app = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}"

    def handle(self, req: Request, h: _Handler) -> None:
        secret = self.secrets.get(req.path, "")
        arrival = Arrival(
            path=req.path, event_id=int(req.headers.get("citydata-event-id", "0")),
            attempt=int(req.headers.get("citydata-delivery-attempt", "0")),
            verified=bool(secret) and verify_signature(
                secret, req.headers.get("citydata-signature", ""), req.body),
            headers=req.headers, body=req.body)
        with self.lock:
            self.arrivals.append(arrival)
            seen = sum(1 for a in self.arrivals
                       if a.path == req.path and a.event_id == arrival.event_id)
        how = self.behaviour.get(req.path, Behaviour())
        if how.hang:
            self.stopping.wait(30)
            return
        if how.status is not None:
            h.reply(how.status, "no")
        elif seen <= how.fail_first:
            h.reply(503, "try later")
        else:
            h.reply(200, "ok", "text/plain")

    def ids(self, name: str) -> list[int]:
        """Event ids that arrived at ``/name``, in arrival order (repeats included)."""
        with self.lock:
            return [a.event_id for a in self.arrivals if a.path == f"/{name}"]

    def at(self, name: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == f"/{name}"]

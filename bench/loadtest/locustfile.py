"""The load test's users, for locust (runs in ``.venv-locust``; it never imports citydata).

Every request a user can make was found and checked by ``bench.loadtest.targets`` before the
run and is read from the JSON file named by ``LOADTEST_TARGETS``: per kind of request a list of
paths, and the headers of the governed reads. A request is named by its kind only, so locust's
statistics are one row per kind. ``LOADTEST_WAIT`` is the think time between a user's requests,
``"1,3"`` (uniform between 1 and 3 s) or ``"0"`` (none, for the floor measurements).

``LOADTEST_SLOW_FILE``, when set, receives the slowest requests of each kind (with their full
path), every failure's status, and how the server's response cache answered each kind
(``X-Citydata-Cache``: hit, miss or none), so a slow kind can be traced to the request behind
it and a fast one to its cache.
"""

from __future__ import annotations

import heapq
import json
import os
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, constant, events, task

TARGETS: dict[str, Any] = json.loads(Path(os.environ["LOADTEST_TARGETS"]).read_text())
PATHS: dict[str, list[str]] = TARGETS["paths"]
GOVERNED_HEADERS: dict[str, str] = TARGETS["governed_headers"]
KEEP_SLOWEST = 10


def _think_time() -> Any:
    raw = os.environ.get("LOADTEST_WAIT", "1,3")
    if raw.strip() in ("", "0"):
        return constant(0)
    lo, hi = (float(x) for x in raw.split(","))
    return between(lo, hi)


def _get(user: FastHttpUser, kind: str, headers: dict[str, str] | None = None) -> None:
    user.client.get(random.choice(PATHS[kind]), name=kind, headers=headers)


def search(user: FastHttpUser) -> None:
    _get(user, "search")


def dataset_page(user: FastHttpUser) -> None:
    _get(user, "dataset_page")


def rows(user: FastHttpUser) -> None:
    _get(user, "rows")


def ogc_items(user: FastHttpUser) -> None:
    _get(user, "ogc_items")


def download(user: FastHttpUser) -> None:
    _get(user, "download")


def governed(user: FastHttpUser) -> None:
    _get(user, "governed", GOVERNED_HEADERS)


KINDS = {"search": search, "dataset_page": dataset_page, "rows": rows, "ogc_items": ogc_items,
         "download": download, "governed": governed}


class CityUser(FastHttpUser):
    """A visitor or analyst: one request of a kind drawn by the weights, then think time."""

    wait_time = _think_time()
    tasks = {KINDS[kind]: weight for kind, weight in TARGETS["weights"].items()}  # noqa: RUF012


class HealthzUser(FastHttpUser):
    """The floor: ``/healthz`` (no database, no template) as fast as the server answers."""

    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="healthz")


# -- what the summary statistics cannot tell: which requests were slow, and why failures failed
_slowest: dict[str, list[tuple[float, str, int]]] = defaultdict(list)
_failures: dict[str, Counter[str]] = defaultdict(Counter)
#: Per kind, how the server's response cache answered: hit, miss (made and kept) or none.
_cache: dict[str, Counter[str]] = defaultdict(Counter)


def _cache_outcome(response: Any) -> str:
    headers = getattr(response, "headers", None) or {}
    try:
        return str(headers.get("x-citydata-cache") or headers.get("X-Citydata-Cache") or "none")
    except Exception:  # a response without headers (a connection error)
        return "none"


@events.request.add_listener
def _record(name: str, response_time: float, response: Any = None, exception: Any = None,
            url: str = "", **_: Any) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    heap = _slowest[name]
    item = (float(response_time), url, status)
    if len(heap) < KEEP_SLOWEST:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)
    if exception is not None:
        _failures[name][f"{status} {type(exception).__name__}: {str(exception)[:200]}"] += 1
    _cache[name][_cache_outcome(response)] += 1


@events.quitting.add_listener
def _write_slow(**_: Any) -> None:
    target = os.environ.get("LOADTEST_SLOW_FILE")
    if not target:
        return
    out = {name: {"slowest": [{"ms": round(ms, 1), "url": url, "status": status}
                              for ms, url, status in sorted(heap, reverse=True)],
                  "failures": dict(_failures.get(name, {})),
                  "cache": dict(_cache.get(name, {}))}
           for name, heap in _slowest.items()}
    Path(target).write_text(json.dumps(out, indent=2) + "\n")

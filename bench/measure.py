"""Timing helpers: sequential latency (HTTP or in-process) and throughput under N clients.

Every loop is bounded twice: by a request count and by a wall-clock budget, so a slow backend
shortens a phase (and the report says how many requests were timed) instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx


@dataclass
class Latency:
    n: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(seconds: list[float], errors: int = 0) -> Latency:
    ms = sorted(x * 1000 for x in seconds)
    return Latency(
        n=len(ms),
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        mean_ms=sum(ms) / len(ms) if ms else math.nan,
        max_ms=ms[-1] if ms else math.nan,
        errors=errors,
    )


def http_latency(base: str, paths: Sequence[str], *, n: int, warmup: int, budget_s: float,
                 check: Callable[[httpx.Response], bool] | None = None) -> Latency:
    """One keep-alive client, one request at a time, cycling through ``paths``."""
    took: list[float] = []
    errors = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(warmup):
            client.get(paths[i % len(paths)])
        deadline = time.monotonic() + budget_s
        for i in range(n):
            t0 = time.perf_counter()
            resp = client.get(paths[i % len(paths)])
            took.append(time.perf_counter() - t0)
            # Checked after the clock stops: parsing the body is the client's cost, not ours.
            if resp.status_code != 200 or (check is not None and not check(resp)):
                errors += 1
            if time.monotonic() > deadline:
                break
    return summarise(took, errors)


def call_latency(fn: Callable[[Any], Any], args: Sequence[Any], *, n: int, warmup: int,
                 budget_s: float) -> Latency:
    """Time ``fn(arg)`` in this process (the engine's raw cost, no HTTP)."""
    for i in range(warmup):
        fn(args[i % len(args)])
    took: list[float] = []
    deadline = time.monotonic() + budget_s
    for i in range(n):
        t0 = time.perf_counter()
        fn(args[i % len(args)])
        took.append(time.perf_counter() - t0)
        if time.monotonic() > deadline:
            break
    return summarise(took)


def http_throughput(base: str, paths: Sequence[str], *, concurrency: int, duration_s: float,
                    warmup_s: float = 1.0) -> dict[str, Any]:
    """``concurrency`` clients in a closed loop for ``duration_s``: requests/s and latency."""
    return asyncio.run(_throughput(base, paths, concurrency, duration_s, warmup_s))


async def _throughput(base: str, paths: Sequence[str], concurrency: int, duration_s: float,
                      warmup_s: float) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counter = iter(range(10**12))
    took: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while time.monotonic() < until:
                path = paths[next(counter) % len(paths)]
                t0 = time.perf_counter()
                try:
                    resp = await client.get(path)
                    ok = resp.status_code == 200
                except httpx.HTTPError:
                    ok = False
                end = time.monotonic()
                if record and end <= until:
                    took.append(time.perf_counter() - t0)
                    errors += 0 if ok else 1

        warm_until = time.monotonic() + warmup_s
        await asyncio.gather(*(worker(warm_until, False) for _ in range(concurrency)))
        start = time.monotonic()
        until = start + duration_s
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
    lat = summarise(took, errors)
    return {"concurrency": concurrency, "duration_s": duration_s,
            "requests": lat.n, "rps": round(lat.n / duration_s, 2), **lat.as_dict()}

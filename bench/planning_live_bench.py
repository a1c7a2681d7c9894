"""Planning Datahub live-feed benchmark (issue #7): SSE fan-out to 1,000 subscribers and
webhook fan-out of 10,000 events to 20 endpoints.

    python -m bench.planning_live_bench                 # 1,000 subscribers, 10,000 events
    python -m bench.planning_live_bench --quick         # 200 subscribers, 200 events
    python -m bench.planning_live_bench --parts sse --backends postgresql --subscribers 500

**SSE.** The real app (``python -m citydata.cli serve``) in its own process, on a fresh
database (SQLite file: the server's hub sees another process's writes by polling, here every
0.05 s; PostgreSQL, a fresh schema: LISTEN/NOTIFY). ``--subscribers`` clients in this process
(one asyncio loop, one httpx client) follow ``/api/v1/planning/events`` (some with filters that
match). Once every one has read its ``retry:`` line (so the server has registered it), this
process ingests a one-row CSV (a new application) with ``run_feed(kind="delta")``, a second
apart; a delivery's latency is the arrival of its ``data:`` line minus the moment just before
``run_feed`` was called. Part-way through, some subscribers disconnect, miss 5 changes and come
back with ``Last-Event-ID``: each must get exactly the events it missed. The floor in the same
run: the same clients against a minimal broadcaster (Starlette, in-memory queues, ``POST
/publish``, no database), latency from just before the POST.

**Webhooks.** A receiver process with one path per endpoint checks every signature with
``citydata.events.webhooks.verify_signature`` and counts event ids. 20 subscriptions on the
``planning`` stream (``webhooks.create``), 10,000 planning events appended with
``events.append_many`` in one transaction, then the server's dispatcher loop
(``webhooks.run``) runs in this process until every endpoint has every event or the budget
passes (``--webhook-budget``). The floor: the same POSTs (same bodies, signed) with a bare
httpx client at the dispatcher's concurrency (``webhook_max_in_flight``), no database.

Prints tables, writes ``bench/results/planning-live-<date>.json`` and
``bench/results/latest-planning-live.md`` (``--quick``: ``…-quick``). Nothing asserts a timing;
targets are reported as met or MISSED.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx

from bench.console import parse_backends, pg_base_url, print_server_logs, print_table
from bench.load import pg_create_schema, pg_drop_schema, pg_schema_name, pg_schema_url
from bench.machine import machine_info
from bench.measure import summarise
from bench.servers import HOST, free_port, run_server

RESULTS = Path(__file__).parent / "results"
TARGETS = {"sse_p99_ms": 250.0, "webhook_lost": 0}
STREAM = "planning"
SQLITE_POLL_SECONDS = 0.05
#: Subscribers i with i % 50 in here follow with a filter every change still matches.
FILTERS = {0: {"lpa": "hackney"}, 1: {"type": "received"}, 2: {"lpa": "E09000012"},
           3: {"bbox": "-0.2,51.4,0.1,51.7"}}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.planning_live_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="sse,webhooks", help="sse, webhooks or both")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--subscribers", type=int, default=1000, help="SSE clients")
    p.add_argument("--changes", type=int, default=30, help="ingested changes, a second apart")
    p.add_argument("--reconnect", type=int, default=100,
                   help="subscribers that disconnect for 5 changes, then resume")
    p.add_argument("--events", type=int, default=10_000, help="events for the webhooks")
    p.add_argument("--endpoints", type=int, default=20, help="webhook subscriptions")
    p.add_argument("--webhook-budget", type=float, default=120.0,
                   help="seconds the dispatcher may take per backend")
    p.add_argument("--profile", action="store_true",
                   help="run the first SSE server under cProfile; top functions in the JSON")
    p.add_argument("--quick", action="store_true", help="200 subscribers, 10 changes, "
                   "200 events, 60 s budget")
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    args.backends = parse_backends(p, args.backends)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if not args.parts or set(args.parts) - {"sse", "webhooks"}:
        p.error("--parts: sse, webhooks or sse,webhooks")
    if args.quick:
        args.subscribers, args.changes = min(args.subscribers, 200), min(args.changes, 10)
        args.events = min(args.events, 200)
        args.webhook_budget = min(args.webhook_budget, 60.0)
    args.reconnect = max(0, min(args.reconnect, args.subscribers // 5))
    if args.changes < 8:
        p.error("--changes: at least 8 (the reconnect check spans 5 of them)")
    return args


def log(msg: str) -> None:
    print(f"[planning-live-bench {datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """The clients run on uvloop when it is installed (less client overhead in the numbers)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# ------------------------------------------------------------------------ processes


def child_pid(marker: str) -> int | None:
    """The pid of this process's child whose command line contains ``marker``."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat, cmd = (d / "stat").read_text(), (d / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and marker.encode() in cmd:
            return int(d.name)
    return None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU of ``pid`` (this process when None)."""
    if pid is None:
        return time.process_time()
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    base: str
    pid: int | None


@contextlib.contextmanager
def serve(name: str, cmd: list[str], ready: str, port: int, work: Path,
          env: dict[str, str] | None = None) -> Iterator[Server]:
    with run_server(cmd, ready, work / f"{name}.log", env=env):
        yield Server(f"http://{HOST}:{port}", child_pid(f"--port\x00{port}"))


@contextlib.contextmanager
def database(backend: str, work: Path, pg_base: str, name: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        (work / name).mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{work / name / 'citydata.db'}"
        return
    schema = pg_schema_name()
    pg_create_schema(pg_base, schema)
    try:
        yield pg_schema_url(pg_base, schema)
    finally:
        pg_drop_schema(pg_base, schema)


def platform_for(url: str, home: Path, **settings: Any) -> Any:
    from citydata.platform import Platform
    from citydata.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    return Platform(Settings(env="dev", home=home, database_url=url, postcodes="none",
                             **settings))


# ------------------------------------------------------------------------ SSE: the app


def prepare_feed(platform: Any, csv_path: Path) -> None:
    """Migrate, and register the Hackney CSV feed of the planning tests."""
    from citydata.services.planning import sources as feeds
    from citydata.storage.migrate import upgrade
    from tests.services.test_planning_pipeline import CSV_CONFIG, HACKNEY

    upgrade(platform.db)
    feeds.register(platform.db, HACKNEY, CSV_CONFIG, str(csv_path))


def ingest_change(platform: Any, csv_path: Path, tag: str, i: int) -> dict[str, Any]:
    """A one-row delta export with a new application, ingested with ``run_feed``; runs in a
    worker thread. ``t0`` is taken just before ``run_feed`` (the CSV is already written)."""
    from citydata.events import log as events
    from citydata.services.planning.ingest import run_feed
    from tests.services.test_planning_pipeline import GOOD, RULES, write_csv

    write_csv(csv_path, [{**GOOD, "Reference": f"{tag}/{i:04d}", "Easting": str(533626 + i),
                          "Proposal": f"Change of use of unit {i} from shop to cafe"}])
    t0, c0 = time.perf_counter(), time.thread_time()
    report = run_feed(platform.db, "hackney", location=str(csv_path), kind="delta",
                      value_rules=cast(dict[str, dict[str, Any]], RULES))
    t1, cpu = time.perf_counter(), time.thread_time() - c0
    if report["status"] != "ok" or report["created"] != 1:
        raise RuntimeError(f"run_feed did not create one application: {report}")
    with platform.db.session() as s:
        event_id = events.last_id(s, STREAM)
    return {"t0": t0, "run_feed_s": t1 - t0, "run_feed_cpu_s": cpu, "id": event_id}


def citydata_env(backend: str, url: str, home: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CITYDATA_ENV": "dev", "CITYDATA_HOME": str(home), "CITYDATA_DATABASE_URL": url,
                "CITYDATA_SITE_URL": f"http://{HOST}:{port}", "CITYDATA_POSTCODES": "none",
                "CITYDATA_JOBS_INTERVAL_SECONDS": "0", "CITYDATA_WEBHOOK_INTERVAL_SECONDS": "0",
                "CITYDATA_PLANNING_REPLAY_PER_MINUTE": "0"})
    if backend == "sqlite":
        env["CITYDATA_EVENTS_POLL_SECONDS"] = str(SQLITE_POLL_SECONDS)
    return env


# ------------------------------------------------------------------------ SSE: the clients


@dataclass
class Subscriber:
    index: int
    params: dict[str, str]
    #: (event id, arrival time, connection number) of every data: line
    got: list[tuple[int, float, int]] = field(default_factory=list)
    connection: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    error: str = ""


class Clients:
    """``n`` SSE subscribers on one httpx client in this event loop."""

    def __init__(self, url: str, n: int, with_filters: bool) -> None:
        self.url = url
        self.subs = [Subscriber(i, dict(FILTERS.get(i % 50, {})) if with_filters else {})
                     for i in range(n)]
        self.arrived: Counter[int] = Counter()
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=None, pool=120.0), trust_env=False,
            limits=httpx.Limits(max_connections=n + 20, max_keepalive_connections=n + 20))

    async def _follow(self, sub: Subscriber, conn: int, resume: int | None) -> None:
        headers = {"Accept": "text/event-stream"}
        if resume is not None:
            headers["Last-Event-ID"] = str(resume)
        try:
            async with self.http.stream("GET", self.url, params=sub.params,
                                        headers=headers) as r:
                if r.status_code != 200:
                    sub.error = f"HTTP {r.status_code}: {(await r.aread())[:200]!r}"
                    return
                current = 0
                async for line in r.aiter_lines():
                    if line.startswith("data:"):
                        sub.got.append((current, time.perf_counter(), conn))
                        self.arrived[current] += 1
                    elif line.startswith("id:"):
                        current = int(line[3:])
                    elif line.startswith("retry:"):
                        sub.connected.set()
        except httpx.HTTPError as exc:
            sub.error = f"{type(exc).__name__}: {exc}"
        finally:
            sub.connected.set()

    def start(self, sub: Subscriber, resume: int | None = None) -> None:
        sub.connection += 1
        sub.connected = asyncio.Event()
        sub.task = asyncio.create_task(self._follow(sub, sub.connection, resume))

    async def connect(self, subs: list[Subscriber], resume: Callable[[Subscriber], int | None]
                      = lambda s: None, wave: int = 100, timeout: float = 120) -> float:
        """Open ``subs`` in waves; return when each has read its ``retry:`` line."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + timeout
        for start in range(0, len(subs), wave):
            batch = subs[start:start + wave]
            for sub in batch:
                self.start(sub, resume(sub))
            await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in batch)),
                                   max(1.0, deadline - time.monotonic()))
        failed = [s for s in subs if s.error]
        if failed:
            raise RuntimeError(f"{len(failed)} subscribers could not connect: {failed[0].error}")
        return time.perf_counter() - t0

    async def disconnect(self, subs: list[Subscriber]) -> None:
        tasks = [s.task for s in subs if s.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_for(self, event_id: int, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.arrived[event_id] < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self) -> None:
        await self.disconnect(self.subs)
        await self.http.aclose()


def _ms(x: float) -> float:
    return round(1000 * x, 2)


def fanout_stats(clients: Clients, sent: dict[int, dict[str, Any]],
                 replayed: dict[int, set[int]]) -> dict[str, Any]:
    """Latency of live deliveries, and what is missing or doubled. ``replayed``: per
    subscriber index, the ids it was expected to get by replay rather than live."""
    live: list[float] = []
    per_change: dict[int, list[float]] = {i: [] for i in sent}
    missing = duplicates = unexpected = 0
    for sub in clients.subs:
        ids = [eid for eid, _, _ in sub.got]
        duplicates += len(ids) - len(set(ids))
        missing += len(set(sent) - set(ids))
        unexpected += len(set(ids) - set(sent))
        skip = replayed.get(sub.index, set())
        for eid, t, _ in sub.got:
            if eid in sent and eid not in skip:
                lat = t - sent[eid]["t0"]
                live.append(lat)
                per_change[eid].append(lat)
    changes: list[dict[str, Any]] = []
    p99s: list[float] = []
    for eid, lats in per_change.items():
        s = summarise(lats)
        p99s.append(round(s.p99_ms, 2))
        changes.append({"id": eid, "deliveries": s.n, "p50_ms": round(s.p50_ms, 2),
                        "p99_ms": p99s[-1], "max_ms": round(s.max_ms, 2),
                        "first_ms": round(min(lats) * 1000, 2) if lats else None,
                        "run_feed_ms": _ms(sent[eid].get("run_feed_s", 0.0))})
    p99s.sort()
    return {"latency": summarise(live).as_dict(), "deliveries": len(live),
            "expected": len(sent) * len(clients.subs), "missing": missing,
            "duplicates": duplicates, "unexpected": unexpected,
            "per_change_p99_ms_max": p99s[-1] if p99s else None,
            "per_change_p99_ms_median": p99s[len(p99s) // 2] if p99s else None,
            "per_change": changes}


async def sse_citydata(server: Server, platform: Any, csv_path: Path, tag: str,
                       args: argparse.Namespace) -> dict[str, Any]:
    n, k, r = args.subscribers, max(2, args.changes // 3), args.reconnect
    clients = Clients(f"{server.base}/api/v1/planning/events", n, with_filters=True)
    sent: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    out: dict[str, Any] = {"subscribers": n, "filtered": sum(1 for s in clients.subs
                                                             if s.params),
                           "changes": args.changes, "reconnect": {"subscribers": r}}
    try:
        # Not timed: the first run_feed of a process imports and builds what later ones reuse.
        warm = await asyncio.to_thread(ingest_change, platform, csv_path, tag, 0)
        out["warm_up_run_feed_ms"] = _ms(warm["run_feed_s"])
        out["connect_s"] = round(await clients.connect(clients.subs), 2)
        log(f"  {n} subscribers connected in {out['connect_s']} s")
        step = max(1, n // r) if r else 1
        gone = clients.subs[step // 2::step][:r] if r else []
        out["reconnect"]["subscribers"] = r = len(gone)
        cpu0 = (cpu_seconds(server.pid), cpu_seconds(None))
        out["load_before"] = os.getloadavg()
        wall0, next_at = time.perf_counter(), time.perf_counter()
        for i in range(1, args.changes + 1):
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at = time.perf_counter() + 1.0
            change = await asyncio.to_thread(ingest_change, platform, csv_path, tag, i)
            sent[change["id"]] = change
            order.append(change["id"])
            if gone and i == k:
                await clients.wait_for(change["id"], n, 10)
                await clients.disconnect(gone)
            if gone and i == k + 5:
                await clients.wait_for(change["id"], n - r, 10)
                t = time.perf_counter()
                await clients.connect(gone, resume=lambda s: s.got[-1][0] if s.got else 0)
                ok = [await clients.wait_for(eid, n, 15) for eid in order[k:k + 5]]
                out["reconnect"]["replay_s"] = round(time.perf_counter() - t, 3)
                out["reconnect"]["all_arrived"] = all(ok)
                next_at = time.perf_counter() + 1.0
        await clients.wait_for(order[-1], n, 10)
        await asyncio.sleep(0.5)  # anything late or doubled
        wall = time.perf_counter() - wall0
        out["cpu_s"] = {"server": round(cpu_seconds(server.pid) - cpu0[0], 2),
                        "bench_process": round(cpu_seconds(None) - cpu0[1], 2),
                        "run_feed": round(sum(c["run_feed_cpu_s"] for c in sent.values()), 2),
                        "wall": round(wall, 1)}
        out["load_after"] = os.getloadavg()
    finally:
        await clients.close()
    replayed = {s.index: set(order[k:k + 5]) for s in gone}
    out.update(fanout_stats(clients, sent, replayed))
    passed = 0
    for s in gone:
        second = [eid for eid, _, c in s.got if c == 2]
        first = [eid for eid, _, c in s.got if c == 1]
        if first == order[:k] and second == order[k:]:
            passed += 1
    out["reconnect"].update({"after_change": k, "missed_changes": 5, "passed": passed,
                             "failed": len(gone) - passed})
    feeds = sorted(c["run_feed_s"] for c in sent.values())
    out["run_feed_ms_p50"] = _ms(feeds[len(feeds) // 2])
    out["run_feed_ms_max"] = _ms(feeds[-1])
    return out


def run_sse(args: argparse.Namespace, work: Path, pg_base: str) -> dict[str, Any]:
    raise_fd_limit(args.subscribers * 2 + 500)
    out: dict[str, Any] = {"backends": {}}
    for backend in args.backends:
        with database(backend, work, pg_base, f"sse-{backend}") as url:
            home = work / f"sse-{backend}"
            csv_path = home / "hackney-delta.csv"
            platform = platform_for(url, home)
            try:
                prepare_feed(platform, csv_path)
                port = free_port()
                cmd = [sys.executable, "-m", "citydata.cli", "serve", "--host", HOST,
                       "--port", str(port)]
                prof = work / f"sse-{backend}.prof"
                if args.profile and not out.get("profile"):
                    cmd[1:3] = ["-m", "bench.planning_live_bench", "profiled", str(prof)]
                wake = ("LISTEN/NOTIFY" if backend == "postgresql" else
                        f"poll every {SQLITE_POLL_SECONDS:g} s")
                log(f"SSE on {backend}: citydata serve ({wake}), {args.subscribers} "
                    f"subscribers, {args.changes} changes")
                with serve(f"citydata-sse-{backend}", cmd, f"http://{HOST}:{port}/api/v1/events",
                           port, work, env=citydata_env(backend, url, home, port)) as server:
                    res = run_async(sse_citydata(server, platform, csv_path,
                                                 f"LIVE-{backend[:2].upper()}", args))
                res["wake_up"] = wake
                out["backends"][backend] = res
                if prof.exists():
                    out["profile"] = {"backend": backend, "top": profile_text(prof)}
                    log(f"server profile ({backend}):\n{out['profile']['top']}")
                lat = res["latency"]
                log(f"  {backend}: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
                    f"max {lat['max_ms']:.1f} ms; missing {res['missing']}, duplicates "
                    f"{res['duplicates']}; reconnect {res['reconnect']['passed']}/"
                    f"{res['reconnect']['subscribers']} exact; CPU {res['cpu_s']}")
            finally:
                platform.close()
    port = free_port()
    log(f"SSE peer: minimal broadcaster, {args.subscribers} subscribers, {args.changes} "
        "messages")
    with serve("sse-peer", [sys.executable, "-m", "bench.planning_live_bench", "peer",
                            "--port", str(port)], f"http://{HOST}:{port}/ready", port,
               work) as server:
        out["peer"] = peer = run_async(sse_peer(server, args))
    lat = peer["latency"]
    log(f"  peer: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max "
        f"{lat['max_ms']:.1f} ms; missing {peer['missing']}; CPU {peer['cpu_s']}")
    return out


def profile_text(path: Path, top: int = 30) -> str:
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(path), stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return buf.getvalue()


# ------------------------------------------------------------------------ SSE: the peer


async def sse_peer(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    clients = Clients(f"{server.base}/events", args.subscribers, with_filters=False)
    from citydata.events.log import Event
    from citydata.events.webhook_dispatch import event_body

    kind, key, data = planning_events(1)[0]
    body = event_body(Event(1, STREAM, kind, key, datetime.now(UTC).replace(tzinfo=None), data))
    sent: dict[int, dict[str, Any]] = {}
    out: dict[str, Any] = {"subscribers": args.subscribers, "messages": args.changes}
    try:
        out["connect_s"] = round(await clients.connect(clients.subs), 2)
        cpu0 = (cpu_seconds(server.pid), cpu_seconds(None))
        out["load_before"] = os.getloadavg()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as pub:
            for _ in range(args.changes):
                t0 = time.perf_counter()
                r = await pub.post("/publish", content=body)
                sent[r.json()["id"]] = {"t0": t0}
                await asyncio.sleep(max(0.0, t0 + 1.0 - time.perf_counter()))
        await clients.wait_for(max(sent), args.subscribers, 10)
        await asyncio.sleep(0.5)
        out["cpu_s"] = {"server": round(cpu_seconds(server.pid) - cpu0[0], 2),
                        "bench_process": round(cpu_seconds(None) - cpu0[1], 2)}
        out["load_after"] = os.getloadavg()
    finally:
        await clients.close()
    out.update(fanout_stats(clients, sent, {}))
    out["data_bytes"] = len(body)
    return out


def peer_app() -> Any:
    """One in-memory queue per subscriber; ``POST /publish`` puts the same frame on each."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    queues: set[asyncio.Queue[str]] = set()
    last = [0]

    async def events(request: Request) -> StreamingResponse:
        q: asyncio.Queue[str] = asyncio.Queue()
        queues.add(q)

        async def frames() -> Any:
            try:
                yield "retry: 3000\n\n"
                while True:
                    yield await q.get()
            finally:
                queues.discard(q)

        return StreamingResponse(frames(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    async def publish(request: Request) -> JSONResponse:
        data = (await request.body()).decode()
        last[0] += 1
        frame = f"id: {last[0]}\nevent: application.received\ndata: {data}\n\n"
        for q in list(queues):
            q.put_nowait(frame)
        return JSONResponse({"id": last[0], "subscribers": len(queues)})

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"subscribers": len(queues), "pid": os.getpid()})

    return Starlette(routes=[Route("/events", events), Route("/ready", ready),
                             Route("/publish", publish, methods=["POST"])])


# ------------------------------------------------------------------------ webhooks


LPAS = [("hackney", "E09000012", "Hackney"), ("camden", "E09000007", "Camden"),
        ("islington", "E09000019", "Islington"), ("southwark", "E09000028", "Southwark"),
        ("tower-hamlets", "E09000030", "Tower Hamlets"), ("lambeth", "E09000022", "Lambeth")]
STREETS = ["Kingsland High Street", "Mare Street", "Stoke Newington Church Street",
           "Holloway Road", "Camden High Street", "Walworth Road", "Brixton Hill",
           "Roman Road", "Upper Street", "Old Kent Road", "Kentish Town Road", "Dalston Lane"]
PROPOSALS = [
    "Change of use from shop (Class E) to cafe and takeaway (Sui Generis) with extract duct",
    "Single storey rear extension and replacement of timber sash windows with double glazing",
    "Roof extension with rear dormer and front rooflights to create {n} self-contained flats",
    "Erection of a part four, part six storey building comprising {n} residential units",
    "Installation of air source heat pump and acoustic enclosure to the rear garden",
    "Demolition of existing garage and erection of a two storey dwelling house",
]
KINDS = [("application.received", 55), ("application.validated", 20),
         ("application.decided", 15), ("application.updated", 10)]
STATUS = {"application.received": "received", "application.validated": "validated",
          "application.decided": "decided", "application.updated": "under_consideration"}


def planning_events(n: int, seed: int = 7) -> list[tuple[str, str, dict[str, Any]]]:
    """``n`` (type, key, data) planning events shaped like ``run_feed``'s (~1 KB each)."""
    rng = random.Random(seed)
    run = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    resource_hash = hashlib.sha256(f"export-{seed}".encode()).hexdigest()
    kinds, weights = zip(*KINDS, strict=True)
    out = []
    for i in range(n):
        slug, gss, name = rng.choice(LPAS)
        year, num = rng.randint(2022, 2026), rng.randint(1, 9999)
        ref = f"{year}/{num:04d}"
        app_id = f"{name.replace(' ', '')}-{year}_{num:04d}"
        kind = rng.choices(kinds, weights)[0]
        lon, lat = round(-0.2 + rng.random() * 0.25, 6), round(51.45 + rng.random() * 0.12, 6)
        units = rng.choice([0, 0, 0, 1, 2, 4, 9, 24, 120])
        street, number = rng.choice(STREETS), rng.randint(1, 400)
        decision = rng.choice(["approved", "approved_with_conditions", "refused"]) \
            if kind == "application.decided" else None
        application = {
            "id": app_id, "lpa_code": gss, "lpa_name": name, "lpa_app_no": ref, "ward": None,
            "uprn": str(10008000000 + rng.randint(0, 999999)), "site_name": str(number),
            "street_name": street, "postcode": f"E{rng.randint(1, 20)} {rng.randint(1, 9)}"
            f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
            "centroid": f"POINT({lon} {lat})",
            "description": rng.choice(PROPOSALS).format(n=max(units, 2)),
            "application_type": rng.choice(["full", "householder", "prior_approval"]),
            "development_type": None, "status": STATUS[kind], "decision": decision,
            "decision_agency": None, "received_date": f"{year}-0{rng.randint(1, 9)}-1"
            f"{rng.randint(0, 9)}", "valid_date": None, "decision_date": None,
            "appeal_status": None, "appeal_decision": None,
            "proposed_residential_units": units, "existing_residential_units": None,
            "site_area_ha": None, "url": f"https://planning.{slug}.gov.uk/{ref}",
            "last_updated": f"{year}-10-0{rng.randint(1, 9)}T10:00:00Z", "lon": lon, "lat": lat}
        data: dict[str, Any] = {"application": application, "source": {
            "feed": slug, "run": run, "resource": resource_hash, "row": i + 1}}
        if kind == "application.received":
            data["original"] = {"street_name": f"{number} {street}, London",
                                "centroid": f"{530000 + i % 9000} {180000 + i % 7000}"}
        else:
            data["changed"] = {"status": "received", "decision": None}
            data["fields"] = ["decision", "status"] if decision else ["status"]
        out.append((kind, app_id, data))
    return out


class ReceiverApp:
    """The webhook receiver (raw ASGI): every POST to a known path is checked with citydata's
    ``verify_signature`` and its event id counted; ``GET /stats``; ``POST /reset``."""

    def __init__(self) -> None:
        self.reset({})

    def reset(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.seen: dict[str, set[int]] = {p: set() for p in secrets}
        self.dups = dict.fromkeys(secrets, 0)
        self.bad = dict.fromkeys(secrets, 0)
        self.requests = self.unknown = self.aborted = 0
        self.first_at: float | None = None
        self.last_new_at: float | None = None

    def stats(self, first: int = 0, last: int = -1) -> dict[str, Any]:
        """Counts per endpoint; with ``first``/``last``, the ids in that range not seen."""
        span = range(first, last + 1)
        return {"endpoints": {p: {"unique": len(self.seen[p]), "duplicates": self.dups[p],
                                  "bad_signatures": self.bad[p],
                                  "missing": [i for i in span if i not in self.seen[p]]}
                              for p in self.secrets},
                "requests": self.requests, "unknown_path": self.unknown,
                "aborted": self.aborted,
                "first_at": self.first_at, "last_new_at": self.last_new_at,
                "pid": os.getpid()}

    def deliver(self, path: str, headers: dict[bytes, bytes], body: bytes) -> None:
        from citydata.events.webhooks import verify_signature

        now = time.monotonic()
        self.requests += 1
        self.first_at = self.first_at or now
        signed = headers.get(b"citydata-signature", b"").decode()
        if not verify_signature(self.secrets[path], signed, body):
            self.bad[path] += 1
        event_id = int(headers.get(b"citydata-event-id", b"0"))
        if event_id in self.seen[path]:
            self.dups[path] += 1
        else:
            self.seen[path].add(event_id)
            self.last_new_at = now

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":  # a sender cut off mid-request
                self.aborted += 1
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        path, method, status, out = scope["path"], scope["method"], 200, b"{}"
        if method == "POST" and path in self.secrets:
            self.deliver(path, dict(scope["headers"]), body)
        elif path == "/stats":
            q = dict(x.split("=", 1) for x in scope["query_string"].decode().split("&") if x)
            out = json.dumps(self.stats(int(q.get("first", 0)), int(q.get("last", -1)))).encode()
        elif method == "POST" and path == "/reset":
            self.reset(json.loads(body)["secrets"])
        else:
            self.unknown += 1
            status = 404
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


def _subscribe(platform: Any, receiver: str, n: int) -> dict[str, tuple[str, str]]:
    """``n`` subscriptions on the planning stream: receiver path → (subscription id, secret)."""
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.events import webhooks

    subs = {}
    with platform.db.session() as session:
        ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
        for i in range(n):
            sub = webhooks.create(platform, ctx, {"stream": STREAM, "url": f"{receiver}/hook/{i}",
                                                  "description": f"bench endpoint {i}"})
            subs[f"/hook/{i}"] = (sub.id, sub.secret)
    return subs


async def _until_all(receiver: str, expected: int, budget: float, t_start: float,
                     running: asyncio.Task[Any] | None = None) -> bool:
    """Poll the receiver until every endpoint has ``expected`` events (True) or the budget
    passes or ``running`` ends (False)."""
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        while True:
            await asyncio.sleep(0.25)
            stats = (await http.get(f"{receiver}/stats")).json()
            if all(e["unique"] >= expected for e in stats["endpoints"].values()):
                return True
            if time.monotonic() - t_start > budget or (running is not None and running.done()):
                return False


def _receiver_stats(receiver: str, first: int, last: int) -> dict[str, Any]:
    r = httpx.get(f"{receiver}/stats", params={"first": first, "last": last}, timeout=60)
    r.raise_for_status()
    return dict(r.json())


def _delivery_summary(stats: dict[str, Any], expected: int, t_start: float,
                      complete: bool) -> dict[str, Any]:
    eps = stats["endpoints"].values()
    unique = sum(e["unique"] for e in eps)
    # Both clocks are CLOCK_MONOTONIC (system-wide on Linux): the receiver's last new
    # arrival minus the start of sending here.
    seconds = (stats["last_new_at"] or t_start) - t_start
    return {"endpoints": len(stats["endpoints"]), "expected": expected * len(stats["endpoints"]),
            "delivered": unique, "not_delivered": sum(len(e["missing"]) for e in eps),
            "duplicated": sum(e["duplicates"] for e in eps),
            "bad_signatures": sum(e["bad_signatures"] for e in eps),
            "requests": stats["requests"], "aborted_requests": stats["aborted"],
            "complete": complete, "seconds": round(seconds, 2),
            "deliveries_per_s": round(unique / seconds, 1) if seconds > 0 else None}


async def dispatch_real(platform: Any, receiver: Server, expected: int,
                        budget: float) -> dict[str, Any]:
    """The server's dispatcher loop in this process until the receiver has everything."""
    from citydata.events.hub import Hub
    from citydata.events.webhooks import run

    cpu0 = (cpu_seconds(receiver.pid), cpu_seconds(None))
    t_start = time.monotonic()
    task = asyncio.create_task(run(platform), name="bench-dispatcher")
    try:
        complete = await _until_all(receiver.base, expected, budget, t_start, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await Hub.close_all(platform)
    return {"complete": complete, "t_start": t_start,
            "cpu_s": {"receiver": round(cpu_seconds(receiver.pid) - cpu0[0], 2),
                      "bench_process": round(cpu_seconds(None) - cpu0[1], 2)}}


def queue_state(platform: Any, subs: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Per receiver path: the subscription's cursor, counters and retry/dead event ids."""
    from sqlalchemy import select

    from citydata.storage.models_webhooks import WebhookDelivery as D
    from citydata.storage.models_webhooks import WebhookSubscription as S

    out = {}
    with platform.db.session() as session:
        for path, (sid, _) in subs.items():
            sub = session.get(S, sid)
            assert sub is not None
            rows = session.execute(select(D.event_id, D.status).where(D.subscription_id == sid))
            queued: dict[str, list[int]] = {"retrying": [], "dead": [], "delivered": []}
            for eid, status in rows:
                queued[status].append(int(eid))
            out[path] = {"cursor": sub.cursor, "delivered": sub.delivered, "failed": sub.failed,
                         **queued}
    return out


def webhook_backend(backend: str, url: str, home: Path, receiver: Server,
                    items: list[tuple[str, str, dict[str, Any]]],
                    args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import func, select

    from citydata.events import log as events
    from citydata.storage.migrate import upgrade
    from citydata.storage.models_events import EventRow

    platform = platform_for(url, home)
    try:
        upgrade(platform.db)
        subs = _subscribe(platform, receiver.base, args.endpoints)
        secrets = {path: secret for path, (_, secret) in subs.items()}
        httpx.post(f"{receiver.base}/reset", json={"secrets": secrets}).raise_for_status()
        t0 = time.perf_counter()
        with platform.db.session() as session:
            events.append_many(session, STREAM, items)
        append_s = time.perf_counter() - t0
        with platform.db.session() as session:
            first, last = session.execute(select(func.min(EventRow.id), func.max(EventRow.id))
                                          ).one()
        log(f"  {backend}: {len(items):,} events appended in {append_s:.2f} s (ids {first}–"
            f"{last}); dispatching")
        load = os.getloadavg()
        run = run_async(dispatch_real(platform, receiver, len(items), args.webhook_budget))
        stats = _receiver_stats(receiver.base, first, last)
        out = _delivery_summary(stats, len(items), run.pop("t_start"), run.pop("complete"))
        out.update(run)
        state = queue_state(platform, subs)
        lost = pending = 0
        for path, st in state.items():
            missing = stats["endpoints"][path]["missing"]
            queued = set(st["retrying"]) | set(st["dead"])
            # Not at the receiver, the cursor past it, and not queued for retry: lost.
            lost += sum(1 for m in missing if m <= st["cursor"] and m not in queued)
            pending += sum(1 for m in missing if m > st["cursor"] or m in queued)
        out.update({"lost": lost, "pending_at_stop": pending, "append_s": round(append_s, 3),
                    "retries": sum(st["failed"] for st in state.values()),
                    "dead": sum(len(st["dead"]) for st in state.values()),
                    "load_before": load, "load_after": os.getloadavg(),
                    "max_in_flight": platform.settings.webhook_max_in_flight})
    finally:
        platform.close()
    return out


async def raw_posts(receiver: Server, secrets: dict[str, str],
                    bodies: list[tuple[int, str, bytes]], concurrency: int,
                    budget: float) -> dict[str, Any]:
    """Every body to every endpoint, signed as a delivery is, from ``concurrency`` workers
    (they stop taking new work when ``budget`` seconds have passed)."""
    from citydata.events.webhook_signing import delivery_headers

    httpx.post(f"{receiver.base}/reset", json={"secrets": secrets}).raise_for_status()
    jobs = ((path, eid, kind, body) for eid, kind, body in bodies for path in secrets)
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    cpu0 = (cpu_seconds(receiver.pid), cpu_seconds(None))
    async with httpx.AsyncClient(base_url=receiver.base, timeout=30, trust_env=False,
                                 limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            for path, eid, kind, body in jobs:
                if time.monotonic() - t_start > budget:
                    return
                headers = delivery_headers(secrets[path], body, eid, kind, 1)
                try:
                    r = await client.post(path, content=body, headers=headers)
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1

        t_start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    stats = _receiver_stats(receiver.base, 1, len(bodies))
    out = _delivery_summary(stats, len(bodies), t_start, complete=not any(
        e["missing"] for e in stats["endpoints"].values()))
    out.update({"lost": errors, "errors": errors, "concurrency": concurrency})
    out["cpu_s"] = {"receiver": round(cpu_seconds(receiver.pid) - cpu0[0], 2),
                    "bench_process": round(cpu_seconds(None) - cpu0[1], 2)}
    return out


def run_webhooks(args: argparse.Namespace, work: Path, pg_base: str) -> dict[str, Any]:
    from citydata.events.log import Event
    from citydata.events.webhook_dispatch import event_body
    from citydata.settings import Settings

    items = planning_events(args.events)
    created = datetime.now(UTC).replace(tzinfo=None)
    bodies = [(i, kind, event_body(Event(i, STREAM, kind, key, created, data)))
              for i, (kind, key, data) in enumerate(items, 1)]
    concurrency = Settings(env="dev").webhook_max_in_flight
    mean_body = round(sum(len(b) for *_, b in bodies) / len(bodies))
    out: dict[str, Any] = {"events": len(items), "endpoints": args.endpoints,
                           "max_in_flight": concurrency, "body_bytes_mean": mean_body,
                           "backends": {}}
    port = free_port()
    with serve("receiver", [sys.executable, "-m", "bench.planning_live_bench", "receiver",
                            "--port", str(port)], f"http://{HOST}:{port}/stats", port,
               work) as receiver:
        secrets = {f"/hook/{i}": f"whsec_bench{i}" for i in range(args.endpoints)}
        out["load_before_raw"] = os.getloadavg()
        log(f"webhooks raw: {len(bodies) * args.endpoints:,} POSTs with bare httpx, "
            f"{concurrency} in flight")
        out["raw"] = raw = run_async(raw_posts(receiver, secrets, bodies, concurrency,
                                               args.webhook_budget))
        log(f"  raw: {raw['seconds']} s, {raw['deliveries_per_s']:,} deliveries/s, errors "
            f"{raw['errors']}, complete {raw['complete']}")
        # Where the time goes: the same client with a smaller pool, for a short while.
        few = min(10, concurrency)
        out["raw_small_pool"] = small = run_async(raw_posts(
            receiver, secrets, bodies, few, min(20.0, args.webhook_budget)))
        log(f"  raw, {few} in flight: {small['deliveries_per_s']:,} deliveries/s over "
            f"{small['seconds']} s")
        for backend in args.backends:
            log(f"webhooks on {backend}: {args.endpoints} subscriptions, {len(items):,} events")
            with database(backend, work, pg_base, f"wh-{backend}") as url:
                out["backends"][backend] = res = webhook_backend(
                    backend, url, work / f"wh-{backend}", receiver, items, args)
            log(f"  {backend}: {res['seconds']} s, {res['deliveries_per_s']} deliveries/s, "
                f"lost {res['lost']}, duplicated {res['duplicated']}, bad signatures "
                f"{res['bad_signatures']}, retries {res['retries']}; CPU {res['cpu_s']}")
    return out


# ------------------------------------------------------------------------ report

SSE_HEADERS = ["backend", "SSE fan-out", "deliveries", "p50 ms", "p95 ms", "p99 ms", "max ms",
               "target", "verdict", "notes"]
WH_HEADERS = ["backend", "webhook fan-out", "deliveries", "seconds", "deliveries/s", "lost",
              "duplicated", "bad sig.", "retries", "target", "verdict", "notes"]


def sse_rows(result: dict[str, Any]) -> list[list[str]]:
    s = result.get("sse")
    if not s:
        return []
    rows = []
    target = TARGETS["sse_p99_ms"]
    for backend, b in s["backends"].items():
        lat, rc = b["latency"], b["reconnect"]
        rows.append([
            backend, f"{b['subscribers']:,} subscribers ({b['filtered']} filtered), "
            f"{b['changes']} run_feed changes; wake-up: {b['wake_up']}",
            f"{b['deliveries']:,}", f"{lat['p50_ms']:.1f}", f"{lat['p95_ms']:.1f}",
            f"{lat['p99_ms']:.1f}", f"{lat['max_ms']:.1f}", f"p99 < {target:g}",
            "met" if lat["p99_ms"] < target and not b["missing"] else "MISSED",
            f"missing {b['missing']}, duplicates {b['duplicates']}; per-change p99 median "
            f"{b['per_change_p99_ms_median']:.0f} / max {b['per_change_p99_ms_max']:.0f} ms; "
            f"run_feed p50 {b['run_feed_ms_p50']:.0f} ms; reconnect after change "
            f"{rc['after_change']}, 5 missed: {rc['passed']}/{rc['subscribers']} exact"])
    p = s.get("peer")
    if p:
        lat = p["latency"]
        rows.append(["(none)", f"raw: minimal broadcaster (Starlette, in-memory queues), "
                     f"{p['subscribers']:,} subscribers, {p['messages']} POST /publish",
                     f"{p['deliveries']:,}", f"{lat['p50_ms']:.1f}", f"{lat['p95_ms']:.1f}",
                     f"{lat['p99_ms']:.1f}", f"{lat['max_ms']:.1f}", "", "",
                     f"missing {p['missing']}, duplicates {p['duplicates']}"])
    return rows


def webhook_rows(result: dict[str, Any]) -> list[list[str]]:
    w = result.get("webhooks")
    if not w:
        return []
    what = f"{w['events']:,} events × {w['endpoints']} endpoints"

    def cells(b: dict[str, Any]) -> list[str]:
        return [f"{b['delivered']:,}", f"{b['seconds']:.1f}", f"{b['deliveries_per_s'] or 0:,.0f}",
                str(b["lost"]), str(b["duplicated"]), str(b["bad_signatures"])]

    def cpu(b: dict[str, Any]) -> str:
        per = 1000 * b["cpu_s"]["bench_process"] / max(1, b["requests"])
        return (f"CPU: sender {b['cpu_s']['bench_process']} s ({per:.2f} ms a request), "
                f"receiver {b['cpu_s']['receiver']} s")

    rows = []
    for backend, b in w["backends"].items():
        ok = b["lost"] == 0 and b["complete"]
        note = "" if b["complete"] else (
            f"budget passed, {b['pending_at_stop']:,} not sent yet (after the cursors or "
            f"queued): all would take ~{b['expected'] / (b['deliveries_per_s'] or 1):,.0f} s; ")
        rows.append([backend, f"{what}: dispatcher loop `webhooks.run` in the bench process",
                     *cells(b), str(b["retries"]), "all arrive, lost = 0",
                     "met" if ok else "MISSED", f"{note}{cpu(b)}; append_many "
                     f"{b['append_s']:.2f} s"])
    for key in ("raw", "raw_small_pool"):
        r = w.get(key)
        if r:
            rows.append(["(none)", f"raw: {what}, bare httpx, {r['concurrency']} in flight, "
                         "no database", *cells(r), "", "", "",
                         ("" if r["complete"] else "stopped at its budget (errors = lost); ")
                         + cpu(r)])
    return rows


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *["| " + " | ".join(r) + " |" for r in rows]]


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [f"# Planning live-feed benchmark — {result['started'][:10]}", "",
             f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), Python {m.get('python')}, "
             f"SQLite {m.get('sqlite')}, PostgreSQL {m.get('postgresql') or '-'}, httpx "
             f"{m.get('httpx')}, uvicorn {m.get('uvicorn')}; citydata "
             f"{m.get('citydata_commit')}{' (dirty tree)' if m.get('worktree_dirty') else ''}.",
             ""]
    if result.get("sse"):
        lines += ["## SSE fan-out: `/api/v1/planning/events`", "",
                  "`citydata serve` in its own process; the subscribers in the benchmark's "
                  "process (one asyncio loop, httpx). Latency: the `data:` line's arrival minus "
                  "the moment before `run_feed(kind=\"delta\")` (a one-row CSV, a new "
                  "application) was called in the benchmark's process — harmonising, the "
                  "commit and the server's wake-up included. SQLite: the server's hub polls "
                  f"every {SQLITE_POLL_SECONDS:g} s (`CITYDATA_EVENTS_POLL_SECONDS`); "
                  "PostgreSQL: LISTEN/NOTIFY. The raw row is a minimal broadcaster with the "
                  "same clients and frame size, latency from before its `POST /publish`.", "",
                  *_table(SSE_HEADERS, sse_rows(result)), ""]
    if result.get("webhooks"):
        lines += ["## Webhook fan-out", "",
                  "20 subscriptions on `planning`, the events appended with `append_many` in "
                  "one transaction, then the dispatcher loop `webhooks.run(platform)` in the "
                  "benchmark's process until the receiver (own process, raw ASGI under "
                  "uvicorn, `verify_signature` on every POST) has every event at every "
                  "endpoint. Seconds: from the dispatcher's start to the last new delivery. "
                  "Retries: failed first attempts (queued for retry).", "",
                  *_table(WH_HEADERS, webhook_rows(result)), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    pg_base = pg_base_url()
    work = Path(tempfile.mkdtemp(prefix="citydata-livebench-"))
    result: dict[str, Any] = {
        "benchmark": "planning-live", "started": started.isoformat(timespec="seconds"),
        "config": {k: getattr(args, k) for k in ("parts", "backends", "subscribers", "changes",
                                                 "reconnect", "events", "endpoints",
                                                 "webhook_budget", "quick")},
        "targets": TARGETS,
    }
    try:
        result["machine"] = machine_info(pg_base if "postgresql" in args.backends else None)
        if "sse" in args.parts:
            result["sse"] = run_sse(args, work, pg_base)
        if "webhooks" in args.parts:
            result["webhooks"] = run_webhooks(args, work, pg_base)
    except BaseException:
        print_server_logs(work, log)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.output.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    json_path = args.output / f"planning-live-{started.strftime('%Y-%m-%d')}{suffix}.json"
    md_path = args.output / f"latest-planning-live{suffix}.md"
    json_path.write_text(json.dumps(result, indent=2))
    md_path.write_text(markdown(result))
    if result.get("sse"):
        print_table("citydata planning SSE fan-out", SSE_HEADERS, sse_rows(result),
                    right=("ms", "deliveries"))
    if result.get("webhooks"):
        print_table("citydata planning webhook fan-out", WH_HEADERS, webhook_rows(result),
                    right=("deliveries", "seconds", "/s", "lost", "duplicated", "sig.",
                           "retries"))
    log(f"wrote {json_path} and {md_path}")
    return 0


def serve_helper(argv: list[str]) -> None:
    """``peer --port P`` (the SSE broadcaster) or ``receiver --port P`` (the webhook receiver),
    under uvicorn as ``citydata serve`` runs (uvloop and httptools when installed)."""
    import uvicorn

    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["peer", "receiver"])
    p.add_argument("--port", type=int, required=True)
    a = p.parse_args(argv)
    app = peer_app() if a.what == "peer" else ReceiverApp()
    # Keep-alive longer than any pause in the run: an idle close racing a new POST would be
    # a failed delivery that says nothing about the dispatcher.
    uvicorn.run(app, host=HOST, port=a.port, log_level="warning", access_log=False,
                lifespan="off", timeout_keep_alive=120, backlog=4096)


def profiled(out: str, cli_args: list[str]) -> None:
    """``citydata <cli_args>`` under cProfile (the event loop's thread), written to ``out``
    when SIGTERM stops it. (``python -m cProfile`` writes nothing: uvicorn re-raises the
    signal after its shutdown, and the default SIGTERM action ends the process at once.)"""
    import cProfile
    import signal

    from citydata.cli import main as cli

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    prof = cProfile.Profile()
    prof.enable()
    try:
        cli.main(args=cli_args, prog_name="citydata", standalone_mode=False)
    except SystemExit:
        pass
    finally:
        prof.disable()
        prof.dump_stats(out)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("peer", "receiver"):
        serve_helper(sys.argv[1:])
    elif len(sys.argv) > 2 and sys.argv[1] == "profiled":
        profiled(sys.argv[2], sys.argv[3:])
    else:
        raise SystemExit(main())

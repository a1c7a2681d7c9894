"""Load test: a mixed workload of many users against the production configuration.

    python -m bench.loadtest.run --locust .venv-locust/bin/locust           # 200 users, 10 min
    python -m bench.loadtest.run --locust ... --users 50 --minutes 1        # a short run
    make loadtest LOADTEST_USERS=50 LOADTEST_MINUTES=1

Prepares the PostgreSQL database ``citydata_loadtest`` (demo catalog, built once and refreshed
after), serves it with ``citydata serve --workers N`` (``CITYDATA_ENV=production``, a random
48-byte secret, the production jobs interval), finds and checks the requests to make, measures
two floors (the same workload by one user without think time; ``/healthz`` from 20 users without
think time), then runs the load with locust while sampling the server's memory. Prints a table,
writes ``bench/results/loadtest-<date>[-nocache][-quick].json`` and
``latest-loadtest[-nocache][-quick].md`` (quick: fewer users or minutes than the issue's 200
for 10; nocache: ``--no-response-cache``). Targets (0 errors, p99 < 500 ms) are printed
as met or MISSED; the exit status is 1 only when the load phase had errors or the server died.
The server and locust are always stopped, also on an error or Ctrl-C. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.console import pg_base_url, print_server_logs
from bench.loadtest import database, memory, report, server, targets
from bench.machine import machine_info
from bench.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
FULL_USERS, FULL_MINUTES = 200, 10.0
FLOOR_HEALTHZ_USERS = 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.loadtest.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=FULL_USERS, help="concurrent users (200)")
    p.add_argument("--minutes", type=float, default=FULL_MINUTES, help="length of the load (10)")
    p.add_argument("--spawn-rate", type=float, default=20, help="users started per second (20)")
    p.add_argument("--think", default="1,3",
                   help="think time between a user's requests: 'lo,hi' seconds, uniform (1,3)")
    p.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    p.add_argument("--locust", default=str(ROOT / ".venv-locust" / "bin" / "locust"),
                   help="the locust executable (make loadtest installs it in .venv-locust)")
    p.add_argument("--database", default="citydata_loadtest", help="PostgreSQL database name")
    p.add_argument("--home", type=Path, default=ROOT / "var" / "loadtest" / "home",
                   help="the server's CITYDATA_HOME (file store), kept with the database")
    p.add_argument("--fresh", action="store_true", help="drop and rebuild the database first")
    p.add_argument("--no-response-cache", action="store_true",
                   help="serve with CITYDATA_RESPONSE_CACHE_MB=0: every request made by the app "
                        "(the comparison run for the anonymous response cache)")
    p.add_argument("--floor-seconds", type=float, default=20,
                   help="length of each floor measurement (0: none)")
    p.add_argument("--sample-seconds", type=float, default=10, help="memory sampling interval")
    p.add_argument("--output", type=Path, default=RESULTS, help="where results are written")
    args = p.parse_args(argv)
    if args.users < 1 or args.minutes <= 0 or args.workers < 1:
        p.error("--users, --minutes and --workers must be positive")
    if not Path(args.locust).exists():
        p.error(f"{args.locust} not found: `make .venv-locust/.installed` installs locust")
    args.quick = args.users < FULL_USERS or args.minutes < FULL_MINUTES
    return args


def log(msg: str) -> None:
    print(f"[loadtest {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def server_env(args: argparse.Namespace, url: str, port: int) -> dict[str, str]:
    """The production configuration, and nothing of the caller's CITYDATA_* settings."""
    from citydata.settings import Settings

    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    jobs = Settings.model_fields["jobs_interval_seconds"].default
    env.update({
        "CITYDATA_ENV": "production", "CITYDATA_SECRET_KEY": secrets.token_urlsafe(48),
        "CITYDATA_HOME": str(args.home), "CITYDATA_DATABASE_URL": url,
        "CITYDATA_HOST": server.HOST, "CITYDATA_PORT": str(port),
        "CITYDATA_SITE_URL": f"http://{server.HOST}:{port}",
        "CITYDATA_JOBS_INTERVAL_SECONDS": f"{jobs:g}"})
    if args.no_response_cache:
        env["CITYDATA_RESPONSE_CACHE_MB"] = "0"
    return env


def _settings(env: dict[str, str]) -> Any:
    from citydata.settings import Settings

    return Settings(env="production", secret_key=env["CITYDATA_SECRET_KEY"],
                    home=Path(env["CITYDATA_HOME"]), database_url=env["CITYDATA_DATABASE_URL"],
                    site_url=env["CITYDATA_SITE_URL"])


def locust_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    parts = out.stdout.split()
    return parts[1] if len(parts) > 1 else "unknown"


def run_locust(args: argparse.Namespace, base: str, targets_file: Path, work: Path, phase: str,
               *, users: int, seconds: float, think: str, user_class: str) -> dict[str, Any]:
    """One headless locust run; its statistics per kind, failures and slowest requests."""
    prefix = work / phase
    slow_file = work / f"{phase}-slow.json"
    cmd = [args.locust, "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
           "-r", f"{min(args.spawn_rate, users):g}", "-t", f"{max(1, round(seconds))}s",
           "--host", base, "--csv", str(prefix), "--only-summary",
           "--loglevel", "WARNING", user_class]
    env = {**os.environ, "LOADTEST_TARGETS": str(targets_file), "LOADTEST_WAIT": think,
           "LOADTEST_SLOW_FILE": str(slow_file)}
    with (work / f"{phase}-locust.log").open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=seconds + 120)
        finally:
            server.stop(proc, grace=15)
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust ({phase}) wrote no statistics (exit {code}):\n"
                           + (work / f"{phase}-locust.log").read_text(errors="replace")[-2000:])
    stats = report.read_stats(prefix)
    slow = json.loads(slow_file.read_text()) if slow_file.exists() else {}
    return {"stats": stats, "failures": report.read_failures(prefix), "slowest": slow,
            "locust_exit": code, "seconds": seconds, "users": users, "think_time": think}


def phase_floor(args: argparse.Namespace, base: str, targets_file: Path,
                work: Path) -> dict[str, Any]:
    secs = args.floor_seconds
    log(f"floor: the same workload by 1 user, no think time ({secs:g} s)")
    one = run_locust(args, base, targets_file, work, "floor-one-user", users=1, seconds=secs,
                     think="0", user_class="CityUser")
    log(f"floor: /healthz from {FLOOR_HEALTHZ_USERS} users, no think time ({secs:g} s)")
    hz = run_locust(args, base, targets_file, work, "floor-healthz", users=FLOOR_HEALTHZ_USERS,
                    seconds=secs, think="0", user_class="HealthzUser")
    hz["stats"].pop("total", None)  # one kind: the total repeats it
    return {"one_user": {**one, "label": "floor: 1 user, no think time"},
            "healthz": {**hz, "label": f"floor: /healthz, {FLOOR_HEALTHZ_USERS} users"}}


def phase_load(args: argparse.Namespace, srv: server.Server, targets_file: Path,
               work: Path) -> dict[str, Any]:
    seconds = args.minutes * 60
    log(f"load: {args.users} users, {args.spawn_rate:g}/s, think {args.think} s, "
        f"{args.minutes:g} min; RSS every {args.sample_seconds:g} s")
    with memory.Sampler(srv.processes, args.sample_seconds) as sampler:
        out = run_locust(args, srv.base, targets_file, work, "load", users=args.users,
                         seconds=seconds, think=args.think, user_class="CityUser")
    out["memory"] = memory.summarise(sampler.samples)
    out["memory_samples"] = sampler.samples
    out["targets"] = report.targets(out["stats"]["total"])
    cpu, total = out["memory"].get("cpu", {}), out["stats"]["total"]["requests"]
    if cpu.get("server_cpu_s") is not None and total:
        cpu["server_cpu_ms_per_request"] = round(1000 * cpu["server_cpu_s"] / total, 1)
    return out


def server_verdict(srv: server.Server) -> dict[str, Any]:
    workers = srv.workers() if srv.alive() else []
    same = set(workers) == set(srv.workers_at_start)
    verdict = ("alive, workers unchanged" if srv.alive() and same else
               "DIED" if not srv.alive() else
               f"a worker died and was replaced ({srv.workers_at_start} → {workers})")
    return {"alive": srv.alive(), "workers_at_start": srv.workers_at_start,
            "workers_at_end": workers, "ok": srv.alive() and same, "verdict": verdict}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from citydata.platform import Platform

    started = datetime.now(UTC)
    base_url = pg_base_url()
    port = free_port()
    url = database.database_url(base_url, args.database)
    env = server_env(args, url, port)
    database.prepare(base_url, args.database, args.home, env, fresh=args.fresh, log=log)
    platform = Platform(_settings(env))
    try:
        governed = database.governed_access(platform)
    finally:
        platform.close()
    result: dict[str, Any] = {
        "benchmark": "loadtest", "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(url),
        "config": {"users": args.users, "minutes": args.minutes, "spawn_rate": args.spawn_rate,
                   "think_time": f"uniform {args.think.replace(',', '–')} s",
                   "workers": args.workers, "database": args.database, "quick": args.quick,
                   "jobs_interval_seconds": float(env["CITYDATA_JOBS_INTERVAL_SECONDS"]),
                   "response_cache": not args.no_response_cache,
                   "env": "production", "floor_seconds": args.floor_seconds,
                   "weights": targets.WEIGHTS, "locust_version": locust_version(args.locust),
                   "governed": {"dataset": governed.dataset, "agreement": governed.agreement,
                                "purpose": governed.purpose, "user": database.ANALYST},
                   "loopback": server.HOST}}
    log_path = args.home.parent / "server.log"
    log(f"starting citydata serve --workers {args.workers} on :{port} (log {log_path})")
    with server.serve(env, port, args.workers, log_path) as srv:
        result["idle_memory"] = memory.summarise([_one_sample(srv)])["total"]
        log("finding and checking the requests to make")
        found = targets.discover(srv.base, governed)
        targets_file = work / "targets.json"
        targets_file.write_text(json.dumps(found))
        targets_file.chmod(0o600)  # it holds the analyst's token
        result["targets"] = {"counts": found["counts"],
                             "download_bytes": found["download_bytes"],
                             "search_words": list(targets.SEARCH_WORDS)}
        if args.floor_seconds > 0:
            result["floor"] = phase_floor(args, srv.base, targets_file, work)
        result["load"] = phase_load(args, srv, targets_file, work)
        result["server"] = server_verdict(srv)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def _one_sample(srv: server.Server) -> dict[str, Any]:
    sampler = memory.Sampler(srv.processes)
    sampler.sample()
    return sampler.samples[0]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: server and locust stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    work = Path(tempfile.mkdtemp(prefix="citydata-loadtest-"))
    try:
        result = run(args, work)
    except RuntimeError as exc:
        log(f"failed: {exc}")
        print_server_logs(args.home.parent, log)
        return 2
    except KeyboardInterrupt:
        log("interrupted: the server and locust were stopped, nothing was written")
        return 130
    finally:
        for path in sorted(work.glob("*")):
            path.unlink()
        work.rmdir()
    report.print_report(result)
    for path in report.write(result, args.output):
        log(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    load_errors = result["load"]["stats"]["total"]["errors"]
    return 1 if load_errors or not result["server"]["ok"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

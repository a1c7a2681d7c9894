"""Memory (and CPU) of the server's processes during the run, sampled from /proc.

Every ``interval`` seconds a thread reads ``VmRSS`` and utime + stime of the parent and each of
its descendants (workers, and the resource tracker the spawn start method adds), the load
average and the busy CPU time of the whole machine (``/proc/stat``: other work on a shared
machine shows there). :func:`summarise` reports start, end and peak RSS per process and in
total, CPU seconds, and whether memory grows, by this rule: drop the warm-up (the first
``WARMUP_FRACTION`` of the samples, at least ``WARMUP_MIN_S`` seconds), split the rest into
thirds, and compare the mean total RSS of the last third with the first third. It *grows*
when the rise is more than ``GROWTH_PCT`` % and more than ``GROWTH_MIB`` MiB; the slope (least
squares, MiB per minute) is reported too. Short runs have few samples, so their verdict is
weak (it says so).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

WARMUP_FRACTION = 0.1
WARMUP_MIN_S = 30.0
GROWTH_PCT = 5.0
GROWTH_MIB = 16.0
MIN_SAMPLES_FOR_VERDICT = 9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0  # a zombie has no VmRSS line


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine spent busy since boot (all cores, everyone's work)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces; the fields after it are fixed.
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Sampler:
    """Samples ``processes()`` (pid → role) every ``interval`` s in a daemon thread."""

    def __init__(self, processes: Callable[[], dict[int, str]], interval: float = 10.0) -> None:
        self.processes = processes
        self.interval = interval
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._t0 = 0.0

    def sample(self) -> None:
        procs: dict[str, dict[str, Any]] = {}
        for pid, role in self.processes().items():
            rss, cpu = rss_kib(pid), cpu_seconds(pid)
            if rss is not None:
                procs[str(pid)] = {"role": role, "rss_kib": rss, "cpu_s": cpu}
        self.samples.append({"t_s": round(time.monotonic() - self._t0, 1),
                             "loadavg": list(os.getloadavg()),
                             "machine_busy_s": machine_busy_seconds(), "processes": procs})

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Sampler:
        self._t0 = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        self.sample()


def _mib(kib: float) -> float:
    return round(kib / 1024, 1)


def _slope_mib_per_min(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mx) * (v - my) for t, v in points) / var  # KiB per second
    return round(slope * 60 / 1024, 2)


def growth(points: list[tuple[float, float]]) -> dict[str, Any]:
    """The growth verdict for (seconds, KiB) points, by the rule in the module docstring."""
    if not points:
        return {"verdict": "no samples"}
    duration = points[-1][0] - points[0][0]
    warmup_s = max(WARMUP_MIN_S, WARMUP_FRACTION * duration)
    steady = [p for p in points if p[0] - points[0][0] >= warmup_s]
    out: dict[str, Any] = {"warmup_s": round(warmup_s, 1), "steady_samples": len(steady),
                           "slope_mib_per_min": _slope_mib_per_min(steady)}
    if len(steady) < 3:
        return {**out, "verdict": "too few samples after warm-up"}
    third = len(steady) // 3
    first = sum(v for _, v in steady[:third]) / third
    last = sum(v for _, v in steady[-third:]) / third
    rise_pct = 100 * (last - first) / first if first else 0.0
    grows = rise_pct > GROWTH_PCT and (last - first) / 1024 > GROWTH_MIB
    verdict = "grows" if grows else "stable"
    if len(steady) < MIN_SAMPLES_FOR_VERDICT:
        verdict += " (few samples: weak)"
    return {**out, "first_third_mean_mib": _mib(first), "last_third_mean_mib": _mib(last),
            "rise_mib": _mib(last - first), "rise_pct": round(rise_pct, 1), "grows": grows,
            "verdict": verdict}


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Start, end and peak RSS of each process and of all together, CPU seconds, growth."""
    if not samples:
        return {"samples": 0}
    per: dict[str, dict[str, Any]] = {}
    totals: list[tuple[float, float]] = []
    for s in samples:
        total = 0
        for pid, p in s["processes"].items():
            rec = per.setdefault(pid, {"role": p["role"], "points": [], "cpu": []})
            rec["points"].append((s["t_s"], p["rss_kib"]))
            if p["cpu_s"] is not None:
                rec["cpu"].append(p["cpu_s"])
            total += p["rss_kib"]
        totals.append((s["t_s"], total))
    processes = {}
    for pid, rec in per.items():
        values = [v for _, v in rec["points"]]
        processes[pid] = {
            "role": rec["role"], "start_mib": _mib(values[0]), "end_mib": _mib(values[-1]),
            "peak_mib": _mib(max(values)),
            "cpu_s": round(rec["cpu"][-1] - rec["cpu"][0], 1) if rec["cpu"] else None,
            "growth": growth(rec["points"]) if rec["role"] == "worker" else None}
    values = [v for _, v in totals]
    elapsed = samples[-1]["t_s"] - samples[0]["t_s"]
    busy = [s.get("machine_busy_s") for s in (samples[0], samples[-1])]
    server_cpu = sum(p["cpu_s"] or 0 for p in processes.values())
    cpu = {"elapsed_s": round(elapsed, 1), "server_cpu_s": round(server_cpu, 1),
           "server_cores": round(server_cpu / elapsed, 2) if elapsed else None,
           "machine_busy_cores": (round((busy[1] - busy[0]) / elapsed, 2)
                                  if elapsed and None not in busy else None)}
    return {"samples": len(samples), "interval_s": (round(samples[1]["t_s"], 1)
                                                   if len(samples) > 1 else None),
            "rule": (f"after a warm-up of max({WARMUP_MIN_S:.0f} s, {WARMUP_FRACTION:.0%} of "
                     f"the run), mean total RSS of the last third vs the first third; grows "
                     f"if > {GROWTH_PCT:.0f} % and > {GROWTH_MIB:.0f} MiB"),
            "total": {"start_mib": _mib(values[0]), "end_mib": _mib(values[-1]),
                      "peak_mib": _mib(max(values)), **growth(totals)},
            "processes": processes, "cpu": cpu,
            "loadavg_start": samples[0]["loadavg"], "loadavg_end": samples[-1]["loadavg"]}

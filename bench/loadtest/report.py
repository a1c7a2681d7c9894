"""The load test's report: locust's statistics per kind, the targets, memory; console + files.

Percentiles are locust's own (from its ``*_stats.csv``): it keeps response times in buckets
(exact below 100 ms, then rounded to 2 significant digits), so p50/p95/p99 are that precise.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bench import console

P99_TARGET_MS = 500
HEADERS = ["phase", "kind", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms",
           "errors"]
MEMORY_HEADERS = ["process", "start MiB", "end MiB", "peak MiB", "CPU s", "growth"]


def _num(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None  # "N/A" when a kind had no requests


def read_stats(prefix: Path) -> dict[str, dict[str, Any]]:
    """``{kind: {...}}`` from locust's ``<prefix>_stats.csv``; the totals row is ``total``."""
    out: dict[str, dict[str, Any]] = {}
    with Path(f"{prefix}_stats.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            name = "total" if row["Name"] == "Aggregated" else row["Name"]
            out[name] = {
                "requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                "req_per_s": round(float(row["Requests/s"]), 2),
                "p50_ms": _num(row["50%"]), "p95_ms": _num(row["95%"]),
                "p99_ms": _num(row["99%"]), "max_ms": round(float(row["Max Response Time"]), 1),
                "mean_ms": round(float(row["Average Response Time"]), 1),
                "mean_bytes": round(float(row["Average Content Size"]))}
    return out


def read_failures(prefix: Path) -> list[dict[str, Any]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [{"kind": r["Name"], "error": r["Error"], "occurrences": int(r["Occurrences"])}
                for r in csv.DictReader(f)]


def targets(total: dict[str, Any]) -> dict[str, Any]:
    p99 = total.get("p99_ms")
    return {"zero_errors": {"target": "0 errors", "value": total["errors"],
                            "met": total["errors"] == 0},
            "p99": {"target": f"p99 < {P99_TARGET_MS} ms", "value": p99,
                    "met": p99 is not None and p99 < P99_TARGET_MS}}


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _stat_rows(phase: str, stats: dict[str, dict[str, Any]]) -> list[list[str]]:
    kinds = [k for k in stats if k != "total"] + (["total"] if "total" in stats else [])
    return [[phase, k, f"{s['requests']:,}", f"{s['req_per_s']:.1f}", _ms(s["p50_ms"]),
             _ms(s["p95_ms"]), _ms(s["p99_ms"]), _ms(s["max_ms"]), f"{s['errors']:,}"]
            for k, s in ((k, stats[k]) for k in kinds)]


def cache_shares(slowest: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per kind and in total, the share of requests the response cache answered (hit), made
    and kept (miss), or did not handle (none), from the X-Citydata-Cache header locust saw."""
    out: dict[str, dict[str, float]] = {}
    total: dict[str, int] = {}
    for kind, s in slowest.items():
        counts = s.get("cache") or {}
        n = sum(counts.values())
        if n:
            out[kind] = {k: v / n for k, v in counts.items()}
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    if sum(total.values()):
        out["total"] = {k: v / sum(total.values()) for k, v in total.items()}
    return out


def cache_line(result: dict[str, Any]) -> str:
    if not result["config"].get("response_cache", True):
        return "Response cache: off (--no-response-cache): every request was made by the app"
    shares = cache_shares(result["load"].get("slowest", {}))
    if "total" not in shares:
        return ""
    per = ", ".join(f"{k} {shares[k].get('hit', 0) * 100:.0f} %" for k in sorted(shares)
                    if k != "total")
    t = shares["total"]
    return (f"Response cache over the load: {t.get('hit', 0) * 100:.1f} % of requests answered "
            f"from a process's cache, {t.get('miss', 0) * 100:.1f} % made and kept, "
            f"{t.get('none', 0) * 100:.1f} % not cacheable (downloads, governed reads); hits by "
            f"kind: {per}")


def rows(result: dict[str, Any]) -> list[list[str]]:
    out = _stat_rows(f"load: {result['config']['users']} users", result["load"]["stats"])
    for floor in result.get("floor", {}).values():
        out += _stat_rows(floor["label"], floor["stats"])
    return out


def memory_rows(mem: dict[str, Any]) -> list[list[str]]:
    if not mem.get("samples"):
        return []
    out = []
    for pid, p in sorted(mem["processes"].items(), key=lambda kv: (kv[1]["role"], kv[0])):
        g = p.get("growth") or {}
        out.append([f"{p['role']} {pid}", f"{p['start_mib']:.1f}", f"{p['end_mib']:.1f}",
                    f"{p['peak_mib']:.1f}", "" if p["cpu_s"] is None else f"{p['cpu_s']:.1f}",
                    _growth_text(g) if g else ""])
    t = mem["total"]
    out.append(["total", f"{t['start_mib']:.1f}", f"{t['end_mib']:.1f}", f"{t['peak_mib']:.1f}",
                "", _growth_text(t)])
    return out


def _growth_text(g: dict[str, Any]) -> str:
    if "rise_mib" not in g:
        return g.get("verdict", "")
    return (f"{g['verdict']}: {g['first_third_mean_mib']:.1f} → {g['last_third_mean_mib']:.1f} "
            f"MiB ({g['rise_mib']:+.1f}, {g['rise_pct']:+.1f} %), slope "
            f"{g['slope_mib_per_min']:+.2f} MiB/min")


def cpu_line(mem: dict[str, Any]) -> str:
    c = mem.get("cpu") or {}
    if not c.get("elapsed_s"):
        return ""
    per = c.get("server_cpu_ms_per_request")
    return (f"CPU over the load: the server's processes {c['server_cpu_s']:.1f} s "
            f"({c['server_cores']:.2f} cores{f', {per:.1f} ms a request' if per else ''}); the "
            f"whole machine {c['machine_busy_cores']} cores busy on average (locust, "
            "PostgreSQL and any other work on the machine included)")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def target_lines(result: dict[str, Any]) -> list[str]:
    t = result["load"]["targets"]
    return [f"{t['zero_errors']['target']}: {_verdict(t['zero_errors']['met'])} "
            f"({t['zero_errors']['value']:,} errors)",
            f"{t['p99']['target']} over all requests: {_verdict(t['p99']['met'])} "
            f"(p99 {_ms(t['p99']['value'])} ms)",
            f"server: {result['server']['verdict']}"]


def _title(result: dict[str, Any]) -> str:
    c = result["config"]
    return (f"citydata load test — {c['users']} users, {c['minutes']:g} min, {c['workers']} "
            f"workers, PostgreSQL"
            f"{'' if c.get('response_cache', True) else ', response cache off'}, "
            f"{result['started'][:16].replace('T', ' ')}"
            f"{' (quick)' if c['quick'] else ''}")


def print_report(result: dict[str, Any]) -> None:
    console.print_table(_title(result), HEADERS, rows(result), right=("ms", "requests",
                                                                        "req/s", "errors"))
    mem = result["load"]["memory"]
    if mem.get("samples"):
        console.print_table(f"Server memory (RSS every {mem['interval_s']} s, "
                            f"{mem['samples']} samples)", MEMORY_HEADERS, memory_rows(mem),
                            right=("MiB", "CPU s"))
        print(f"growth rule: {mem['rule']}")
        print(cpu_line(mem))
    if cache_line(result):
        print(cache_line(result))
    for line in target_lines(result):
        print(line)


def _md_table(headers: list[str], body: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
            + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in body])


def markdown(result: dict[str, Any]) -> str:
    m, c, load = result["machine"], result["config"], result["load"]
    weights = ", ".join(f"{k} {v}" for k, v in c["weights"].items())
    lines = [
        f"# {_title(result)}", "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}; Python {m['python']}, "
        f"PostgreSQL {m['postgresql']}, uvicorn {m['uvicorn']}, locust {c['locust_version']}. "
        f"citydata {m['citydata_commit']}{' (uncommitted changes)' if m['worktree_dirty'] else ''}"
        ".", "",
        "Produced by `make loadtest` (`python -m bench.loadtest.run`); method in "
        "docs/performance.md. Server: `citydata serve --workers "
        f"{c['workers']}`, `CITYDATA_ENV=production`, jobs every "
        f"{c['jobs_interval_seconds']:g} s, database `{c['database']}`. Locust (own process, "
        f"same machine, loopback): {c['users']} users spawned {c['spawn_rate']}/s, think time "
        f"{c['think_time']} per user; kinds weighted {weights}. Load averages start/end: "
        f"{_loadavg(load['memory'], 'loadavg_start')} / {_loadavg(load['memory'], 'loadavg_end')}"
        ".", "",
        *_md_table(HEADERS, rows(result)), "",
        "Targets: " + "; ".join(target_lines(result)) + ".", "",
    ]
    mem = load["memory"]
    if mem.get("samples"):
        idle = result.get("idle_memory", {})
        lines += [f"Server memory, RSS from /proc every {mem['interval_s']} s ({mem['samples']} "
                  f"samples); growth rule: {mem['rule']}. All processes together just after "
                  f"start, before any request: {idle.get('start_mib', '–')} MiB.", "",
                  *_md_table(MEMORY_HEADERS, memory_rows(mem)), "", cpu_line(mem) + ".", ""]
    if cache_line(result):
        lines += [cache_line(result) + ".", ""]
    slow = load.get("slowest", {})
    if slow:
        lines += ["Slowest request of each kind:", ""]
        for kind, s in sorted(slow.items()):
            if s["slowest"]:
                top = s["slowest"][0]
                lines.append(f"* {kind}: {top['ms']:,.0f} ms, HTTP {top['status']}, "
                             f"`{_path(top['url'])}`")
        lines.append("")
    if load["failures"]:
        lines += ["Failures:", ""] + [f"* {f['kind']}: {f['error']} × {f['occurrences']}"
                                      for f in load["failures"]] + [""]
    return "\n".join(lines)


def _loadavg(mem: dict[str, Any], key: str) -> str:
    v = mem.get(key)
    return "–" if not v else " ".join(f"{x:.2f}" for x in v)


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def write(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """``loadtest-<date>[-nocache][-quick].json`` and ``latest-loadtest[-nocache][-quick].md``
    in ``out_dir`` (``-nocache``: the comparison run with the response cache off)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ("" if result["config"].get("response_cache", True) else "-nocache") + (
        "-quick" if result["config"]["quick"] else "")
    path = out_dir / f"loadtest-{result['started'][:10]}{suffix}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = out_dir / f"latest-loadtest{suffix}.md"
    md.write_text(markdown(result))
    return [path, md]

"""The datastore benchmark's table (console and Markdown) and JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import console

RSS_TARGET_MB = 1024.0
RATIO_TARGET = 0.5
PAGE_TARGET_P95_MS = 100.0
FACET_TARGET_P95_MS = 300.0
DIFF_TARGET_S = 10.0
HEADERS = ["Phase", "Measurement", "Value", "p50 ms", "p95 ms", "Target", "Compared"]


def _ms(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _vs(ours: dict | None, peer: dict | None, name: str) -> str:
    if not ours or not peer or not peer.get("p95_ms"):
        return ""
    return f"{ours['p95_ms'] / peer['p95_ms']:.2f}× {name} p95"


def rows(result: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    ing = result.get("ingest")
    if ing:
        r = ing["raw"]
        gb = ing["csv_bytes"] / 1e9
        for key, label in (("ingest", "ingest()"),
                           ("variant", "ingest(), MAX_LINE_BYTES=8 MB (fix stand-in)")):
            i = ing.get(key)
            if not i:
                continue
            ok = i["ingest_status"] == "ok"
            value = (f"{i['ingest_s']:.1f} s, {i['rows_per_s']:,} rows/s" if ok else
                     f"FAILED after {i['ingest_s']:.1f} s: "
                     + "; ".join(i["report"].get("errors", []))[:90])
            ratio = (f"engine/ingest {i['ratio_engine_to_ingest']:.2f} ≥ {RATIO_TARGET}: "
                     f"{_verdict(i['ratio_engine_to_ingest'] >= RATIO_TARGET)}" if ok else
                     f"engine/ingest ≥ {RATIO_TARGET}: MISSED (no table)")
            rss_ok = ok and i["peak_rss_mb"] < RSS_TARGET_MB
            out += [
                ["ingest", f"{label} {ing['rows']:,} rows, {gb:.2f} GB CSV → Parquet", value,
                 "", "", (f"peak RSS {i['peak_rss_mb']:.0f} MB < 1 GB: {_verdict(rss_ok)}"
                          if ok else "peak RSS < 1 GB: MISSED (failed)"),
                 ratio],
                ["ingest", "  publish_file total (stage + hash + ingest + catalog)",
                 f"{i['publish_s']:.1f} s", "", "", "", ""],
            ]
        out += [
            ["engine", "DuckDB read_csv → Parquet, same file and options",
             f"{r['seconds']:.1f} s, {r['rows_per_s']:,} rows/s, peak RSS "
             f"{r['peak_rss_mb']:.0f} MB", "", "", "", "engine"],
        ]
    q = result.get("query")
    if q:
        for key, label, target in (("page", "borough=X, _sort_desc=amount, _size=100",
                                    PAGE_TARGET_P95_MS),
                                   ("facet", f"_facet={q['facet_column']}, _size=10",
                                    FACET_TARGET_P95_MS)):
            h = q[f"{key}_http"]
            out += [
                ["query", f"rows API {label} (HTTP)", f"n={h['n']}", _ms(h["p50_ms"]),
                 _ms(h["p95_ms"]),
                 f"p95 < {target:.0f} ms: {_verdict(h['p95_ms'] < target)}",
                 _vs(h, q.get(f"datasette_{key}_http"), "Datasette")],
                ["query", "  same, run_page() in-process", "", _ms(q[f"{key}_inproc"]["p50_ms"]),
                 _ms(q[f"{key}_inproc"]["p95_ms"]), "", ""],
                ["engine", "  same DuckDB SQL on the Parquet file",
                 f"{len(q[f'{key}_statements'])} statements", _ms(q[f"{key}_sql"]["p50_ms"]),
                 _ms(q[f"{key}_sql"]["p95_ms"]), "", _vs(h, q[f"{key}_sql"], "engine")],
            ]
            if q.get(f"datasette_{key}_http"):
                d = q[f"datasette_{key}_http"]
                out.append(["datasette", "  same on SQLite + indexes (HTTP)", f"n={d['n']}",
                            _ms(d["p50_ms"]), _ms(d["p95_ms"]), "", "peer"])
    d = result.get("diff")
    if d:
        s = d.get("summary", {})
        out.append(["diff", f"diff_versions, {d['rows']:,} rows (+{s.get('added')} "
                    f"−{s.get('removed')} ~{s.get('changed')})",
                    f"median {d['median_s']:.2f} s, max {d['max_s']:.2f} s "
                    f"({len(d['runs_s'])} runs)", "", "",
                    f"< {DIFF_TARGET_S:.0f} s: {_verdict(d['max_s'] < DIFF_TARGET_S)}", ""])
    return out


def _title(result: dict[str, Any]) -> str:
    c, m = result["config"], result["machine"]
    return (f"citydata datastore benchmark — {c['rows']:,} rows, {m['nproc']} CPUs, "
            f"{result['started'][:10]}{' (quick)' if c['quick'] else ''}")


def print_table(result: dict[str, Any]) -> None:
    console.print_table(_title(result), HEADERS, rows(result))


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"# {_title(result)}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, {m['os']}; Python "
        f"{m['python']}, DuckDB {m['duckdb']}, SQLite {m['sqlite']}, Datasette "
        f"{m['datasette']}, uvicorn {m['uvicorn']}. citydata {m['citydata_commit']}"
        f"{' (uncommitted changes)' if m['worktree_dirty'] else ''}.",
        "",
        "Produced by `python -m bench.datastore_bench` (part of `make bench`); method in "
        "bench/README.md. Client, servers and engines share the machine; HTTP over loopback. "
        "\"Compared\" is ours ÷ theirs for p95 (below 1 = citydata faster); for ingest, "
        "engine time ÷ ingest time (1 = as fast as DuckDB alone).",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(result)]
    q = result.get("query") or {}
    if q:
        lines += ["", f"Filtered total for borough={q['filter_boroughs'][0]}: citydata "
                      f"{q.get('filtered_total_first')}, Datasette "
                      f"{q.get('datasette_filtered_total_first', '–')}."]
        for key in ("page", "facet"):
            lines += ["", f"Statements behind one {key} request (replayed on the Parquet "
                          "file; full EXPLAIN ANALYZE in the JSON):", "",
                      "| ms | SQL |", "|---|---|"]
            for s in q.get(f"{key}_statements", []):
                sql = s["sql"].replace("|", "\\|")
                lines.append(f"| {s.get('ms', '–')} | `{sql[:160]}` |")
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if result["config"]["quick"] else ""
    path = out_dir / f"datastore-{result['started'][:10]}{suffix}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = out_dir / f"latest-datastore{suffix}.md"
    md.write_text(markdown(result))
    return [path, md]

"""Turn a benchmark result into a table (console and Markdown) and JSON files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import console

SEARCH_TARGET_P95_MS = 50.0
SHOW_TARGET_P95_MS = 10.0
HEADERS = ["Backend", "Measurement", "p50 ms", "p95 ms", "req/s", "Target", "vs Datasette"]


def _ms(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def _target(p95: float, limit: float) -> str:
    return f"p95 < {limit:.0f} ms: {'met' if p95 < limit else 'MISSED'}"


def _ratio(ours: float, peer: float | None, higher_is_better: bool = False) -> str:
    if not peer or math.isnan(peer) or math.isnan(ours):
        return "–"
    r = ours / peer
    if higher_is_better:
        return f"{r:.2f}× Datasette's req/s"
    return f"{r:.2f}× Datasette's p95"


def rows(result: dict[str, Any]) -> list[list[str]]:
    ds = result.get("datasette") or {}
    peer_p95 = (ds.get("search_http") or {}).get("p95_ms")
    peer_broad = (ds.get("search_broad_http") or {}).get("p95_ms")
    peer_rps = (ds.get("search_rps") or {}).get("rps")
    broad = result["config"]["broad_word"]
    out: list[list[str]] = []
    for name, b in result["backends"].items():
        s, sb, sh = b["search_http"], b["search_broad_http"], b["show_http"]
        sr, shr = b["search_rps"], b["show_rps"]
        out += [
            [name, "package_search, q=word + 7 facets (HTTP)", _ms(s["p50_ms"]),
             _ms(s["p95_ms"]), "", _target(s["p95_ms"], SEARCH_TARGET_P95_MS),
             _ratio(s["p95_ms"], peer_p95)],
            [name, f"package_search, broad q={broad} (HTTP)", _ms(sb["p50_ms"]),
             _ms(sb["p95_ms"]), "", "", _ratio(sb["p95_ms"], peer_broad)],
            [name, "package_search in-process (action, no HTTP)",
             _ms(b["search_action"]["p50_ms"]), _ms(b["search_action"]["p95_ms"]), "", "", ""],
            [name, "search_datasets() engine (SQL + ORM)", _ms(b["search_engine"]["p50_ms"]),
             _ms(b["search_engine"]["p95_ms"]), "", "", ""],
            [name, f"SQL statements only, q={b['profile']['word']} (median sum)",
             _ms(b["profile"]["sql_total_median_ms"]), "", "", "", ""],
            [name, "package_show by name (HTTP)", _ms(sh["p50_ms"]), _ms(sh["p95_ms"]), "",
             _target(sh["p95_ms"], SHOW_TARGET_P95_MS), ""],
            [name, "package_show in-process", _ms(b["show_action"]["p50_ms"]),
             _ms(b["show_action"]["p95_ms"]), "", "", ""],
            [name, f"package_search, {sr['concurrency']} clients", _ms(sr["p50_ms"]),
             _ms(sr["p95_ms"]), f"{sr['rps']:.1f}", "", _ratio(sr["rps"], peer_rps, True)],
            [name, f"package_show, {shr['concurrency']} clients", _ms(shr["p50_ms"]),
             _ms(shr["p95_ms"]), f"{shr['rps']:.1f}", "", ""],
        ]
    if ds:
        s, sb, sr = ds["search_http"], ds["search_broad_http"], ds["search_rps"]
        out += [
            ["datasette", "_search=word + 7 facets (HTTP, SQLite copy)", _ms(s["p50_ms"]),
             _ms(s["p95_ms"]), "", "", "peer"],
            ["datasette", f"_search={broad} + 7 facets (HTTP)", _ms(sb["p50_ms"]),
             _ms(sb["p95_ms"]), "", "", "peer"],
            ["datasette", f"_search=word, {sr['concurrency']} clients", _ms(sr["p50_ms"]),
             _ms(sr["p95_ms"]), f"{sr['rps']:.1f}", "", "peer"],
        ]
    return out


def print_table(result: dict[str, Any]) -> None:
    m = result["machine"]
    console.print_table(f"citydata search benchmark — {result['config']['datasets']:,} "
                        f"datasets, {m['nproc']} CPUs, {result['started'][:10]}", HEADERS,
                        rows(result), right=("ms", "req/s"), width=170)


def markdown(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    lines = [
        f"# Search benchmark — {c['datasets']:,} datasets ({result['started'][:10]})",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, {m['os']}; Python "
        f"{m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql'] or '–'}, Datasette "
        f"{m['datasette']}, uvicorn {m['uvicorn']}. citydata {m['citydata_commit']}"
        f"{' (uncommitted changes)' if m['worktree_dirty'] else ''}.",
        "",
        f"{c['requests']} timed package_search requests cycling over {len(c['query_words'])} "
        f"query words; {c['concurrency']} clients for {c['duration_s']:.0f} s in the req/s "
        "rows. Client, servers and database share the same machine. "
        "Produced by `make bench` (`python -m bench.search_bench`); see bench/README.md.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows(result)]
    ds = result.get("datasette") or {}
    words = [*c["query_words"], c["broad_word"]]
    lines += ["", "Matches per query word (count returned by each server):", "",
              "| word | " + " | ".join(result["backends"]) + (" | datasette |" if ds else " |"),
              "|---" * (2 + len(result["backends"]) - (0 if ds else 1)) + "|"]
    for w in words:
        cells = [str(b["matches"].get(w)) for b in result["backends"].values()]
        if ds:
            cells.append(str(ds["matches"].get(w)))
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    for name, b in result["backends"].items():
        for key in ("profile", "profile_broad"):
            p = b[key]
            lines += ["", f"Per-statement median time, {name}, q={p['word']} "
                          f"({p['runs']} runs, sum {p['sql_total_median_ms']:.1f} ms):", "",
                      "| statement | median ms |", "|---|---|"]
            lines += [f"| {s['statement']} | {s['median_ms']:.2f} |" for s in p["statements"]]
        lines += ["", f"index_dataset (one create/update) at this size, {name}: "
                      f"{b['index_check']['index_dataset_mean_ms']:.1f} ms mean over "
                      f"{b['index_check']['sample']} datasets."]
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if result["config"]["quick"] else ""
    date = result["started"][:10]
    written = []
    for name, b in result["backends"].items():
        doc = {k: v for k, v in result.items() if k != "backends"}
        doc["backend"] = b
        path = out_dir / f"search-{name}-{date}{suffix}.json"
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        written.append(path)
    md = out_dir / f"latest{suffix}.md"
    md.write_text(markdown(result))
    written.append(md)
    return written

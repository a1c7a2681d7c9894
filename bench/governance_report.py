"""The governance benchmark's table (console and Markdown) and JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench import console

RATIO_TARGET = 1.15
APPEND_TARGET_PER_S = 5000
VERIFY_TARGET_S = 30.0
VERIFY_TARGET_ENTRIES = 1_000_000
HEADERS = ["Backend", "Measurement", "Value", "p50 ms", "p95 ms", "Target", "Compared"]


def _ms(x: float | None) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _per_s(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}/s"


def _http_rows(name: str, http: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for label in ("filtered", "unfiltered"):
        q = http.get(label)
        if not q:
            continue
        what = "age_band=85+" if label == "filtered" else "no filter"
        o, g = q["open"], q["governed"]
        delta = g["p50_ms"] - o["p50_ms"]
        out += [
            [name, f"datastore_search {what}, limit=100, open (HTTP)",
             f"n={o['n']}, {q['records']} records", _ms(o["p50_ms"]), _ms(o["p95_ms"]), "", ""],
            [name, "  same, restricted + purpose header (HTTP)", f"n={g['n']}",
             _ms(g["p50_ms"]), _ms(g["p95_ms"]),
             f"p50 ratio {q['ratio_p50']:.3f} ≤ {RATIO_TARGET}: "
             f"{_verdict(q['ratio_p50'] <= RATIO_TARGET)}", f"{delta:+.2f} ms p50"],
        ]
    a = http.get("audit")
    if a:
        out.append([name, "  audit entries written by the governed reads",
                    f"{a['entries_written']} for {a['governed_reads']} reads", "", "",
                    "one per read: " + ("yes" if a["one_entry_per_read"] else "NO"), ""])
    return out


def _policy_rows(name: str, p: dict[str, Any], http: dict[str, Any]) -> list[list[str]]:
    g, o = p["decide_governed"], p["decide_open"]
    sc, ec = p["stage_commit"], p["empty_commit"]
    extra = g["p50_ms"] - o["p50_ms"] + sc["p50_ms"] - ec["p50_ms"]
    seen = " / ".join(f"{q['governed']['p50_ms'] - q['open']['p50_ms']:+.2f}"
                      for label, q in http.items() if label in ("filtered", "unfiltered"))
    return [
        [name, "Access.decide(), restricted, agreement (in-process)", f"n={g['n']}",
         _ms(g["p50_ms"]), _ms(g["p95_ms"]), "", f"{g['p50_ms'] - o['p50_ms']:+.2f} ms vs open"],
        [name, "Access.decide(), open (in-process)", f"n={o['n']}", _ms(o["p50_ms"]),
         _ms(o["p95_ms"]), "", ""],
        [name, "transaction with one staged audit entry", f"n={sc['n']}",
         _ms(sc["p50_ms"]), _ms(sc["p95_ms"]), "",
         f"{sc['p50_ms'] - ec['p50_ms']:+.2f} ms vs empty"],
        [name, "  empty transaction (SELECT 1, commit)", f"n={ec['n']}", _ms(ec["p50_ms"]),
         _ms(ec["p95_ms"]), "", "engine"],
        [name, "  expected extra per governed read (sum of both)", f"{extra:+.2f} ms",
         "", "", "", f"HTTP Δp50 {seen} ms"],
    ]


def _append_rows(name: str, a: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for key, raw_key, label in (
            ("batched", "raw_batched", "audit.append, 1000 per transaction"),
            ("per_transaction", "raw_per_transaction",
             "audit.stage + commit, 1 per transaction (API)"),
            ("concurrent", "raw_per_transaction",
             "  the same, 16 concurrent clients (group commit)")):
        if key not in a:
            continue
        m, r = a[key], a[raw_key]
        rate = m["entries_per_s"] or 0
        compared = (f"{rate / r['entries_per_s']:.2f}× plain INSERT"
                    if r.get("entries_per_s") else "")
        out += [
            [name, label, f"{_per_s(rate)} ({m['entries']:,} in {m['seconds']:.2f} s)", "", "",
             f"≥ {APPEND_TARGET_PER_S:,}/s: {_verdict(rate >= APPEND_TARGET_PER_S)}", compared],
            [name, f"  plain INSERT, {r['batch']} per transaction, no hashing",
             f"{_per_s(r['entries_per_s'])} ({r['entries']:,} rows)", "", "", "", "engine"],
        ]
    return out


def _verify_rows(name: str, b: dict[str, Any]) -> list[list[str]]:
    v, s, f, h = b["verify"], b["stream"], b["fill"], b["entry_hash"]
    limit = VERIFY_TARGET_S * v["entries"] / VERIFY_TARGET_ENTRIES
    scaled = "" if v["entries"] >= VERIFY_TARGET_ENTRIES else " (30 s/1 M, scaled)"
    return [
        [name, f"  fill: audit.append, {f['entries'] // f['transactions']:,} per txn",
         f"{_per_s(f['entries_per_s'])} ({f['entries']:,} in {f['seconds']:.1f} s)", "", "", "",
         ""],
        [name, f"audit.verify over {v['entries']:,} entries",
         f"{v['seconds']:.2f} s, {_per_s(v['entries_per_s'])}, ok={v['ok']}", "", "",
         f"< {limit:.1f} s{scaled}: {_verdict(v['seconds'] < limit)}",
         f"{v['seconds'] / s['seconds']:.1f}× streaming" if s["seconds"] else ""],
        [name, "  stream the same rows (ORDER BY seq), no hashing",
         f"{s['seconds']:.2f} s ({s['rows']:,} rows)", "", "", "", "engine"],
        [name, "  entry_hash() alone (JSON + SHA-256)",
         f"{h['us_per_entry']:.1f} µs/entry ({h['calls']:,} calls)", "", "", "",
         f"{h['us_per_entry'] * v['entries'] / 1e6:.2f} s for this log"],
    ]


def rows(result: dict[str, Any]) -> list[list[str]]:
    out: list[list[str]] = []
    for name, b in result["backends"].items():
        out += _http_rows(name, b["http"])
        out += _policy_rows(name, b["policy"], b["http"])
        out += _append_rows(name, b["append"])
        out += _verify_rows(name, b)
    return out


def _title(result: dict[str, Any]) -> str:
    c, m = result["config"], result["machine"]
    return (f"citydata governance benchmark — {c['rows']:,}-row resource, "
            f"{c['verify_entries']:,}-entry verify, {m['nproc']} CPUs, {result['started'][:10]}"
            f"{' (quick)' if c['quick'] else ''}")


def print_table(result: dict[str, Any]) -> None:
    console.print_table(_title(result), HEADERS, rows(result))


def markdown(result: dict[str, Any]) -> str:
    m, c = result["machine"], result["config"]
    lines = [
        f"# {_title(result)}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}, {m['os']}; Python "
        f"{m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql'] or '–'}, uvicorn "
        f"{m['uvicorn']}, SQLAlchemy {m['sqlalchemy']}. citydata {m['citydata_commit']}"
        f"{' (uncommitted changes)' if m['worktree_dirty'] else ''}.",
        "",
        "Produced by `python -m bench.governance_bench` (part of `make bench`); method in "
        f"bench/README.md. {c['requests']} timed requests per resource and query, open and "
        "governed alternating on one keep-alive client; client, server and database share the "
        "machine, HTTP over loopback. \"Compared\" relates a row to the one below it or to the "
        "engine's raw cost in the same run.",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" for _ in HEADERS) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in r) + " |"
              for r in rows(result)]
    lines += ["", "Database settings that decide the cost of a commit:", ""]
    for name, b in result["backends"].items():
        settings = ", ".join(f"{k}={v}" for k, v in b["engine_settings"].items())
        lines.append(f"* {name}: {settings}")
    return "\n".join(lines) + "\n"


def write(result: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if result["config"]["quick"] else ""
    path = out_dir / f"governance-{result['started'][:10]}{suffix}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = out_dir / f"latest-governance{suffix}.md"
    md.write_text(markdown(result))
    return [path, md]

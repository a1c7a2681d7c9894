"""What every benchmark shares at its edges: the backends it is asked for, and its table."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

BACKENDS = ("sqlite", "postgresql")


def parse_backends(p: argparse.ArgumentParser, raw: str) -> list[str]:
    """``"sqlite,postgresql"`` → the list, or a usage error naming the unknown ones."""
    backends = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        p.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return backends


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                right: tuple[str, ...] = ("ms",), width: int = 200) -> None:
    """A rich table on the console; columns whose header ends with ``right`` align right."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for h in headers:
        table.add_column(h, justify="right" if h.endswith(right) else "left")
    for r in rows:
        table.add_row(*r)
    Console(width=width).print(table)


DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    """The PostgreSQL a benchmark makes its schemas in: ``CITYDATA_BENCH_DATABASE_URL``, else
    ``CITYDATA_TEST_DATABASE_URL``, else the machine's local server."""
    import os

    return (os.environ.get("CITYDATA_BENCH_DATABASE_URL")
            or os.environ.get("CITYDATA_TEST_DATABASE_URL") or DEFAULT_PG)


def print_server_logs(work: Path, log: Callable[[str], None]) -> None:
    """The tails of the servers' logs in ``work``, after a benchmark failed."""
    import sys

    logs = sorted(work.glob("*.log"))
    if logs:
        log("server logs (tails):")
        for path in logs:
            print(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}",
                  file=sys.stderr)

"""What every benchmark shares at its edges: the backends it is asked for, and its table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

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

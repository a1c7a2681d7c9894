"""DuckDB connections, locked down.

Each connection may read only the files it is given (``allowed_paths``/``allowed_directories``
with external access otherwise off), cannot install or load extensions, and has a memory cap and
its own spill directory. The configuration is locked so SQL cannot loosen it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from citydata.errors import QueryError


def connect(
    *,
    readable: Iterable[Path] = (),
    writable_dirs: Iterable[Path] = (),
    memory_limit: str = "1GB",
    threads: int = 2,
    temp_dir: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read exactly ``readable`` files and write only in
    ``writable_dirs`` (ingest needs that for its output; queries get none)."""
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "threads": threads,
            "memory_limit": memory_limit,
        },
    )
    paths = [str(Path(p)) for p in readable]
    dirs = [str(Path(d)) + "/" for d in writable_dirs]
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp_dir)])
        dirs.append(str(temp_dir) + "/")
    if paths:
        con.execute("SET allowed_paths = ?", [paths])
    if dirs:
        con.execute("SET allowed_directories = ?", [dirs])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


#: DuckDB's integer and numeric type names (parameters such as DECIMAL(18,3) stripped).
INTEGER_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
)  # fmt: skip
NUMERIC_TYPES = (*INTEGER_TYPES, "FLOAT", "DOUBLE", "DECIMAL")


def quote_ident(name: str) -> str:
    """A column or table name as a quoted SQL identifier. Callers still only pass names taken
    from a snapshot's known columns, never raw user input."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal_path(path: Path) -> str:
    """A file path as a SQL string literal (paths are ours, but quote them properly anyway)."""
    return "'" + str(path).replace("'", "''") + "'"


class Timeout:
    """Interrupt a DuckDB statement that runs past ``seconds`` and report it clearly."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.con = con
        self.seconds = seconds
        self.fired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> Timeout:
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _fire(self) -> None:
        self.fired = True
        self.con.interrupt()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        # Fired means the limit passed, whether DuckDB saw the interrupt or the statement had
        # not started yet (then the interrupt is lost): either way the work ran too long.
        if self.fired:
            raise QueryError(
                f"The query took longer than {self.seconds:g} seconds and was stopped; "
                "narrow it with filters or a smaller limit"
            ) from None

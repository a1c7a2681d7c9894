"""A preview of the first rows of a CSV or TSV file, read straight from the file store.

Only the head of the file is read (at most ``MAX_BYTES``), so a preview costs the same for a
1 KB and a 1 GB file. Callers must first ask the access policy whether the actor may read the
dataset's data (:func:`citydata.access.policy.can_read_data`): a preview *is* a read.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from citydata.storage.files import FileStore

MAX_BYTES = 256 * 1024
MAX_COLUMNS = 30
MAX_CELL = 200
TABULAR = {"CSV", "TSV"}


@dataclass
class Preview:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    #: True when columns or long values were cut for display.
    truncated: bool = False
    delimiter: str = ","
    encoding: str = "utf-8"


def is_tabular(fmt: str, filename: str) -> bool:
    ext = filename.rsplit(".", 1)[-1].upper() if "." in filename else ""
    return (fmt or "").upper() in TABULAR or ext in TABULAR


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without a byte-order mark), else Latin-1, which decodes any bytes."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _dialect(sample: str, fmt: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample[:16_384], delimiters=",;\t|")
    except csv.Error:
        return csv.excel_tab if fmt.upper() == "TSV" else csv.excel


def read_preview(files: FileStore, sha256: str, rows: int, *, fmt: str = "") -> Preview | None:
    """The header and first ``rows`` rows, or None if the file is empty or not a table. A file
    that cannot be read raises (NotFound, StorageUnavailable): the page says why."""
    with files.open(sha256) as fh:
        data = fh.read(MAX_BYTES + 1)
    cut = len(data) > MAX_BYTES
    if cut:
        # Stop at the last full line: b"\n" never occurs inside a UTF-8 multi-byte character.
        data = data[: data.rfind(b"\n", 0, MAX_BYTES) + 1] or data[:MAX_BYTES]
    text, encoding = decode(data)
    if not text.strip():
        return None
    dialect = _dialect(text, fmt)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
        body = [row for _, row in zip(range(rows), reader, strict=False)]
    except (csv.Error, StopIteration):
        return None
    truncated = len(header) > MAX_COLUMNS

    def clip(cells: list[str]) -> list[str]:
        nonlocal truncated
        out = []
        for cell in cells[:MAX_COLUMNS]:
            if len(cell) > MAX_CELL:
                truncated = True
                cell = cell[: MAX_CELL - 1] + "…"
            out.append(cell)
        return out

    width = min(len(header), MAX_COLUMNS)
    clipped = [clip(r) + [""] * (width - min(len(r), MAX_COLUMNS)) for r in body]
    return Preview(clip(header), clipped, truncated,
                   getattr(dialect, "delimiter", ","), encoding)

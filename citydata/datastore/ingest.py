"""Ingest: turn an uploaded tabular file into an immutable Parquet snapshot.

Never raises for bad data: a file that cannot be read yields ``status="failed"`` with a report a
person can act on. The snapshot is written to a staging file, hashed and moved into the file
store, so a crash leaves nothing half-written that anything points at.
"""

from __future__ import annotations

import codecs
import csv
import logging
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import duckdb

from citydata.datastore.engine import connect, sql_literal_path
from citydata.faults import pause_point
from citydata.storage.files import FileStore

log = logging.getLogger(__name__)

TABULAR_FORMATS = {
    "CSV", "TSV", "XLSX", "JSON", "NDJSON", "GeoJSON", "Parquet",
    "GeoPackage", "Shapefile", "GeoParquet",  # read by spatial_formats
}  # fmt: skip
MAX_LINE_BYTES = 64 * 1024 * 1024  # a 10 MB cell is fine; a 64 MB line is refused clearly
MAX_XLSX_UNCOMPRESSED = 2 * 1024**3
MAX_XLSX_RATIO = 200
MAX_REPORTED = 20
#: How snapshots are written. lz4 rather than zstd: pages of rows read scattered values from
#: many row groups, and lz4 decompresses several times faster (measured: filtered page p50
#: ~450 -> ~180 ms on 10 M rows) for files ~45 % larger.
SNAPSHOT_OPTIONS = "(FORMAT parquet, COMPRESSION lz4_raw, ROW_GROUP_SIZE 122880)"


@dataclass
class IngestResult:
    status: str  # "ok" | "failed"
    snapshot_sha256: str | None = None
    row_count: int | None = None
    columns: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rejected_rows: list[dict] = field(default_factory=list)
    rejected_count: int = 0

    def report(self) -> dict[str, Any]:
        return {
            "warnings": self.warnings,
            "errors": self.errors,
            "rejected_count": self.rejected_count,
            "rejected_rows": self.rejected_rows,
        }


class IngestError(Exception):
    """A problem with the file itself, worded for the person who uploaded it."""


def is_tabular(fmt: str) -> bool:
    return fmt in TABULAR_FORMATS


def ingest(
    files: FileStore, blob_sha256: str, fmt: str, *, work_dir: Path, memory_limit: str = "768MB"
) -> IngestResult:
    """Build the snapshot for a stored blob; the result says whether it worked and why not."""
    work = work_dir / f"ingest-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    try:
        source = files.blob_path(blob_sha256)
        out = work / "snapshot.parquet"
        result = IngestResult(status="ok")
        _convert(source, fmt, out, work, result, memory_limit)
        if not result.columns:
            raise IngestError("The file has no columns: is it empty?")
        pause_point("ingest-converted")  # the snapshot is written, only in the work directory
        result.snapshot_sha256 = files.commit_path(out)
        pause_point("ingest-snapshot-stored")  # in the file store; no row points at it yet
        return result
    except IngestError as exc:
        return IngestResult(status="failed", errors=[str(exc)])
    except duckdb.Error as exc:
        return IngestResult(status="failed", errors=[_explain(exc)])
    except (UnicodeError, ValueError, OSError, zipfile.BadZipFile, KeyError) as exc:
        log.info("ingest of %s failed: %r", blob_sha256, exc)
        return IngestResult(status="failed", errors=[f"The file could not be read: {exc}"])
    finally:
        for p in sorted(work.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        work.rmdir()


def _explain(exc: duckdb.Error) -> str:
    text = str(exc).split("\n")[0]
    for prefix in ("Invalid Input Error: ", "Conversion Error: ", "Binder Error: "):
        text = text.replace(prefix, "")
    return f"The file could not be read as a table: {text[:500]}"


def _convert(
    source: Path, fmt: str, out: Path, work: Path, result: IngestResult, memory_limit: str
) -> None:
    from citydata.datastore import spatial_formats  # imported here: it imports this module

    if fmt in spatial_formats.SPATIAL_FORMATS or (
        fmt == "Parquet" and spatial_formats.geo_metadata(source) is not None
    ):  # a plain .parquet carrying GeoParquet metadata gets its WKB turned into GeoJSON too
        kind = "GeoParquet" if fmt == "Parquet" else fmt
        spatial_formats.convert(source, kind, out, work, result.warnings)
        con = connect(readable=[out], memory_limit=memory_limit)
        try:
            _describe(con, out, result)
        finally:
            con.close()
    elif fmt in ("CSV", "TSV"):
        _from_csv(source, out, work, result, memory_limit, tab=fmt == "TSV")
    elif fmt == "XLSX":
        csv_path = work / "sheet.csv"
        _xlsx_to_csv(source, csv_path, result)
        _from_csv(csv_path, out, work, result, memory_limit, tab=False)
    elif fmt in ("JSON", "NDJSON", "GeoJSON", "Parquet"):
        _from_other(source, fmt, out, work, result, memory_limit)
    else:
        raise IngestError(f"{fmt} files are not tabular")


# -- CSV ----------------------------------------------------------------------------------------
def detect_encoding(path: Path, *, sample: int | None = 1 << 20) -> str:
    """utf-8 (with or without BOM), utf-16 by BOM, else Windows-1252 (UK spreadsheets).

    Only the first ``sample`` bytes are read (``None``: the whole file): DuckDB checks UTF-8
    as it parses, and ingest falls back to Windows-1252 if it finds a bad byte later on.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        read = 0
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
                read += len(chunk)
                if sample is not None and read >= sample:
                    return "utf-8"  # a character cut at the sample's end is not an error
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def _is_encoding_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "unicode" in text or "utf-8" in text or "utf8" in text or "encoding" in text


def _transcode(path: Path, encoding: str, target: Path) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))


def _is_blank(source: Path) -> bool:
    with open(source, "rb") as fh:
        head = fh.read(1 << 16)
    return not head.strip() and source.stat().st_size <= len(head)


def _from_csv(
    source: Path, out: Path, work: Path, result: IngestResult, memory_limit: str, *, tab: bool
) -> None:
    if _is_blank(source):
        raise IngestError("The file is empty")
    encoding = detect_encoding(source)
    if encoding == "utf-8":
        try:
            _read_csv(source, out, work, result, memory_limit, tab=tab)
            return
        except duckdb.Error as exc:
            if not _is_encoding_error(exc):
                raise
            encoding = "cp1252"  # a bad byte past the sampled start of the file
    result.warnings.append(f"The file was not UTF-8; it was read as {encoding}")
    converted = work / "utf8.csv"
    _transcode(source, encoding, converted)
    _read_csv(converted, out, work, result, memory_limit, tab=tab)


def _read_csv(
    source: Path, out: Path, work: Path, result: IngestResult, memory_limit: str, *, tab: bool
) -> None:
    con = connect(
        readable=[source], writable_dirs=[work], memory_limit=memory_limit, temp_dir=work / "spill"
    )
    # DuckDB sizes its read buffer from the line limit (16x by default): a 1 GiB buffer for
    # 64 MiB lines would not fit the memory cap, so it gets an explicit one.
    base = (
        f"read_csv({sql_literal_path(source)}, header=true, null_padding=true, "
        f"max_line_size={MAX_LINE_BYTES}, buffer_size={2 * MAX_LINE_BYTES}"
        + (", delim='\\t'" if tab else "")
    )
    attempts = [
        (base + ")", None),
        (base + ", sample_size=-1)", "Column types were detected from the whole file"),
        (base + ", sample_size=-1, store_rejects=true)", None),
    ]
    last: duckdb.Error | None = None
    try:
        for i, (relation, note) in enumerate(attempts):
            try:
                con.execute(
                    f"COPY (SELECT * FROM {relation}) TO {sql_literal_path(out)} "
                    + SNAPSHOT_OPTIONS
                )
                if note:
                    result.warnings.append(note)
                if i == 2:
                    _collect_rejects(con, result)
                break
            except duckdb.Error as exc:
                last = exc
                # Out of memory will not get better; a bad encoding is the caller's to fix
                # (rejecting those rows would silently lose data).
                if isinstance(exc, duckdb.OutOfMemoryException) or _is_encoding_error(exc):
                    raise
                continue
        else:
            assert last is not None
            raise last
        _describe(con, out, result)
    finally:
        con.close()


def _collect_rejects(con: duckdb.DuckDBPyConnection, result: IngestResult) -> None:
    try:
        rows = con.execute(
            "SELECT line, column_name, error_type, csv_line, error_message FROM reject_errors "
            "ORDER BY line"
        ).fetchall()
    except duckdb.Error:
        return
    result.rejected_count = len({r[0] for r in rows})
    for line, column, kind, raw, message in rows[:MAX_REPORTED]:
        result.rejected_rows.append(
            {
                "line": line,
                "column": column,
                "problem": str(kind),
                "value": (raw or "")[:200],
                "message": (message or "")[:300],
            }
        )
    if result.rejected_count:
        result.warnings.append(
            f"{result.rejected_count} rows could not be read and were left out; see rejected_rows"
        )


def _describe(con: duckdb.DuckDBPyConnection, out: Path, result: IngestResult) -> None:
    path = sql_literal_path(out)
    counted = con.execute(f"SELECT count(*) FROM read_parquet({path})").fetchall()
    result.row_count = int(counted[0][0]) if counted else 0
    result.columns = [
        {"name": name, "type": str(kind)}
        for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
    ]


# -- XLSX ---------------------------------------------------------------------------------------
def check_zip_bomb(path: Path) -> None:
    """Refuse archives that expand far beyond their size before any XML parser sees them."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise IngestError(
            "The file is not a readable XLSX workbook: it is not a zip archive"
        ) from None
    with archive as zf:
        total = 0
        for info in zf.infolist():
            total += info.file_size
            if (
                info.compress_size
                and info.file_size / info.compress_size > MAX_XLSX_RATIO
                and info.file_size > 50 * 1024 * 1024
            ):
                raise IngestError(
                    f"The spreadsheet part {info.filename} expands {info.file_size:,} bytes from "
                    f"{info.compress_size:,}: refused as a possible zip bomb"
                )
        if total > MAX_XLSX_UNCOMPRESSED:
            raise IngestError(f"The spreadsheet expands to {total:,} bytes, over the limit")


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return value


def _xlsx_to_csv(source: Path, target: Path, result: IngestResult) -> None:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    check_zip_bomb(source)
    try:
        # A file object, because openpyxl judges paths by their extension and blobs have none.
        book = openpyxl.load_workbook(open(source, "rb"), read_only=True, data_only=True)  # noqa: SIM115
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, InvalidFileException) as exc:
        raise IngestError(f"The file is not a readable XLSX workbook ({exc})") from None
    try:
        sheet = book.worksheets[0]
        if len(book.worksheets) > 1:
            result.warnings.append(
                f"The workbook has {len(book.worksheets)} sheets; only the first "
                f"({sheet.title!r}) was loaded"
            )
        with open(target, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            for row in sheet.iter_rows(values_only=True):
                if row and any(v is not None for v in row):
                    writer.writerow([_cell(v) for v in row])
    finally:
        book.close()


# -- JSON, NDJSON, GeoJSON, Parquet --------------------------------------------------------------
def _from_other(
    source: Path, fmt: str, out: Path, work: Path, result: IngestResult, memory_limit: str
) -> None:
    if _is_blank(source):
        raise IngestError("The file is empty")
    con = connect(
        readable=[source], writable_dirs=[work], memory_limit=memory_limit, temp_dir=work / "spill"
    )
    path = sql_literal_path(source)
    size = max(source.stat().st_size + 1, 16 * 1024 * 1024)
    try:
        if fmt == "Parquet":
            select = f"SELECT * FROM read_parquet({path})"
        elif fmt == "NDJSON":
            select = (
                f"SELECT * FROM read_json({path}, format='newline_delimited', "
                f"maximum_object_size={MAX_LINE_BYTES})"
            )
        elif fmt == "GeoJSON" or _looks_like_feature_collection(source):
            select = _geojson_select(con, path, size)
        else:
            select = f"SELECT * FROM read_json({path}, format='array', maximum_object_size={size})"
        con.execute(f"COPY ({select}) TO {sql_literal_path(out)} " + SNAPSHOT_OPTIONS)
        _describe(con, out, result)
    finally:
        con.close()


def _looks_like_feature_collection(source: Path) -> bool:
    with open(source, "rb") as fh:
        return b'"FeatureCollection"' in fh.read(4096)


def _geojson_select(con: duckdb.DuckDBPyConnection, path: str, size: int) -> str:
    features = (
        f"(SELECT unnest(features) AS f FROM read_json({path}, format='auto', "
        f"maximum_object_size={size}))"
    )
    kinds = con.execute(f"DESCRIBE SELECT f FROM {features}").fetchall()
    ftype = str(kinds[0][1]) if kinds else ""
    if "properties STRUCT" in ftype:
        return f"SELECT unnest(f.properties), to_json(f.geometry) AS geometry FROM {features}"
    return (
        f"SELECT to_json(f.properties) AS properties, to_json(f.geometry) AS geometry "
        f"FROM {features}"
    )


__all__ = [
    "IngestError",
    "IngestResult",
    "check_zip_bomb",
    "detect_encoding",
    "ingest",
    "is_tabular",
]

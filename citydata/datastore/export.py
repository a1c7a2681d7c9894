"""Streaming exports of a row query: CSV, JSON, NDJSON, Parquet, GeoJSON.

Rows come from DuckDB as Arrow record batches and leave as bytes batch by batch, so memory
stays flat whatever the size of the result.

CSV exports neutralise spreadsheet formula injection (OWASP "CSV injection"): a text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so a
spreadsheet shows it as text instead of running it. Numbers are never changed; a text cell such
as ``-5`` becomes ``'-5``. The JSON, NDJSON and Parquet exports carry values unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from citydata.datastore.query import (
    RowQuery,
    Snapshot,
    compile_rows,
    json_value,
    snapshot_connection,
    stream_batches,
)
from citydata.errors import QueryError

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ndjson": "application/x-ndjson",
    "parquet": "application/vnd.apache.parquet",
    "geojson": "application/geo+json",
}
FORMULA_START = r"^[=+\-@\t\r]"
LAT_NAMES = ("lat", "latitude")
LON_NAMES = ("lon", "lng", "long", "longitude")


@dataclass
class Export:
    snap: Snapshot
    query: RowQuery
    fmt: str
    #: GeoJSON only: the geometry column, or the (lat, lon) columns.
    geometry: str | None = None
    latlon: tuple[str, str] | None = None

    @property
    def media_type(self) -> str:
        return FORMATS[self.fmt]

    @property
    def filename(self) -> str:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", self.snap.dataset_name or "data").strip("-.")
        return f"{base or 'data'}-{self.snap.resource_id[:8]}-v{self.snap.version}.{self.fmt}"

    def iter_bytes(self) -> Iterator[bytes]:
        writer = {
            "csv": _csv,
            "json": _json,
            "ndjson": _ndjson,
            "parquet": _parquet,
            "geojson": self._geojson,
        }[self.fmt]
        yield from writer(self.snap, self.query)

    def _geojson(self, snap: Snapshot, q: RowQuery) -> Iterator[bytes]:
        yield b'{"type":"FeatureCollection","features":['
        first = True
        with stream_batches(snap, q) as (cols, batches):
            for batch in batches:
                out = []
                for row in batch.to_pylist():
                    feature = self._feature(row)
                    out.append(("" if first else ",") + json.dumps(feature, default=str))
                    first = False
                if out:
                    yield "".join(out).encode()
        yield b"]}"

    def _feature(self, row: dict[str, Any]) -> dict[str, Any]:
        geometry: Any = None
        props = {k: json_value(v) for k, v in row.items()}
        if self.geometry:
            raw = props.pop(self.geometry, None)
            if isinstance(raw, str) and raw.strip():
                try:
                    geometry = json.loads(raw)
                except ValueError:
                    geometry = None
            elif isinstance(raw, dict):
                geometry = raw
        elif self.latlon:
            lat, lon = (props.get(n) for n in self.latlon)
            try:
                geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}  # type: ignore[arg-type]
            except (TypeError, ValueError):
                geometry = None
        return {"type": "Feature", "geometry": geometry, "properties": props}


def geo_columns(names: list[str]) -> tuple[str | None, tuple[str, str] | None]:
    """The geometry column, else the (latitude, longitude) columns, a GeoJSON export uses."""
    lower = {n.lower(): n for n in names}
    if "geometry" in lower:
        return lower["geometry"], None
    lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
    lon = next((lower[n] for n in LON_NAMES if n in lower), None)
    return None, (lat, lon) if lat and lon else None


def prepare_export(snap: Snapshot, q: RowQuery, fmt: str) -> Export:
    """Check the query and format before any byte is sent (errors are still clean 400s)."""
    if fmt not in FORMATS:
        raise QueryError(f"Unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    with snapshot_connection(snap) as con:
        compile_rows(con, snap, q)
    export = Export(snap, q, fmt)
    if fmt == "geojson":
        geometry, latlon = geo_columns(q.columns or [c.name for c in snap.columns])
        if geometry is None and latlon is None:
            raise QueryError(
                "GeoJSON needs a geometry column (GeoJSON text) or latitude/longitude "
                "columns among the selected columns"
            )
        export.geometry, export.latlon = geometry, latlon
    return export


class _Drain:
    """A write-only file that hands its bytes out as they are written and counts its size
    (Parquet footers record absolute offsets, so ``tell`` must keep counting)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.pos = 0
        self.closed = False

    def write(self, data: Any) -> int:
        b = bytes(data)
        self.chunks.append(b)
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def neutralise(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix formula-like text cells with ``'`` (see the module docstring)."""
    arrays = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            risky = pc.fill_null(pc.match_substring_regex(col, FORMULA_START), False)
            col = pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _csv(snap: Snapshot, q: RowQuery) -> Iterator[bytes]:
    with stream_batches(snap, q, text_nested=True) as (cols, batches):
        sink = _Drain()
        writer: pacsv.CSVWriter | None = None
        for batch in batches:
            batch = neutralise(batch)
            if writer is None:
                writer = pacsv.CSVWriter(sink, batch.schema)
            writer.write_batch(batch)
            yield sink.take()
        if writer is None:  # no rows: still a header line
            writer = pacsv.CSVWriter(sink, batches.schema)
        writer.close()
        tail = sink.take()
        if tail:
            yield tail


def _ndjson(snap: Snapshot, q: RowQuery) -> Iterator[bytes]:
    with stream_batches(snap, q) as (cols, batches):
        for batch in batches:
            lines = [
                json.dumps({k: json_value(v) for k, v in row.items()}) for row in batch.to_pylist()
            ]
            if lines:
                yield ("\n".join(lines) + "\n").encode()


def _json(snap: Snapshot, q: RowQuery) -> Iterator[bytes]:
    yield b"["
    first = True
    with stream_batches(snap, q) as (cols, batches):
        for batch in batches:
            parts = []
            for row in batch.to_pylist():
                parts.append(
                    ("" if first else ",") + json.dumps({k: json_value(v) for k, v in row.items()})
                )
                first = False
            if parts:
                yield "".join(parts).encode()
    yield b"]"


def _parquet(snap: Snapshot, q: RowQuery) -> Iterator[bytes]:
    with stream_batches(snap, q) as (cols, batches):
        sink = _Drain()
        writer = pq.ParquetWriter(sink, batches.schema, compression="zstd")
        for batch in batches:
            writer.write_batch(batch)
            yield sink.take()
        writer.close()
        yield sink.take()


__all__ = ["Export", "FORMATS", "neutralise", "prepare_export"]

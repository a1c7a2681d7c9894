"""Spatial uploads (GeoPackage, zipped Shapefile, GeoParquet) read into snapshot Parquet.

Each reader streams its file in batches of ``BATCH_ROWS`` features and writes the same shape of
snapshot as GeoJSON ingest: one typed column per attribute plus a ``geometry`` column of GeoJSON
geometry text in WGS84 longitude/latitude (OGC:CRS84), reprojected with pyproj from the CRS the
file declares. Geometry work is done on whole batches with shapely/pyproj array functions, so a
file of a million features takes seconds and memory is bounded by the batch, not the file.

A file that cannot be read raises :class:`IngestError`, worded for the uploader. A row that is
fine apart from its geometry is kept with a null geometry, and a warning counts such rows.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import logging
import shutil
import sqlite3
import struct
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import shapefile
import shapely
from shapely.errors import GEOSException
from shapely.geometry import shape as geometry_from_interface

from citydata.datastore.ingest import IngestError

log = logging.getLogger(__name__)

SPATIAL_FORMATS = ("GeoPackage", "Shapefile", "GeoParquet")
#: Features per batch: large enough that per-batch overhead vanishes, small enough that a batch
#: of big polygons (and their GeoJSON text) stays well inside the ingest memory budget.
BATCH_ROWS = 50_000
MAX_ZIP_UNCOMPRESSED = 4 * 1024**3
MAX_ZIP_RATIO = 200  # as check_zip_bomb: refused only for big members (over 50 MB) too
CRS84 = pyproj.CRS("OGC:CRS84")
_ENVELOPE_BYTES = (0, 32, 48, 48, 64)  # by the GeoPackage header's envelope indicator
_GPKG_TYPES = {
    "BOOLEAN": pa.bool_(), "TINYINT": pa.int64(), "SMALLINT": pa.int64(),
    "MEDIUMINT": pa.int64(), "INT": pa.int64(), "INTEGER": pa.int64(), "FLOAT": pa.float64(),
    "DOUBLE": pa.float64(), "REAL": pa.float64(), "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"), "BLOB": pa.binary(),
}  # fmt: skip
#: What a broken file makes the libraries raise (curves: NotImplementedError, a RuntimeError,
#: as is pyproj's ProjError); each becomes an IngestError. OSError is left to ingest, which
#: reports it itself; a full disk is not the uploader's fault.
_READ_ERRORS = (
    sqlite3.Error, shapefile.ShapefileException, struct.error, GEOSException, pa.ArrowException,
    RuntimeError, ValueError, TypeError, IndexError, KeyError, EOFError, zipfile.BadZipFile,
)  # fmt: skip
_GEOMETRY_ERRORS = (GEOSException, ValueError, TypeError, KeyError, AttributeError, RuntimeError)

Batches = Iterator[list[pa.Array]]


def geo_metadata(source: Path | pa.Schema) -> dict[str, Any] | None:
    """The GeoParquet ``geo`` file metadata, or None for plain Parquet (or not Parquet)."""
    try:
        schema = source if isinstance(source, pa.Schema) else pq.read_schema(source)
        geo = json.loads((schema.metadata or {}).get(b"geo") or b"null")
    except (pa.ArrowException, OSError, ValueError):
        return None
    return geo if isinstance(geo, dict) and isinstance(geo.get("columns"), dict) else None


def convert(source: Path, fmt: str, out: Path, work: Path, warnings: list[str]) -> None:
    """Write the snapshot of a GeoPackage, zipped Shapefile or GeoParquet file to ``out``."""
    if source.stat().st_size == 0:
        raise IngestError("The file is empty")
    try:
        with contextlib.ExitStack() as stack:
            if fmt == "GeoPackage":
                schema, batches = _geopackage(source, warnings, stack)
            elif fmt == "Shapefile":
                schema, batches = _shapefile(source, work, warnings, stack)
            else:
                schema, batches = _geoparquet(source, warnings, stack)
            with pq.ParquetWriter(out, schema, compression="lz4") as writer:  # = LZ4_RAW
                for arrays in batches:
                    writer.write_batch(pa.record_batch(arrays, schema=schema))
    except IngestError:
        raise
    except _READ_ERRORS as exc:
        log.info("%s ingest failed: %r", fmt, exc)
        raise IngestError(f"The file could not be read as {fmt}: {str(exc)[:300]}") from None


# -- geometry -----------------------------------------------------------------------------------
class _Geometry:
    """Turns batches of geometries into GeoJSON text in CRS84, counting what it had to null."""

    def __init__(self, crs: pyproj.CRS | None, warnings: list[str], what: str) -> None:
        self.warnings = warnings
        self.transformer: pyproj.Transformer | None = None
        self.unreadable = self.outside = self.with_z = 0
        if crs is not None and crs.is_compound:  # e.g. British National Grid + ODN height
            crs = crs.sub_crs_list[0]
        if crs is None or not (crs.is_geographic or crs.is_projected):
            # Also a local grid, as GDAL's "Undefined SRS": nothing leads from it to lon/lat.
            warnings.append(
                f"{what} does not say which coordinate reference system it uses; coordinates "
                "were taken as WGS84 longitude/latitude"
            )
            return
        if crs.equals(CRS84, ignore_axis_order=True):
            return  # EPSG:4326 too: these formats all store lon/lat in x/y order
        try:
            self.transformer = pyproj.Transformer.from_crs(crs, CRS84, always_xy=True)
        except pyproj.exceptions.ProjError as exc:
            raise IngestError(f"Coordinates in {crs.name!r} cannot be reprojected: {exc}") from None
        authority = crs.to_authority(min_confidence=70)
        label = f"{authority[0]}:{authority[1]} ({crs.name})" if authority else crs.name
        warnings.append(f"Reprojected from {label} to WGS84")

    def _project(self, coords: np.ndarray) -> np.ndarray:
        assert self.transformer is not None
        x, y = self.transformer.transform(coords[:, 0], coords[:, 1], errcheck=False)
        return np.column_stack([x, y])  # a point PROJ cannot place is inf: the range check nulls

    def _each(self, fn: Callable[[Any], Any], items: np.ndarray) -> np.ndarray:
        """``fn`` on the whole batch, or item by item if one item breaks it (a curve, say);
        the broken ones become None and are counted as unreadable."""
        try:
            return np.asarray(fn(items), dtype=object)
        except _GEOMETRY_ERRORS:
            out = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                with contextlib.suppress(*_GEOMETRY_ERRORS):
                    out[i] = None if item is None else fn(_objects([item]))[0]
            self.unreadable += int(np.count_nonzero(_present(items) & ~_present(out)))
            return out

    def from_wkb(self, wkb: np.ndarray) -> pa.Array:
        geoms = self._each(lambda w: shapely.from_wkb(w, on_invalid="ignore"), wkb)
        self.unreadable += int(np.count_nonzero(_present(wkb) & shapely.is_missing(geoms)))
        return self.to_geojson(geoms)

    def to_geojson(self, geoms: np.ndarray) -> pa.Array:
        # An empty geometry has nowhere to be drawn, and GeoJSON's forms for it are odd ("[[]]").
        geoms = np.array(geoms, dtype=object)  # a copy: the caller's batch stays as it was
        geoms[shapely.is_empty(geoms)] = None
        has_z = shapely.has_z(geoms)
        self.with_z += int(np.count_nonzero(has_z))
        if self.transformer is not None:
            project = self._project
            geoms = self._each(lambda g: shapely.transform(g, project, include_z=False), geoms)
        elif has_z.any():
            geoms = self._each(shapely.force_2d, geoms)
        bounds = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            inside = np.isfinite(bounds).all(axis=1) & (
                (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180)
                & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
            )  # fmt: skip
        outside = ~inside & ~shapely.is_missing(geoms)
        self.outside += int(np.count_nonzero(outside))
        geoms[outside] = None
        return pa.array(self._each(shapely.to_geojson, geoms), type=pa.string())

    def report(self, what: str = "geometries") -> None:
        if self.unreadable:
            self.warnings.append(f"{self.unreadable:,} {what} could not be read; set to null")
        if self.outside:
            self.warnings.append(
                f"{self.outside:,} {what} had coordinates outside WGS84 longitude -180..180 / "
                "latitude -90..90 (or not finite) after reprojection; set to null"
            )
        if self.with_z:
            self.warnings.append(f"{self.with_z:,} {what} had Z (height) values; dropped")


def _objects(values: Sequence[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def _present(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is not None for v in values), dtype=bool, count=len(values))


# -- attributes ---------------------------------------------------------------------------------
def _to_arrow(values: Sequence[Any], kind: pa.DataType) -> tuple[pa.Array, int]:
    """``values`` as an Arrow array of ``kind``, and how many misfits became null. Arrow takes
    a clean batch in one call; only a batch with a misfit (SQLite lets any column hold any
    value) goes value by value."""
    with contextlib.suppress(pa.ArrowException, TypeError, OverflowError):
        arr = pa.array(list(values))
        got, types = arr.type, pa.types
        if (
            got == kind
            or types.is_null(got)
            or (types.is_int64(kind) and types.is_integer(got))
            or (types.is_float64(kind) and (types.is_integer(got) or types.is_floating(got)))
            or ((types.is_date32(kind) or types.is_timestamp(kind)) and types.is_string(got))
        ):  # a zoned timestamp ("...Z") fails the cast: value by value, below
            return arr.cast(kind), 0
    cleaned = [_coerce(v, kind) for v in values]
    bad = sum(1 for v, c in zip(values, cleaned, strict=True) if v is not None and c is None)
    return pa.array(cleaned, type=kind), bad


def _coerce(v: Any, kind: pa.DataType) -> Any:
    try:
        if v is None or pa.types.is_binary(kind):
            return v if v is None or isinstance(v, bytes) else str(v).encode()
        if pa.types.is_string(kind):
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        if pa.types.is_boolean(kind):
            return {"1": True, "true": True, "0": False, "false": False}.get(str(v).lower())
        if pa.types.is_int64(kind):
            number = v if isinstance(v, int) else float(v)
            whole = isinstance(number, int) or number.is_integer()
            return int(number) if whole and -(2**63) <= number < 2**63 else None
        if pa.types.is_float64(kind):
            return float(v)
        if pa.types.is_date32(kind):
            if isinstance(v, date):
                return v.date() if isinstance(v, datetime) else v
            return date.fromisoformat(str(v).strip())
        when = v if isinstance(v, datetime) else datetime.fromisoformat(str(v).strip())
        # Snapshot timestamps are naive: a zoned one (GeoPackage writes "...Z") becomes UTC.
        return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
    except (ValueError, TypeError, OverflowError):
        return None


class _Attributes:
    """Typed attribute columns, batch by batch, counting values that did not fit their type."""

    def __init__(self, names: Sequence[str], kinds: list[pa.DataType], declared: list[str]):
        seen: set[str] = {"geometry"}  # ours; DuckDB compares names ignoring case
        self.names = []
        for name in names:
            candidate, n = name or "column", 1
            while candidate.lower() in seen:
                n += 1
                candidate = f"{name or 'column'}_{n}"
            seen.add(candidate.lower())
            self.names.append(candidate)
        self.kinds, self.declared, self.bad = kinds, declared, [0] * len(kinds)

    def fields(self) -> list[pa.Field]:
        return [*map(pa.field, self.names, self.kinds), pa.field("geometry", pa.string())]

    def arrays(self, rows: Sequence[Sequence[Any]]) -> list[pa.Array]:
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(self.kinds)
        out = []
        for i, (kind, values) in enumerate(zip(self.kinds, columns, strict=False)):
            arr, misfits = _to_arrow(values, kind)
            self.bad[i] += misfits
            out.append(arr)
        return out

    def report(self, warnings: list[str]) -> None:
        for name, declared, bad in zip(self.names, self.declared, self.bad, strict=True):
            if bad:
                warnings.append(
                    f"{bad:,} values in column {name!r} were not {declared}; set to null"
                )


# -- GeoPackage ---------------------------------------------------------------------------------
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _gpkg_wkb(blob: Any, srs_id: int, mixed: list[int]) -> bytes | None:
    """The WKB in a GeoPackage geometry blob (spec 2.1.3): "GP", version 0, flags, srs_id,
    an envelope of 0/32/48/64 bytes, then WKB. b"" (unreadable WKB) for anything else."""
    if blob is None:
        return None
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[:3] != b"GP\x00":
        return b""
    flags = blob[3]
    envelope = (flags >> 1) & 0x07
    if flags & 0x10 or envelope >= len(_ENVELOPE_BYTES):
        return None if flags & 0x10 else b""  # the "empty" bit: null, as empties everywhere
    if int.from_bytes(blob[4:8], "little" if flags & 1 else "big", signed=True) != srs_id:
        mixed[0] += 1
    return blob[8 + _ENVELOPE_BYTES[envelope] :]


def _gpkg_crs(con: sqlite3.Connection, srs_id: int) -> pyproj.CRS | None:
    row = con.execute(
        "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys "
        "WHERE srs_id = ?",
        (srs_id,),
    ).fetchone()
    if row is None:
        raise IngestError(f"The GeoPackage's srs_id {srs_id} is not in gpkg_spatial_ref_sys")
    organization, code, definition = (str(v or "").strip() for v in row)
    if srs_id in (-1, 0) or definition.lower() == "undefined":
        return None  # the spec's "undefined Cartesian / geographic" systems
    with contextlib.suppress(pyproj.exceptions.CRSError):
        return pyproj.CRS.from_authority(organization, code)  # exact, if PROJ knows the code
    try:
        return pyproj.CRS.from_wkt(definition)
    except pyproj.exceptions.CRSError as exc:
        raise IngestError(
            f"The GeoPackage's coordinate reference system (srs_id {srs_id}) could not be "
            f"understood: {str(exc)[:200]}"
        ) from None


def _geopackage(
    source: Path, warnings: list[str], stack: contextlib.ExitStack
) -> tuple[pa.Schema, Batches]:
    with open(source, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise IngestError("The file is not a GeoPackage: it is not an SQLite database")
    # Read-only and immutable: SQLite writes no journal or lock file next to the stored blob.
    con = sqlite3.connect(f"file:{quote(str(source))}?mode=ro&immutable=1", uri=True)
    stack.callback(con.close)
    con.execute("PRAGMA trusted_schema = OFF")  # the file's own views and triggers stay inert
    try:
        layers = con.execute(
            "SELECT g.table_name, g.column_name, g.srs_id FROM gpkg_geometry_columns g "
            "JOIN gpkg_contents c ON c.table_name = g.table_name "
            "JOIN sqlite_master m ON m.name = g.table_name AND m.type = 'table' "
            "WHERE c.data_type = 'features' ORDER BY c.rowid"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise IngestError(f"The file is not a readable GeoPackage ({exc})") from None
    if not layers:
        raise IngestError("The GeoPackage has no feature tables (tiles are not loaded)")
    table, geom_column, srs_id = str(layers[0][0]), str(layers[0][1]), int(layers[0][2])
    if len(layers) > 1:
        warnings.append(
            f"The GeoPackage has {len(layers)} feature layers; only the first ({table!r}) "
            "was loaded"
        )
    geometry = _Geometry(_gpkg_crs(con, srs_id), warnings, "The GeoPackage layer")
    info = con.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    columns = [(str(r[1]), str(r[2] or "TEXT").upper()) for r in info]
    columns = [c for c in columns if c[0].lower() != geom_column.lower()]
    attrs = _Attributes(
        [name for name, _ in columns],
        [_GPKG_TYPES.get(decl.split("(")[0].strip(), pa.string()) for _, decl in columns],
        [decl for _, decl in columns],
    )
    select = ", ".join(_quote(name) for name in [*(c[0] for c in columns), geom_column])

    def batches() -> Batches:
        cursor = con.execute(f"SELECT {select} FROM {_quote(table)}")
        mixed = [0]
        while rows := cursor.fetchmany(BATCH_ROWS):
            wkb = _objects([_gpkg_wkb(row[-1], srs_id, mixed) for row in rows])
            yield [*attrs.arrays([row[:-1] for row in rows]), geometry.from_wkb(wkb)]
        geometry.report()
        attrs.report(warnings)
        if mixed[0]:
            warnings.append(
                f"{mixed[0]:,} geometries named another srs_id than their layer's {srs_id}; "
                "they were read in the layer's coordinate reference system"
            )

    return pa.schema(attrs.fields()), batches()


# -- Shapefile ----------------------------------------------------------------------------------
def _cpg_encoding(text: str) -> str | None:
    """The Python codec for a .cpg file's contents ("UTF-8", "1252", "ANSI 1252", ...)."""
    name = text.strip().upper().removeprefix("ANSI ").replace(" ", "")
    aliases = {"65001": "utf-8", "88591": "latin-1", "UTF8": "utf-8"}
    try:
        return codecs.lookup(aliases.get(name, f"cp{name}" if name.isdigit() else name)).name
    except LookupError:
        return None


def _zip_parts(zf: zipfile.ZipFile, warnings: list[str]) -> dict[str, zipfile.ZipInfo]:
    """The first Shapefile's parts by extension; unsafe paths and zip bombs are refused."""
    members: dict[tuple[str, str], zipfile.ZipInfo] = {}
    layers: list[tuple[str, str]] = []
    for info in zf.infolist():
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            raise IngestError(f"The zip archive has an unsafe member path {info.filename!r}")
        if info.is_dir() or "__MACOSX" in path.parts or path.name.startswith("._"):
            continue  # folders and macOS resource forks
        stem, ext = str(path.with_suffix("")).lower(), path.suffix.lower()
        members.setdefault((stem, ext), info)
        if ext == ".shp":
            layers.append((stem, info.filename))
    if not layers:
        raise IngestError("The zip archive holds no Shapefile: there is no .shp file in it")
    if len(layers) > 1:
        warnings.append(
            f"The zip archive holds {len(layers)} Shapefiles; only the first "
            f"({layers[0][1]!r}) was loaded"
        )
    parts = {ext: info for (stem, ext), info in members.items() if stem == layers[0][0]}
    if ".dbf" not in parts:
        raise IngestError(
            f"The Shapefile {layers[0][1]!r} is incomplete: its .dbf file (the attribute table) "
            "is not in the zip archive"
        )
    if (total := sum(info.file_size for info in parts.values())) > MAX_ZIP_UNCOMPRESSED:
        raise IngestError(f"The Shapefile expands to {total:,} bytes, over the limit")
    for info in parts.values():
        if info.flag_bits & 0x1:
            raise IngestError(f"The zip archive member {info.filename!r} is encrypted")
        ratio = info.file_size / info.compress_size if info.compress_size else 0
        if ratio > MAX_ZIP_RATIO and info.file_size > 50 * 1024 * 1024:
            raise IngestError(
                f"The zip archive member {info.filename} expands {info.file_size:,} bytes from "
                f"{info.compress_size:,}: refused as a possible zip bomb"
            )
    return parts


def _dbf_type(field: Any) -> pa.DataType:
    _, kind, size, decimal = field
    if kind == "N" and not decimal and size <= 18:
        return pa.int64()
    types = {"N": pa.float64(), "F": pa.float64(), "L": pa.bool_(), "D": pa.date32()}
    return types.get(kind, pa.string())


def _shapefile(
    source: Path, work: Path, warnings: list[str], stack: contextlib.ExitStack
) -> tuple[pa.Schema, Batches]:
    try:
        zf = stack.enter_context(zipfile.ZipFile(source))
    except zipfile.BadZipFile:
        raise IngestError(
            "The file is not a zip archive; upload a Shapefile as a .zip of its .shp, .shx, "
            ".dbf and .prj files"
        ) from None
    parts = _zip_parts(zf, warnings)
    files: dict[str, Any] = {}
    for ext in (".shp", ".shx", ".dbf"):
        if ext in parts:
            # Copied to names we choose, never to the member's own path (no zip slip); zipfile
            # stops at the declared size, which _zip_parts has bounded.
            target = work / f"layer{ext}"
            with zf.open(parts[ext]) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            files[ext[1:]] = stack.enter_context(target.open("rb"))
    if "shx" not in files:
        warnings.append("The Shapefile has no .shx index; its shapes were read in file order")
    crs = None
    if ".prj" in parts and parts[".prj"].file_size < 1 << 20:
        try:
            crs = pyproj.CRS.from_wkt(zf.read(parts[".prj"]).decode("utf-8", "replace"))
        except pyproj.exceptions.CRSError as exc:
            raise IngestError(
                "The Shapefile's .prj file does not hold a coordinate reference system that "
                f"could be understood: {str(exc)[:200]}"
            ) from None
    geometry = _Geometry(crs, warnings, "The Shapefile (it has no .prj file)")
    encoding = None
    if ".cpg" in parts and parts[".cpg"].file_size < 1024:
        encoding = _cpg_encoding(zf.read(parts[".cpg"]).decode("ascii", "replace"))
    if encoding is None:
        # GDAL's default too: a .dbf that names no code page is most often Windows-1252.
        encoding = "cp1252"
        warnings.append("The Shapefile does not name its text encoding (.cpg); read as cp1252")
    reader = shapefile.Reader(encoding=encoding, encodingErrors="replace", **files)
    stack.callback(reader.close)
    fields = [f for f in reader.fields if f[0] != "DeletionFlag"]
    names, kinds = [str(f[0]) for f in fields], [_dbf_type(f) for f in fields]
    attrs = _Attributes(names, kinds, [f"dbf type {f[1]}" for f in fields])

    def batches() -> Batches:
        gone = object()  # .shp and .dbf of different lengths: keep the longer one's rows
        pairs = itertools.zip_longest(
            reader.iterShapes(), reader.iterRecords(deleted_as_None=True), fillvalue=gone
        )
        unmatched = 0
        while chunk := list(itertools.islice(pairs, BATCH_ROWS)):
            rows: list[Any] = []
            geoms: list[Any] = []
            for shape, record in chunk:
                if record is None:
                    continue  # deleted in the .dbf
                unmatched += shape is gone or record is gone
                rows.append([None] * len(fields) if record is gone else record)
                try:
                    null = shape is gone or getattr(shape, "shapeType", 0) == shapefile.NULL
                    geoms.append(None if null else geometry_from_interface(shape))
                except _GEOMETRY_ERRORS:
                    geometry.unreadable += 1
                    geoms.append(None)
            yield [*attrs.arrays(rows), geometry.to_geojson(_objects(geoms))]
        geometry.report()
        attrs.report(warnings)
        if unmatched:
            warnings.append(
                f"The .shp and .dbf files hold different numbers of features; {unmatched:,} "
                "rows have no geometry or no attributes"
            )

    return pa.schema(attrs.fields()), batches()


# -- GeoParquet ---------------------------------------------------------------------------------
def _geoparquet(
    source: Path, warnings: list[str], stack: contextlib.ExitStack
) -> tuple[pa.Schema, Batches]:
    pf = stack.enter_context(pq.ParquetFile(source))
    schema = pf.schema_arrow
    if (geo := geo_metadata(schema)) is None:
        raise IngestError("The file is not GeoParquet: it has no 'geo' metadata")
    primary = geo.get("primary_column") or next(iter(geo["columns"]), "")
    converters: dict[str, _Geometry] = {}
    covering: set[str] = set()
    for name, spec in geo["columns"].items():
        if not isinstance(spec, dict) or name not in schema.names:
            raise IngestError(f"The GeoParquet metadata names a missing geometry column {name!r}")
        kind = schema.field(name).type
        binary = pa.types.is_binary(kind) or pa.types.is_large_binary(kind)
        if str(spec.get("encoding", "")).upper() != "WKB" or not binary:
            raise IngestError(
                f"The GeoParquet geometry column {name!r} is encoded as "
                f"{spec.get('encoding')!r}; only WKB geometry is supported"
            )
        raw_crs = spec.get("crs", "OGC:CRS84")  # no "crs" key means CRS84; null, unknown
        try:
            crs = None if raw_crs is None else pyproj.CRS.from_user_input(raw_crs)
        except (pyproj.exceptions.CRSError, TypeError):
            raise IngestError(
                f"The coordinate reference system of GeoParquet column {name!r} could not be "
                "understood"
            ) from None
        converters[name] = _Geometry(crs, warnings, f"GeoParquet column {name!r} (crs: null)")
        # Bounding-box "covering" columns hold the old CRS's numbers: dropped, not misleading.
        bbox = (spec.get("covering") or {}).get("bbox") or {}
        covering |= {v[0] for v in bbox.values() if isinstance(v, list) and v}
    if primary not in converters:
        raise IngestError(f"The GeoParquet primary geometry column {primary!r} is not described")
    keep = [n for n in schema.names if n in converters or n not in covering]
    others = iter(_Attributes([n for n in keep if n != primary], [], []).names)
    fields = [
        pa.field(
            "geometry" if name == primary else next(others),
            pa.string() if name in converters else schema.field(name).type,
        )
        for name in keep
    ]

    def batches() -> Batches:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=keep):
            yield [
                converters[name].from_wkb(batch.column(name).to_numpy(zero_copy_only=False))
                if name in converters
                else batch.column(name)
                for name in keep
            ]
        for name, converter in converters.items():
            converter.report(f"geometries in column {name!r}")

    return pa.schema(fields), batches()


__all__ = ["SPATIAL_FORMATS", "convert", "geo_metadata"]

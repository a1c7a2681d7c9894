"""OS Code-Point Open: read postcodes straight from the zip and convert them to WGS84."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyproj import Transformer

#: Column order of the data CSVs, as given by ``Doc/Code-Point_Open_Column_Headers.csv``.
EXPECTED_COLUMNS = ["PC", "PQ", "EA", "NO", "CY", "RH", "LH", "CC", "DC", "WC"]
#: Positional quality 90 means "no coordinates" (easting and northing are 0).
NO_COORDINATES = 90

_POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def normalise_postcode(value: str) -> str | None:
    """Upper-case with one space before the inward code ("sw1a1aa" → "SW1A 1AA").

    Returns ``None`` when the value is not shaped like a UK postcode.
    """
    compact = re.sub(r"\s+", "", value or "").upper()
    if not _POSTCODE_RE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


@lru_cache(maxsize=1)
def bng_to_wgs84() -> Transformer:
    """British National Grid (EPSG:27700) → WGS84 lon/lat, built once per process."""
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def check_columns(archive: zipfile.ZipFile) -> None:
    """Fail loudly if OS changed the column layout, rather than load shifted columns."""
    names = [n for n in archive.namelist() if n.lower().endswith("column_headers.csv")]
    if not names:
        raise ValueError("Code-Point Open zip has no Doc/Code-Point_Open_Column_Headers.csv")
    first_line = archive.read(names[0]).decode("latin-1").splitlines()[0]
    columns = [c.strip() for c in first_line.split(",")]
    if columns != EXPECTED_COLUMNS:
        raise ValueError(f"unexpected Code-Point Open columns: {columns}")


def _rows(archive: zipfile.ZipFile, member: str, london_only: bool) -> list[list[str]]:
    rows = []
    with archive.open(member) as raw:
        for row in csv.reader(io.TextIOWrapper(raw, encoding="latin-1", newline="")):
            if len(row) < 10 or int(row[1]) >= NO_COORDINATES:
                continue
            if london_only and not row[8].startswith("E09"):
                continue
            rows.append(row)
    return rows


def iter_codepoint(path: Path, *, london_only: bool) -> Iterator[dict[str, Any]]:
    """Yield every postcode with coordinates from a Code-Point Open zip.

    The zip is streamed member by member (one CSV per postcode area, at most ~40 k rows),
    and each member's coordinates are converted in one vectorised pyproj call.
    Keys: ``postcode, easting, northing, lat, lon, district_gss, ward_gss, country``.
    """
    transformer = bng_to_wgs84()
    with zipfile.ZipFile(path) as archive:
        check_columns(archive)
        members = sorted(
            n for n in archive.namelist() if n.startswith("Data/CSV/") and n.endswith(".csv")
        )
        for member in members:
            rows = _rows(archive, member, london_only)
            if not rows:
                continue
            eastings = [int(r[2]) for r in rows]
            northings = [int(r[3]) for r in rows]
            lons, lats = transformer.transform(eastings, northings)
            for row, e, n, lon, lat in zip(rows, eastings, northings, lons, lats, strict=True):
                postcode = normalise_postcode(row[0])
                if postcode is None:
                    continue
                yield {
                    "postcode": postcode,
                    "easting": e,
                    "northing": n,
                    "lat": round(float(lat), 6),
                    "lon": round(float(lon), 6),
                    "district_gss": row[8],
                    "ward_gss": row[9],
                    "country": row[4],
                }

"""Ingest of GeoPackage, zipped Shapefile and GeoParquet into snapshots shaped like GeoJSON's.

Fixtures are real files: GeoPackages and Shapefiles written by GDAL (through pyogrio), and
GeoParquet written with pyarrow and the ``geo`` metadata of the GeoParquet 1.1 specification.
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import zipfile
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely

pyogrio_raw = pytest.importorskip("pyogrio.raw")

from citydata.catalog.resources import guess_format, guess_mimetype  # noqa: E402
from citydata.datastore import spatial_formats  # noqa: E402
from citydata.datastore.ingest import ingest  # noqa: E402
from citydata.storage.files import FileStore  # noqa: E402

#: By Trafalgar Square, in British National Grid, and where PROJ (Helmert datum shift) puts it.
TRAFALGAR = (530034.0, 180381.0)
TRAFALGAR_LONLAT = (-0.127724, 51.507407)
#: Ordnance Survey's OSTN15 worked example, ETRS89 lat/lon <-> National Grid: an independent
#: check that the datum shift is applied, not only the projection (that would be ~100 m off).
CAISTER = (651409.804, 313177.450)
CAISTER_LONLAT = (1 + 42 / 60 + 57.8663 / 3600, 52 + 39 / 60 + 28.8282 / 3600)
CITY_HALL = (530636.0, 180245.0)  # a second London point, for lines and polygons
BNG = "EPSG:27700"
REPROJECTED = "Reprojected from EPSG:27700 (OSGB36 / British National Grid) to WGS84"


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "files")


def run(store, tmp_path, data: bytes | Path, fmt: str):
    raw = data.read_bytes() if isinstance(data, Path) else data
    sha = store.commit(store.stage(iter([raw]), max_bytes=10**10, filename="upload"))
    result = ingest(store, sha, fmt, work_dir=tmp_path / "work")
    assert list((tmp_path / "work").iterdir()) == []  # nothing left behind, ok or failed
    return result


def rows(store, result) -> list[dict]:
    path = store.blob_path(result.snapshot_sha256)
    con = duckdb.connect()
    cur = con.execute(f"SELECT * FROM read_parquet('{path}')")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def types(result) -> dict[str, str]:
    return {c["name"]: c["type"] for c in result.columns}


def geometry(row: dict) -> dict:
    return json.loads(row["geometry"])


def close(lonlat, expected, tol=1e-4) -> bool:
    return abs(lonlat[0] - expected[0]) < tol and abs(lonlat[1] - expected[1]) < tol


def wkb(*geoms) -> np.ndarray:
    return shapely.to_wkb(np.array(geoms, dtype=object))


def square(x: float, y: float, size: float = 100.0) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


ATTRS = ["name", "count", "score", "opened", "active"]


def attr_data(n: int) -> list[np.ndarray]:
    return [
        np.array([f"Café {i}" for i in range(n)], dtype=object),
        np.arange(n, dtype=np.int64) + 10,
        np.arange(n, dtype=np.float64) + 0.5,
        np.datetime64("2024-01-01") + np.arange(n),
        np.array([i % 2 == 0 for i in range(n)]),
    ]


def write_gdal(path: Path, driver: str, geoms: np.ndarray, crs: str | None = BNG, **kw) -> Path:
    n = len(geoms)
    fields = kw.pop("fields", ATTRS)
    data = kw.pop("field_data", None) or attr_data(n)
    pyogrio_raw.write(
        path, geometry=geoms, field_data=data, fields=fields, crs=crs, driver=driver,
        geometry_type=kw.pop("geometry_type", "Unknown"), **kw,
    )  # fmt: skip
    return path


def gpkg(tmp_path: Path, geoms: np.ndarray, name: str = "layer.gpkg", **kw) -> Path:
    return write_gdal(tmp_path / name, "GPKG", geoms, **kw)


def shapefile_zip(
    tmp_path: Path, geoms: np.ndarray, *, skip: tuple[str, ...] = (), folder: str = "data/", **kw
) -> bytes:
    (tmp_path / "shp").mkdir(exist_ok=True)
    write_gdal(tmp_path / "shp" / "roads.shp", "ESRI Shapefile", geoms, **kw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted((tmp_path / "shp").iterdir()):
            if part.suffix not in skip:
                zf.write(part, folder + part.name)
    return buf.getvalue()


# -- GeoPackage ---------------------------------------------------------------------------------
def test_geopackage_points_typed_attributes_and_reprojection(store, tmp_path):
    path = gpkg(
        tmp_path, wkb(shapely.Point(*TRAFALGAR), None, shapely.Point(*CAISTER)),
        fields=[*ATTRS, "seen"],
        field_data=[*attr_data(3), np.array(["2024-05-06T07:08:09"] * 3, dtype="datetime64[ms]")],
        geometry_type="Point",
    )  # fmt: skip
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and r.row_count == 3 and r.errors == []
    assert r.warnings == [REPROJECTED]
    assert types(r) == {
        "fid": "BIGINT", "name": "VARCHAR", "count": "BIGINT", "score": "DOUBLE",
        "opened": "DATE", "active": "BOOLEAN", "seen": "TIMESTAMP", "geometry": "VARCHAR",
    }  # fmt: skip
    got = rows(store, r)
    assert got[0]["name"] == "Café 0" and got[0]["count"] == 10 and got[0]["score"] == 0.5
    assert got[0]["opened"] == date(2024, 1, 1) and got[0]["active"] is True
    assert got[1]["active"] is False and got[0]["seen"] == datetime(2024, 5, 6, 7, 8, 9)
    assert geometry(got[0])["type"] == "Point"
    assert close(geometry(got[0])["coordinates"], TRAFALGAR_LONLAT)
    assert close(geometry(got[2])["coordinates"], CAISTER_LONLAT)
    assert got[1]["geometry"] is None  # a null geometry stays null; the row stays


def test_geopackage_lines_polygons_multipolygons_kept_as_drawn(store, tmp_path):
    x, y = TRAFALGAR
    holed = shapely.Polygon(
        square(x, y, 300).exterior.coords, [square(x + 100, y + 100).exterior.coords]
    )
    bowtie = shapely.Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100), (x, y)])
    geoms = [
        shapely.LineString([TRAFALGAR, CITY_HALL]),
        holed,
        shapely.MultiPolygon([square(x, y), square(*CITY_HALL)]),
        bowtie,
        shapely.MultiLineString([[TRAFALGAR, CITY_HALL], [CITY_HALL, (x, y + 500)]]),
    ]
    r = run(store, tmp_path, gpkg(tmp_path, wkb(*geoms)), "GeoPackage")
    assert r.status == "ok" and r.row_count == 5
    got = [geometry(row) for row in rows(store, r)]
    assert [g["type"] for g in got] == [
        "LineString", "Polygon", "MultiPolygon", "Polygon", "MultiLineString",
    ]  # fmt: skip
    assert close(got[0]["coordinates"][0], TRAFALGAR_LONLAT)
    assert len(got[1]["coordinates"]) == 2  # the hole survives
    assert len(got[2]["coordinates"]) == 2
    loaded = shapely.from_geojson(json.dumps(got[3]))
    assert not loaded.is_valid and len(got[3]["coordinates"][0]) == 5  # self-crossing, not dropped


def test_geopackage_in_wgs84_is_not_reprojected(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(-0.1281, 51.508)), crs="EPSG:4326")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and r.warnings == []
    assert geometry(rows(store, r)[0])["coordinates"] == [-0.1281, 51.508]


def test_geopackage_3d_geometry_drops_z_with_warning(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(*TRAFALGAR, 12.5)), geometry_type="Point Z")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and any("Z (height)" in w for w in r.warnings)
    coords = geometry(rows(store, r)[0])["coordinates"]
    assert len(coords) == 2 and close(coords, TRAFALGAR_LONLAT)


def test_geopackage_several_layers_loads_the_first(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(*TRAFALGAR)), layer="stations")
    gpkg(tmp_path, wkb(shapely.Point(*CITY_HALL), shapely.Point(*CITY_HALL)), layer="halls")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and r.row_count == 1
    assert "The GeoPackage has 2 feature layers; only the first ('stations') was loaded" in (
        r.warnings
    )


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_geopackage_without_crs_is_taken_as_lonlat_with_warning(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(-0.1281, 51.508)), crs=None)
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and any("does not say which coordinate" in w for w in r.warnings)
    assert geometry(rows(store, r)[0])["coordinates"] == [-0.1281, 51.508]


def test_geopackage_crs_from_definition_when_code_unknown(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(*TRAFALGAR)))
    with sqlite3.connect(path) as con:  # a private code: only the WKT says what it is
        con.execute(
            "UPDATE gpkg_spatial_ref_sys SET organization = 'ACME', "
            "organization_coordsys_id = 1 WHERE srs_id = 27700"
        )
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and r.warnings == [REPROJECTED]
    assert close(geometry(rows(store, r)[0])["coordinates"], TRAFALGAR_LONLAT)


def test_geopackage_garbled_crs_fails_clearly(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(*TRAFALGAR)))
    with sqlite3.connect(path) as con:
        con.execute(
            "UPDATE gpkg_spatial_ref_sys SET organization = 'NONE', "
            "definition = 'PROJCS[\"half a definition' WHERE srs_id = 27700"
        )
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "failed" and "could not be understood" in r.errors[0]


def test_geopackage_bad_geometries_and_values_become_null_with_counts(store, tmp_path):
    points = [shapely.Point(TRAFALGAR[0] + i, TRAFALGAR[1]) for i in range(6)]
    # No R-tree: its triggers call GDAL's SQL functions, which plain sqlite3 lacks.
    path = gpkg(
        tmp_path, wkb(*points), geometry_type="Point", layer_options={"SPATIAL_INDEX": "NO"}
    )
    huge = struct.pack("<BIdd", 1, 1, 1e300, 1e300)
    header = b"GP\x00\x01" + struct.pack("<i", 27700)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE layer SET geom = ? WHERE fid = 1", (header + b"\x01\x07garbage",))
        con.execute("UPDATE layer SET geom = ? WHERE fid = 2", (b"not a geopackage blob",))
        con.execute("UPDATE layer SET geom = ? WHERE fid = 3", (header + huge,))
        con.execute("UPDATE layer SET geom = ? WHERE fid = 4", (b"GP\x00\x11" + header[4:],))
        con.execute("UPDATE layer SET count = 'lots', opened = 'soon' WHERE fid = 5")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and r.row_count == 6
    got = rows(store, r)
    assert [row["geometry"] is None for row in got] == [True, True, True, True, False, False]
    assert got[4]["count"] is None and got[4]["opened"] is None and got[4]["name"] == "Café 4"
    assert "2 geometries could not be read; set to null" in r.warnings
    assert any(w.startswith("1 geometries had coordinates outside WGS84") for w in r.warnings)
    assert "1 values in column 'count' were not INTEGER; set to null" in r.warnings
    assert "1 values in column 'opened' were not DATE; set to null" in r.warnings


def test_geopackage_zoned_timestamps_become_utc_and_names_stay_unique(store, tmp_path):
    seen = np.array(["2024-05-06T07:08:09"] * 3, dtype="datetime64[ms]")
    path = gpkg(
        tmp_path, wkb(*[shapely.Point(*TRAFALGAR)] * 3), fields=["seen", "Geometry"],
        field_data=[seen, np.array(["a", "b", "c"], dtype=object)],
        layer_options={"SPATIAL_INDEX": "NO"},
    )  # fmt: skip
    with sqlite3.connect(path) as con:  # as GDAL writes zoned values
        con.execute("UPDATE layer SET seen = '2024-05-06T07:08:09.500Z' WHERE fid = 1")
        con.execute("UPDATE layer SET seen = '2024-05-06T08:08:09+01:00' WHERE fid = 2")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and list(types(r)) == ["fid", "seen", "Geometry_2", "geometry"]
    assert [row["seen"] for row in rows(store, r)] == [
        datetime(2024, 5, 6, 7, 8, 9, 500000), datetime(2024, 5, 6, 7, 8, 9),
        datetime(2024, 5, 6, 7, 8, 9),
    ]  # fmt: skip


def test_geopackage_out_of_range_lonlat_is_nulled(store, tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(200, 95), shapely.Point(1, 2)), crs="EPSG:4326")
    r = run(store, tmp_path, path, "GeoPackage")
    assert r.status == "ok" and [row["geometry"] is None for row in rows(store, r)] == [True, False]
    assert any(w.startswith("1 geometries had coordinates outside") for w in r.warnings)


def test_geopackage_batches_keep_order_and_counts(store, tmp_path, monkeypatch):
    monkeypatch.setattr(spatial_formats, "BATCH_ROWS", 4)
    geoms = [
        None if i % 3 == 0 else shapely.Point(TRAFALGAR[0] + i, TRAFALGAR[1]) for i in range(10)
    ]
    r = run(store, tmp_path, gpkg(tmp_path, wkb(*geoms), geometry_type="Point"), "GeoPackage")
    got = rows(store, r)
    assert r.row_count == 10 and [row["count"] for row in got] == list(range(10, 20))
    assert [row["geometry"] is None for row in got] == [g is None for g in geoms]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[: len(data) // 3],  # truncated
        lambda data: data[:100] + bytes(len(data) - 100),  # pages zeroed
        lambda data: b"SQLite format 3\x00" + bytes(range(256)) * 40,
        lambda data: b"PK\x03\x04 not sqlite at all",
    ],
)
def test_corrupt_geopackage_fails_clearly(store, tmp_path, mangle):
    data = gpkg(tmp_path, wkb(*[shapely.Point(*TRAFALGAR)] * 2000)).read_bytes()
    r = run(store, tmp_path, mangle(data), "GeoPackage")
    assert r.status == "failed" and r.snapshot_sha256 is None
    assert "GeoPackage" in r.errors[0]


def test_sqlite_file_that_is_not_a_geopackage_fails(store, tmp_path):
    with sqlite3.connect(tmp_path / "plain.db") as con:
        con.execute("CREATE TABLE t (a INTEGER)")
    r = run(store, tmp_path, tmp_path / "plain.db", "GeoPackage")
    assert r.status == "failed" and "not a readable GeoPackage" in r.errors[0]


# -- Shapefile ----------------------------------------------------------------------------------
def test_shapefile_points_typed_attributes_and_reprojection(store, tmp_path):
    data = shapefile_zip(
        tmp_path, wkb(shapely.Point(*TRAFALGAR), None, shapely.Point(*CAISTER)),
        geometry_type="Point",
    )  # fmt: skip
    r = run(store, tmp_path, data, "Shapefile")
    assert r.status == "ok" and r.row_count == 3 and r.warnings == [REPROJECTED]
    assert types(r) == {
        "name": "VARCHAR", "count": "BIGINT", "score": "DOUBLE", "opened": "DATE",
        "active": "BOOLEAN", "geometry": "VARCHAR",
    }  # fmt: skip
    got = rows(store, r)
    assert got[0]["name"] == "Café 0" and got[2]["count"] == 12 and got[1]["score"] == 1.5
    assert got[1]["opened"] == date(2024, 1, 2) and got[1]["active"] is False
    assert close(geometry(got[0])["coordinates"], TRAFALGAR_LONLAT)
    assert close(geometry(got[2])["coordinates"], CAISTER_LONLAT)
    assert got[1]["geometry"] is None


def test_shapefile_polygons_with_holes_and_multipolygons(store, tmp_path):
    x, y = TRAFALGAR
    holed = shapely.Polygon(
        square(x, y, 300).exterior.coords, [square(x + 100, y + 100).exterior.coords]
    )
    geoms = wkb(holed, shapely.MultiPolygon([square(x, y), square(*CITY_HALL)]), None)
    r = run(
        store, tmp_path, shapefile_zip(tmp_path, geoms, geometry_type="MultiPolygon"), "Shapefile"
    )
    assert r.status == "ok" and r.row_count == 3
    got = rows(store, r)
    first, second = geometry(got[0]), geometry(got[1])
    assert first["type"] == "Polygon" and len(first["coordinates"]) == 2
    assert second["type"] == "MultiPolygon" and len(second["coordinates"]) == 2
    assert close(second["coordinates"][0][0][0], TRAFALGAR_LONLAT, 1e-2)
    assert got[2]["geometry"] is None


def test_shapefile_lines(store, tmp_path):
    geoms = wkb(shapely.LineString([TRAFALGAR, CITY_HALL]))
    r = run(
        store, tmp_path, shapefile_zip(tmp_path, geoms, geometry_type="LineString"), "Shapefile"
    )
    line = geometry(rows(store, r)[0])
    assert line["type"] == "LineString" and close(line["coordinates"][0], TRAFALGAR_LONLAT)


def test_shapefile_without_prj_or_cpg_warns(store, tmp_path):
    data = shapefile_zip(
        tmp_path, wkb(shapely.Point(-0.1281, 51.508)), skip=(".prj", ".cpg"),
        geometry_type="Point", encoding="cp1252",
    )  # fmt: skip
    r = run(store, tmp_path, data, "Shapefile")
    assert r.status == "ok"
    assert any("no .prj file" in w for w in r.warnings)
    assert any("read as cp1252" in w for w in r.warnings)
    got = rows(store, r)[0]
    assert got["name"] == "Café 0" and geometry(got)["coordinates"] == [-0.1281, 51.508]


def test_shapefile_without_shx_is_read_in_order(store, tmp_path):
    points = wkb(shapely.Point(*TRAFALGAR), shapely.Point(*CITY_HALL))
    r = run(store, tmp_path, shapefile_zip(tmp_path, points, skip=(".shx",)), "Shapefile")
    assert r.status == "ok" and r.row_count == 2 and any(".shx" in w for w in r.warnings)


def test_shapefile_deleted_record_goes_with_its_shape(store, tmp_path):
    points = wkb(shapely.Point(*TRAFALGAR), shapely.Point(*CITY_HALL), shapely.Point(*CAISTER))
    data = shapefile_zip(tmp_path, points, geometry_type="Point", skip=(".dbf",))
    dbf = bytearray((tmp_path / "shp" / "roads.dbf").read_bytes())
    header, _ = struct.unpack("<HH", dbf[8:12])
    dbf[header] = ord("*")  # the dBASE deletion flag of the first record
    with zipfile.ZipFile(buf := io.BytesIO(data), "a") as zf:
        zf.writestr("data/roads.dbf", bytes(dbf))
    r = run(store, tmp_path, buf.getvalue(), "Shapefile")
    got = rows(store, r)
    assert r.status == "ok" and [row["count"] for row in got] == [11, 12]
    assert close(geometry(got[1])["coordinates"], CAISTER_LONLAT)


def test_shapefile_without_dbf_fails(store, tmp_path):
    data = shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR)), skip=(".dbf",))
    r = run(store, tmp_path, data, "Shapefile")
    assert r.status == "failed" and ".dbf file (the attribute table)" in r.errors[0]


def test_shapefile_garbled_prj_fails(store, tmp_path):
    data = shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR)), skip=(".prj",))
    with zipfile.ZipFile(buf := io.BytesIO(data), "a") as zf:
        zf.writestr("data/roads.prj", 'PROJCS["British_National_Grid",GEOGCS[')
    r = run(store, tmp_path, buf.getvalue(), "Shapefile")
    assert r.status == "failed" and ".prj file does not hold" in r.errors[0]


def test_shapefile_several_layers_loads_the_first(store, tmp_path):
    data = shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR)))
    with zipfile.ZipFile(buf := io.BytesIO(data), "a") as zf:
        for name in ("roads.shp", "roads.shx", "roads.dbf"):
            zf.writestr("other/" + name, zf.read("data/" + name))
    r = run(store, tmp_path, buf.getvalue(), "Shapefile")
    assert r.status == "ok" and r.row_count == 1
    assert any("holds 2 Shapefiles; only the first ('data/roads.shp')" in w for w in r.warnings)


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (zipped({"table.csv": b"a,b\n1,2\n"}), "holds no Shapefile"),
        (b"a,b\n1,2\n", "not a zip archive"),
        (zipped({"../../etc/roads.shp": b"x", "roads.dbf": b"x"}), "unsafe member path"),
        (zipped({"/tmp/roads.shp": b"x", "roads.dbf": b"x"}), "unsafe member path"),
        (zipped({"roads.shp": b"\x00" * 200, "roads.dbf": b"\x00" * 50}), "could not be read"),
    ],
)
@pytest.mark.filterwarnings("ignore::shapefile.PossiblyCorruptFileHeader")  # pyshp notes it too
def test_bad_shapefile_zips_fail_clearly(store, tmp_path, data, message):
    r = run(store, tmp_path, data, "Shapefile")
    assert r.status == "failed" and message in r.errors[0], r.errors


def test_shapefile_zip_bomb_refused(store, tmp_path, monkeypatch):
    data = shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR)), skip=(".dbf",))
    with zipfile.ZipFile(buf := io.BytesIO(data), "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/roads.dbf", bytes(60 * 1024 * 1024))  # ~1000:1
    r = run(store, tmp_path, buf.getvalue(), "Shapefile")
    assert r.status == "failed" and "possible zip bomb" in r.errors[0]
    monkeypatch.setattr(spatial_formats, "MAX_ZIP_UNCOMPRESSED", 100)
    r = run(store, tmp_path, shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR))), "Shapefile")
    assert r.status == "failed" and "over the limit" in r.errors[0]


# -- GeoParquet ---------------------------------------------------------------------------------
def geoparquet(geoms, *, crs: object = "27700", encoding: str = "WKB", column: str = "geometry"):
    n = len(geoms)
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "name": pa.array([f"Café {i}" for i in range(n)]),
        "opened": pa.array([date(2024, 1, i + 1) for i in range(n)], pa.date32()),
        "seen": pa.array([datetime(2024, 5, 6, 7, 8, i) for i in range(n)], pa.timestamp("ms")),
        "active": pa.array([i % 2 == 0 for i in range(n)]),
        "score": pa.array([i + 0.5 for i in range(n)]),
        column: pa.array(list(wkb(*geoms)), pa.binary()),
        "bbox": pa.array([{"xmin": 0.0, "ymin": 0.0, "xmax": 1.0, "ymax": 1.0}] * n),
    })  # fmt: skip
    spec: dict = {"encoding": encoding, "geometry_types": []}
    spec["covering"] = {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
    if crs == "27700":
        spec["crs"] = pyproj.CRS.from_epsg(27700).to_json_dict()  # PROJJSON, as the spec says
    elif crs != "absent":
        spec["crs"] = crs
    geo = {"version": "1.1.0", "primary_column": column, "columns": {column: spec}}
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["GeoParquet", "Parquet"])
def test_geoparquet_typed_columns_and_reprojection(store, tmp_path, fmt):
    x, y = TRAFALGAR
    data = geoparquet([shapely.Point(*TRAFALGAR), None, shapely.MultiPolygon([square(x, y)])])
    r = run(store, tmp_path, data, fmt)  # a plain .parquet with "geo" metadata counts too
    assert r.status == "ok" and r.row_count == 3 and r.warnings == [REPROJECTED]
    assert types(r) == {  # the bbox covering column, in the old CRS's numbers, is dropped
        "id": "BIGINT", "name": "VARCHAR", "opened": "DATE", "seen": "TIMESTAMP",
        "active": "BOOLEAN", "score": "DOUBLE", "geometry": "VARCHAR",
    }  # fmt: skip
    got = rows(store, r)
    assert got[0]["name"] == "Café 0" and got[2]["opened"] == date(2024, 1, 3)
    assert close(geometry(got[0])["coordinates"], TRAFALGAR_LONLAT)
    assert got[1]["geometry"] is None and geometry(got[2])["type"] == "MultiPolygon"


def test_geoparquet_crs_absent_means_crs84_and_null_means_unknown(store, tmp_path):
    data = geoparquet([shapely.Point(-0.1281, 51.508)], crs="absent", column="geom")
    r = run(store, tmp_path, data, "GeoParquet")
    assert r.status == "ok" and r.warnings == [] and types(r)["geometry"] == "VARCHAR"
    assert "geom" not in types(r)  # the primary geometry column is always called "geometry"
    assert geometry(rows(store, r)[0])["coordinates"] == [-0.1281, 51.508]
    r = run(store, tmp_path, geoparquet([shapely.Point(1, 2)], crs=None), "GeoParquet")
    assert r.status == "ok" and any("(crs: null) does not say" in w for w in r.warnings)


def test_geoparquet_bad_rows_and_bad_files(store, tmp_path):
    table = pq.read_table(io.BytesIO(geoparquet([shapely.Point(*TRAFALGAR)] * 2)))
    broken = table.set_column(6, "geometry", pa.array([b"\x01\x02", None], pa.binary()))
    buf = io.BytesIO()
    pq.write_table(broken.replace_schema_metadata(table.schema.metadata), buf)
    r = run(store, tmp_path, buf.getvalue(), "GeoParquet")
    assert r.status == "ok" and r.row_count == 2
    assert "1 geometries in column 'geometry' could not be read; set to null" in r.warnings
    r = run(store, tmp_path, geoparquet([shapely.Point(1, 2)], encoding="point"), "GeoParquet")
    assert r.status == "failed" and "only WKB geometry is supported" in r.errors[0]
    r = run(store, tmp_path, geoparquet([shapely.Point(1, 2)], crs="not a crs"), "GeoParquet")
    assert r.status == "failed" and "could not be understood" in r.errors[0]
    plain = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), plain)
    r = run(store, tmp_path, plain.getvalue(), "GeoParquet")
    assert r.status == "failed" and "no 'geo' metadata" in r.errors[0]
    r = run(store, tmp_path, b"PAR1 truncated", "GeoParquet")
    assert r.status == "failed"


def test_plain_parquet_with_blobs_is_untouched(store, tmp_path):
    buf = io.BytesIO()
    pq.write_table(pa.table({"geometry": pa.array([b"\x01"], pa.binary())}), buf)
    r = run(store, tmp_path, buf.getvalue(), "Parquet")
    assert r.status == "ok" and types(r) == {"geometry": "BLOB"}


@pytest.mark.parametrize("fmt", ["GeoPackage", "Shapefile", "GeoParquet"])
def test_empty_file_fails(store, tmp_path, fmt):
    r = run(store, tmp_path, b"", fmt)
    assert r.status == "failed" and r.errors == ["The file is empty"]


# -- format guessing ----------------------------------------------------------------------------
def test_guess_format_for_spatial_files(tmp_path):
    path = gpkg(tmp_path, wkb(shapely.Point(*TRAFALGAR)))
    head = path.read_bytes()[:8192]
    assert guess_format("roads.gpkg", head) == "GeoPackage"
    assert guess_format("upload", head) == "GeoPackage"  # by the SQLite application_id
    shp = shapefile_zip(tmp_path, wkb(shapely.Point(*TRAFALGAR)))
    assert guess_format("roads.zip", shp[:8192]) == "Shapefile"
    # A big first member (metadata) hides the Shapefile's part names past the head bytes:
    # then a name like "roads.shp.zip" decides, and ingest checks the whole archive.
    big = zipped({"metadata.xml": np.random.default_rng(1).bytes(20000)})
    assert guess_format("roads.shp.zip", big[:8192]) == "Shapefile"
    assert guess_format("roads.zip", big[:8192]) == "ZIP"
    assert guess_format("tables.zip", zipped({"a.csv": b"a\n1\n"})[:8192]) == "ZIP"
    assert guess_format("", url="https://example.org/wards_shp.zip") == "Shapefile"
    assert guess_format("roads.shp.zip", b"not a zip") == "ZIP"  # by extension only
    assert guess_format("trees.geoparquet", b"PAR1") == "GeoParquet"
    assert guess_format("trees.parquet", b"PAR1") == "Parquet"
    assert guess_mimetype("GeoPackage", "a.gpkg") == "application/geopackage+sqlite3"
    assert guess_mimetype("Shapefile", "a.zip") == "application/zip"
    assert guess_mimetype("GeoParquet", "a.geoparquet") == "application/vnd.apache.parquet"

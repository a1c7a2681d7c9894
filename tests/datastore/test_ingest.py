"""Ingest turns messy tabular files into Parquet snapshots, or explains why it could not."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from citydata.datastore.ingest import check_zip_bomb, detect_encoding, ingest
from citydata.storage.files import FileStore


@pytest.fixture
def store(tmp_path):
    return FileStore(tmp_path / "files")


def run(store, data: bytes, fmt: str, tmp_path):
    staged = store.stage(iter([data]), max_bytes=10**9, filename=f"x.{fmt.lower()}")
    sha = store.commit(staged)
    return ingest(store, sha, fmt, work_dir=tmp_path / "work")


def test_csv_types_and_snapshot(store, tmp_path):
    r = run(
        store,
        b"id,name,opened,score\n1,Camden,2021-03-01,4.5\n2,Hackney,2022-01-02,3\n",
        "CSV",
        tmp_path,
    )
    assert r.status == "ok" and r.row_count == 2
    assert [(c["name"], c["type"]) for c in r.columns] == [
        ("id", "BIGINT"),
        ("name", "VARCHAR"),
        ("opened", "DATE"),
        ("score", "DOUBLE"),
    ]
    assert store.exists(r.snapshot_sha256)
    assert store.blob_path(r.snapshot_sha256).read_bytes()[:4] == b"PAR1"
    assert list((tmp_path / "work").iterdir()) == []  # work files cleaned up


def test_windows_1252_and_semicolons(store, tmp_path):
    r = run(store, "ward;spend\nSoho;£10\nCafé;€5\n".encode("cp1252"), "CSV", tmp_path)
    assert r.status == "ok" and r.row_count == 2
    assert any("cp1252" in w for w in r.warnings)


def test_mixed_types_late_in_file(store, tmp_path):
    rows = "".join(f"{i},{i}\n" for i in range(30000))
    r = run(store, ("id,code\n" + rows + "30000,ABC\n").encode(), "CSV", tmp_path)
    assert r.status == "ok" and r.row_count == 30001
    assert dict((c["name"], c["type"]) for c in r.columns)["code"] == "VARCHAR"


def test_ragged_rows_padded(store, tmp_path):
    r = run(store, b"a,b,c\n1,2,3\n4,5\n", "CSV", tmp_path)
    assert r.status == "ok" and r.row_count == 2


def test_big_single_cell(store, tmp_path):
    r = run(store, b"id,blob\n1," + b"x" * (10 * 1024 * 1024) + b"\n", "CSV", tmp_path)
    assert r.status == "ok" and r.row_count == 1


@pytest.mark.parametrize("data", [b"", b"\n\n"])
def test_empty_files_fail_clearly(store, tmp_path, data):
    r = run(store, data, "CSV", tmp_path)
    assert r.status == "failed" and r.errors and r.snapshot_sha256 is None


def test_binary_junk_fails_clearly(store, tmp_path):
    r = run(store, bytes(range(256)) * 50, "Parquet", tmp_path)
    assert r.status == "failed" and "could not be read" in r.errors[0]


def test_json_ndjson_geojson(store, tmp_path):
    assert run(store, b'[{"a": 1}, {"a": 2, "b": "x"}]', "JSON", tmp_path).row_count == 2
    assert run(store, b'{"a": 1}\n{"a": 2}\n', "NDJSON", tmp_path).row_count == 2
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Camden Town", "chargers": 4},
                "geometry": {"type": "Point", "coordinates": [-0.14, 51.54]},
            }
        ],
    }
    r = run(store, json.dumps(fc).encode(), "GeoJSON", tmp_path)
    assert r.status == "ok"
    assert [c["name"] for c in r.columns] == ["name", "chargers", "geometry"]


def test_xlsx(store, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["site", "opened", "spaces"])
    sheet.append(["Camden Town", "2021-03-01", 4])
    sheet.append(["Euston Road", "2020-11-30", 6])
    buf = io.BytesIO()
    book.save(buf)
    r = run(store, buf.getvalue(), "XLSX", tmp_path)
    assert r.status == "ok" and r.row_count == 2


def test_zip_bomb_refused(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 1024 * 1024))
    from citydata.datastore.ingest import IngestError

    with pytest.raises(IngestError, match="zip bomb"):
        check_zip_bomb(bomb)


def test_detect_encoding(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes("a\n£\n".encode())
    assert detect_encoding(p) == "utf-8"
    p.write_bytes("a\n£\n".encode("utf-16"))
    assert detect_encoding(p) == "utf-16"
    p.write_bytes("a\n£\n".encode("cp1252"))
    assert detect_encoding(p) == "cp1252"


def test_csv_larger_than_the_read_buffer(store, tmp_path):
    """A CSV over the 64 MiB line limit's size ingests in bounded memory. (The 1 GB case that
    once ran out of memory lives in `make bench`, too big for the test suite.)"""
    import duckdb

    big = tmp_path / "big.csv"
    duckdb.execute(
        f"COPY (SELECT i AS id, 'borough-' || (i % 33) AS borough, i * 1.5 AS amount, "
        f"repeat('x', 40) AS note FROM range(1500000) t(i)) TO '{big}' (HEADER, DELIMITER ',')"
    )
    assert big.stat().st_size > 64 * 1024 * 1024
    with open(big, "rb") as fh:
        sha = store.commit(store.stage(fh, max_bytes=10**10, filename="big.csv"))
    r = ingest(store, sha, "CSV", work_dir=tmp_path / "work")
    assert r.status == "ok", r.errors
    assert r.row_count == 1_500_000


def test_bad_byte_after_the_sampled_start_falls_back_to_1252(store, tmp_path):
    rows = "".join(f"{i},Camden\n" for i in range(200_000))  # > 1 MB of plain UTF-8 first
    data = ("id,ward\n" + rows).encode() + "200000,Café\n".encode("cp1252")
    r = run(store, data, "CSV", tmp_path)
    assert r.status == "ok" and r.row_count == 200_001
    assert any("cp1252" in w for w in r.warnings) and r.rejected_count == 0

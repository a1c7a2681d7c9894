"""Hostile and broken tabular uploads through the real API, on both backends: each gets a clear
report, nothing crashes, and the previous good version stays live and queryable."""

from __future__ import annotations

import io
import zipfile

import pytest

GOOD = b"id,name,amount\n1,Camden,10\n2,Hackney,20\n"


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b"a" * (80 * 1024 * 1024))
    return buf.getvalue()


BAD = {
    "empty": ("data.csv", b"", "The file is empty"),
    "blank lines": ("data.csv", b"\n\n\n", "The file is empty"),
    "binary junk as parquet": ("data.parquet", bytes(range(256)) * 40, "could not be read"),
    "zip bomb as xlsx": ("data.xlsx", zip_bomb(), "zip bomb"),
    "not a workbook": ("data.xlsx", b"PK\x03\x04 not really", "not a readable XLSX"),
    "truncated json": ("data.json", b'[{"a": 1}, {"a": ', "could not be read"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_upload_keeps_previous_version(client, seeded, case):
    auth = {"Authorization": seeded["editor_token"]}
    client.post(
        "/api/3/action/package_create",
        headers=auth,
        json={"name": "bad-uploads", "owner_org": "camden"},
    )
    first = client.post(
        "/api/3/action/resource_create",
        headers=auth,
        data={"package_id": "bad-uploads", "name": "data"},
        files={"upload": ("data.csv", GOOD, "text/csv")},
    ).json()["result"]
    filename, content, message = BAD[case]
    r = client.post(
        "/api/3/action/resource_update",
        headers=auth,
        data={"id": first["id"]},
        files={"upload": (filename, content, "application/octet-stream")},
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    newest = res["versions"][-1]
    assert newest["version"] == 2 and newest["ingest_status"] == "failed"
    assert any(message in e for e in newest["report"]["errors"]), newest["report"]
    assert res["version"] == 1 and res["datastore_active"] is True
    rows = client.get("/api/3/action/datastore_search", params={"resource_id": first["id"]}).json()[
        "result"
    ]
    assert rows["total"] == 2  # still version 1's rows
    assert client.get(res["url"]).content == GOOD


def test_mixed_types_ragged_and_encoding_still_load(client, seeded):
    auth = {"Authorization": seeded["editor_token"]}
    client.post(
        "/api/3/action/package_create", headers=auth, json={"name": "messy", "owner_org": "camden"}
    )
    messy = "id;name;spend\n1;Café;£10\n2;Tea\n3;Soho;12\n".encode("cp1252")
    r = client.post(
        "/api/3/action/resource_create",
        headers=auth,
        data={"package_id": "messy"},
        files={"upload": ("messy.csv", messy, "text/csv")},
    )
    res = r.json()["result"]
    assert res["datastore_active"] and res["row_count"] == 3
    rows = client.get(
        "/api/3/action/datastore_search", params={"resource_id": res["id"], "sort": "id"}
    ).json()["result"]
    assert rows["records"][0]["name"] == "Café"

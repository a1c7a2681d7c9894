"""Uploads whose bytes are not what their name says, and how every upload is served back.

Nothing uploaded is ever served as something a browser runs on our origin: the type comes from
the format we recognised (never the uploader's Content-Type), types outside a list of data
formats become application/octet-stream, and every download is an attachment with nosniff
and a sandboxing policy.
"""

from __future__ import annotations

import io
import zipfile

import pytest

from citydata.api.downloads import download_media_type

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def not_a_zip() -> bytes:
    return b"this is plain text, not an archive\n" * 10


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


#: name, bytes, what the uploader claims, and the type it must be served with.
CASES = {
    "html named data.csv": ("data.csv", HTML, "text/html", "text/csv"),
    "exe named data.csv": ("data.csv", EXE, "application/x-msdownload", "text/csv"),
    "png named .geojson": ("places.geojson", PNG, "image/png", "application/geo+json"),
    "text named .zip": ("archive.zip", not_a_zip(), "application/zip", "application/zip"),
    "html page": ("page.html", HTML, "text/html", "application/octet-stream"),
    "svg with script": ("pic.svg", SVG, "image/svg+xml", "application/octet-stream"),
    "javascript": ("app.js", b"alert(1)", "text/javascript", "application/octet-stream"),
    "xml": ("feed.xml", b"<a xmlns='http://www.w3.org/1999/xhtml'><script>1</script></a>",
            "application/xml", "application/octet-stream"),
    "html in a zip named .xlsx": ("book.xlsx", zip_of({"index.html": HTML}),
                                  "text/html", "application/vnd.openxmlformats-officedocument."
                                  "spreadsheetml.sheet"),
}


@pytest.fixture
def dataset(client, seeded):  # type: ignore[no-untyped-def]
    auth = {"Authorization": seeded["editor_token"]}
    r = client.post("/api/3/action/package_create", headers=auth,
                    json={"name": "uploads", "owner_org": "camden"})
    assert r.status_code == 200, r.text
    return auth


@pytest.mark.parametrize("case", list(CASES))
def test_mismatched_upload_is_served_safely(client, dataset, case):
    filename, content, claimed, served = CASES[case]
    r = client.post("/api/3/action/resource_create", headers=dataset,
                    data={"package_id": "uploads", "name": case},
                    files={"upload": (filename, content, claimed)})
    assert r.status_code == 200, r.text  # stored (with its report), never a 500
    res = r.json()["result"]
    if filename == "data.csv":  # the uploader's Content-Type is never believed
        assert res["mimetype"] == "text/csv"
    got = client.get(res["url"])
    assert got.status_code == 200 and got.content == content  # the bytes, unchanged
    assert got.headers["content-type"].split(";")[0] == served
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]


@pytest.mark.parametrize(("filename", "content", "message"), [
    ("data.csv", EXE, "could not be read"),
    ("places.geojson", PNG, "could not be read"),
])
def test_binary_named_as_a_table_fails_ingest_clearly(client, dataset, filename, content,
                                                      message):
    r = client.post("/api/3/action/resource_create", headers=dataset,
                    data={"package_id": "uploads"}, files={"upload": (filename, content)})
    newest = r.json()["result"]["versions"][-1]
    assert newest["ingest_status"] == "failed", newest
    assert newest["report"]["errors"], newest["report"]


def test_publisher_set_mimetype_does_not_change_how_files_are_served(client, dataset):
    res = client.post("/api/3/action/resource_create", headers=dataset,
                      data={"package_id": "uploads"},
                      files={"upload": ("data.csv", b"a\n1\n", "text/csv")}).json()["result"]
    r = client.post("/api/3/action/resource_patch", headers=dataset,
                    json={"id": res["id"], "mimetype": "text/html"})
    assert r.status_code == 200, r.text
    got = client.get(res["url"])
    assert got.headers["content-type"].startswith("text/csv")


def test_download_media_type_allows_only_data_formats():
    assert download_media_type("text/csv") == "text/csv"
    assert download_media_type("application/geo+json; charset=utf-8") == "application/geo+json"
    for risky in ("text/html", "image/svg+xml", "text/javascript", "application/xhtml+xml",
                  "application/xml", "text/xml", "", "TEXT/HTML"):
        assert download_media_type(risky) == "application/octet-stream", risky

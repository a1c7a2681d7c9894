"""Path traversal on every file path: static files, the vendored map library, downloads, the file
store's keys, every route that takes a path parameter (read from the app), upload names, and the
members of uploaded archives (zip slip).

Requests go through a real uvicorn and a raw HTTP client, so the server sees exactly the bytes
sent: ``../``, percent-encoded, double-encoded, backslash, absolute and NUL variants.
"""

from __future__ import annotations

import http.client
import io
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import citydata
from citydata.catalog.resources import safe_filename
from citydata.errors import NotFound
from citydata.storage.files import FileStore
from tests.security.routes import all_routes, fill, path_params

PACKAGE = Path(citydata.__file__).parent

#: Ways of writing "go up a directory" (and of naming a file outright).
UP = ["../", "..%2f", "%2e%2e/", "%2e%2e%2f", "..%5c", "..\\", "%252e%252e%252f", "....//",
      "..%c0%af", "..;/"]
ABSOLUTE = ["/etc/passwd", "%2fetc%2fpasswd", "//etc/passwd", "C:%5cwindows%5cwin.ini"]
NUL = ["csrf.py%00.css", "..%00/csrf.py"]

#: Text that must never appear in an answer: other files' contents.
CANARIES = ["root:x:0:0", "def check_csrf", "SQLite format 3", "[fonts]",
            '"name": "leaflet"']


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET exactly ``path`` (no client-side normalisation or re-encoding)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("Accept", "application/json")
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def assert_contained(status: int, body: bytes, what: str) -> None:
    assert status < 500, (what, status, body[:300])
    text = body.decode("utf-8", "replace")
    leaked = [c for c in CANARIES if c in text]
    assert not leaked, (what, leaked)


def mount_attacks(prefix: str, inside: str) -> list[str]:
    """Attempts to reach a file one or more levels above a mounted directory."""
    paths = []
    for up in UP:
        for depth in (1, 2, 6):
            paths.append(f"{prefix}/{up * depth}{inside}")
    paths += [f"{prefix}/{a}" for a in ABSOLUTE] + [f"{prefix}/{n}" for n in NUL]
    return paths


def test_static_and_vendor_mounts_stay_in_their_directories(live_server, seeded):
    attacks = mount_attacks("/static", "csrf.py")  # citydata/web/csrf.py is one level up
    attacks += mount_attacks("/static", "app.py")
    attacks += mount_attacks("/vendor/leaflet", "package.json")  # leaflet/package.json
    attacks += mount_attacks("/vendor/leaflet", "etc/passwd")
    for path in attacks:
        assert_contained(*raw_get(live_server, path), path)
    # The mounts do serve their own files (so the refusals above are not just a dead mount).
    status, body = raw_get(live_server, "/static/citydata.css")
    assert status == 200 and body
    assert raw_get(live_server, "/vendor/leaflet/leaflet.js")[0] == 200


PAYLOADS = [u * 3 + "etc/passwd" for u in UP] + ABSOLUTE + NUL + ["..", ".", "%2e%2e"]


def parameter_routes(app) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    found = {}
    for route in all_routes(app.routes):
        methods = getattr(route, "methods", None) or set()
        params = path_params(getattr(route, "path", ""))
        if "GET" in methods and params:
            found[route.path] = params
    return sorted(found.items())


def test_every_route_with_a_path_parameter_refuses_traversal(live_server, app, catalog,
                                                             platform):
    routes = parameter_routes(app)
    assert len(routes) > 30 and any("{filename}" in p for p, _ in routes)
    (platform.settings.home / "secret.txt").write_text("root:x:0:0 canary\n")
    normal = {"name": "camden-ev", "fmt": "json", "resource_id": "r1", "collection_id": "c",
              "z": "1", "x": "1", "y": "1"}
    checked = 0
    for path, params in routes:
        for target in params:
            for payload in PAYLOADS:
                values = {p: normal.get(p, "x") for p in params}
                values[target] = payload
                url = fill(path, values)
                assert_contained(*raw_get(live_server, url), url)
                checked += 1
    assert checked > 300


def test_download_filename_cannot_name_another_file(live_server, client, catalog):
    res = client.get("/api/3/action/package_show", params={"id": "camden-ev"}).json()["result"]
    url = urlsplit(res["resources"][0]["url"]).path
    base = url.rsplit("/", 1)[0]
    original = raw_get(live_server, url)[1]
    for payload in PAYLOADS:
        status, body = raw_get(live_server, f"{base}/{payload}")
        assert_contained(status, body, payload)
        assert status in (200, 400, 404), (payload, status)
        if status == 200:  # the filename is cosmetic: it is always the resource's own file
            assert body == original


@pytest.mark.parametrize("key", [
    "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "/etc/passwd", "..\\..\\etc\\passwd",
    "0" * 62 + "/.", "0" * 63 + "\x00", "a" * 64 + "/../../x", "A" * 64, "", "ab/" + "0" * 61,
])
def test_file_store_keys_are_only_sha256_names(tmp_path, key):
    store = FileStore(tmp_path / "files")
    with pytest.raises(NotFound):
        store.blob_path(key)
    with pytest.raises(NotFound):
        b"".join(store.iter_bytes(key))


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\windows\\win.ini", "win.ini"),
    ("/etc/shadow", "shadow"), ("%2e%2e%2fx.csv", "2e-2e-2fx.csv"), ("x\x00.csv", "x-.csv"),
    ("..", "data"), ("data.csv\r\nSet-Cookie: a=b", "data.csv-Set-Cookie-a-b"),
    ('a"b.csv', "a-b.csv"),
])
def test_upload_names_are_reduced_to_a_safe_basename(name, safe):
    assert safe_filename(name) == safe


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for member, content in members.items():
            zf.writestr(member, content)
    return buf.getvalue()


SLIPS = ["../../evil.shp", "..\\..\\evil.shp", "/tmp/evil.shp", "a/../../evil.shp",
         "C:\\evil.shp", "C:/evil.shp"]


@pytest.mark.parametrize("member", SLIPS)
def test_zip_slip_in_an_uploaded_shapefile_writes_nothing_outside(client, seeded, platform,
                                                                   tmp_path, member):
    auth = {"Authorization": seeded["editor_token"]}
    client.post("/api/3/action/package_create", headers=auth,
                json={"name": "slip", "owner_org": "camden"})
    stem = member.rsplit(".", 1)[0]
    data = zipped({member: b"x" * 200, stem + ".dbf": b"x" * 50, "roads.prj": b"x"})
    r = client.post("/api/3/action/resource_create", headers=auth,
                    data={"package_id": "slip", "format": "Shapefile"},
                    files={"upload": ("roads.shp.zip", data, "application/zip")})
    assert r.status_code == 200, r.text
    newest = r.json()["result"]["versions"][-1]
    assert newest["ingest_status"] == "failed"
    assert any("unsafe member path" in e for e in newest["report"]["errors"]), newest
    for root in (tmp_path, Path("/tmp"), Path.cwd()):
        assert not list(root.glob("evil*")), root
        assert not list(root.parent.glob("evil*")), root.parent


def test_zip_members_with_traversal_names_in_a_workbook_write_nothing(client, seeded, tmp_path):
    auth = {"Authorization": seeded["editor_token"]}
    client.post("/api/3/action/package_create", headers=auth,
                json={"name": "slip-xlsx", "owner_org": "camden"})
    data = zipped({"[Content_Types].xml": b"<Types/>", "../../evil.xml": b"<x/>",
                   "/tmp/evil-abs.xml": b"<x/>"})
    r = client.post("/api/3/action/resource_create", headers=auth,
                    data={"package_id": "slip-xlsx"},
                    files={"upload": ("book.xlsx", data)})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["versions"][-1]["ingest_status"] == "failed"
    for root in (tmp_path, Path("/tmp"), Path.cwd()):
        assert not list(root.glob("evil*")), root

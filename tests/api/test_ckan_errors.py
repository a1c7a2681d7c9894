"""CKAN envelope and status codes for bad input: pinned, so the shape never drifts."""

from __future__ import annotations

import json

import pytest


def auth(token: str) -> dict:
    return {"Authorization": token}


def test_success_envelope(client):
    r = client.get("/api/3/action/status_show")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"help", "success", "result"} and body["success"] is True


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "etype"),
    [
        ("get", "/api/3/action/no_such_action", {}, 400, "Bad request"),
        ("get", "/api/3/action/package_show", {}, 409, "Validation Error"),
        ("get", "/api/3/action/package_show?id=missing", {}, 404, "Not Found Error"),
        ("get", "/api/3/action/package_search?colour=red", {}, 400, "Search Query Error"),
        ("get", "/api/3/action/package_search?rows=-1", {}, 400, "Search Query Error"),
        ("get", "/api/3/action/package_search?rows=ten", {}, 400, "Search Query Error"),
        # Beyond 64-bit integers once made SQLite overflow (a 500); found by the fuzzer.
        ("get", "/api/3/action/organization_list?offset=" + "9" * 20, {}, 409,
         "Validation Error"),
        ("get", "/api/3/action/package_search?start=" + "9" * 20, {}, 400, "Search Query Error"),
        ("get", "/api/3/action/package_search?sort=name%20sideways", {}, 400, "Search Query Error"),
        ("get", "/api/3/action/package_search?fq=colour:red", {}, 400, "Search Query Error"),
        (
            "get",
            '/api/3/action/package_search?facet.field=["colour"]',
            {},
            400,
            "Search Query Error",
        ),
        ("get", "/api/3/action/package_search?facet.field=tags", {}, 400, "Search Query Error"),
        (
            "get",
            "/api/3/action/package_search?fq=metadata_modified:[yesterday%20TO%20*]",
            {},
            400,
            "Search Query Error",
        ),
        (
            "post",
            "/api/3/action/package_create",
            {"content": b"{not json"},
            409,
            "Validation Error",
        ),
        ("post", "/api/3/action/package_create", {"content": b"[1, 2]"}, 409, "Validation Error"),
        (
            "post",
            "/api/3/action/package_create",
            {"json": {"name": "x1"}},
            403,
            "Authorization Error",
        ),
        (
            "get",
            "/api/3/action/package_list",
            {"headers": {"Authorization": "bogus"}},
            403,
            "Authorization Error",
        ),
        ("get", "/api/3/action/resource_show?id=nope", {}, 404, "Not Found Error"),
        ("get", "/api/3/action/organization_show?id=nope", {}, 404, "Not Found Error"),
        ("get", "/api/3/action/help_show?name=nope", {}, 404, "Not Found Error"),
    ],
)
def test_error_envelope(client, method, path, kwargs, status, etype):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["success"] is False and set(body) == {"help", "success", "error"}
    assert body["error"]["__type"] == etype
    assert body["error"]["message"]
    assert "Traceback" not in r.text


def test_field_errors_listed_together(client, seeded):
    r = client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["editor_token"]),
        json={
            "name": "Not Valid",
            "owner_org": "camden",
            "license_id": "mine",
            "frequency": "often",
            "temporal_start": "2024-13-01",
            "bbox": [10, 10, 0, 0],
            "tags": [{"name": "bad/tag"}],
            "contact_email": "nobody",
            "access_level": "secret",
            "themes": ["FOOD"],
            "boroughs": ["Camden"],
            "url": "ftp://x",
        },
    )
    assert r.status_code == 409
    err = r.json()["error"]
    for field in (
        "name",
        "license_id",
        "frequency",
        "temporal_start",
        "bbox",
        "tags",
        "contact_email",
        "access_level",
        "themes",
        "boroughs",
        "url",
    ):
        assert field in err and err[field], field


def test_rows_are_capped_like_ckan(client, seeded):
    r = client.get("/api/3/action/package_search?rows=5000")
    assert r.status_code == 200


def test_unknown_params_ignored_outside_search(client, seeded):
    client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["editor_token"]),
        json={"name": "ok-one", "owner_org": "camden", "colour": "red"},
    )
    r = client.get("/api/3/action/package_show?id=ok-one&colour=red")
    assert r.status_code == 200 and "colour" not in r.json()["result"]


def test_native_json_error_shape(client):
    r = client.get("/dataset/nope/resource/abc/download?version=0")
    assert r.status_code in (400, 404)
    assert "Traceback" not in r.text


def test_upload_limit_and_no_orphans(platform, client, seeded):
    platform.settings.max_upload_bytes = 1000
    client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["editor_token"]),
        json={"name": "limited", "owner_org": "camden"},
    )
    r = client.post(
        "/api/3/action/resource_create",
        headers=auth(seeded["editor_token"]),
        data={"package_id": "limited", "name": "big"},
        files={"upload": ("big.csv", b"x" * 5000, "text/csv")},
    )
    assert r.status_code == 413
    assert r.json()["error"]["__type"] == "Validation Error"
    show = client.get("/api/3/action/package_show?id=limited").json()["result"]
    assert show["resources"] == []
    assert list(platform.files.tmp_dir.iterdir()) == []
    assert list(platform.files.iter_blobs()) == []


def test_failed_action_leaves_no_file(platform, client, seeded):
    """A valid upload to a dataset the caller may not edit is refused and nothing is kept."""
    client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["admin_token"]),
        json={"name": "tfl-data", "owner_org": "tfl"},
    )
    r = client.post(
        "/api/3/action/resource_create",
        headers=auth(seeded["editor_token"]),
        data={"package_id": "tfl-data"},
        files={"upload": ("a.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert r.status_code == 403
    assert list(platform.files.tmp_dir.iterdir()) == []
    assert list(platform.files.iter_blobs()) == []


def test_multipart_fields_as_json(client, seeded):
    """ckanapi sends nested values in multipart bodies as JSON strings."""
    client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["editor_token"]),
        json={"name": "multi", "owner_org": "camden"},
    )
    r = client.post(
        "/api/3/action/resource_create",
        headers=auth(seeded["editor_token"]),
        data={"package_id": "multi", "format": "CSV", "name": "x"},
        files={"upload": ("x.csv", b"a\n1\n", "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert json.loads(r.text)["result"]["format"] == "CSV"


def test_resource_by_url(client, seeded):
    client.post(
        "/api/3/action/package_create",
        headers=auth(seeded["editor_token"]),
        json={"name": "linked", "owner_org": "camden"},
    )
    r = client.post(
        "/api/3/action/resource_create",
        headers=auth(seeded["editor_token"]),
        json={"package_id": "linked", "url": "https://example.org/data.geojson"},
    )
    res = r.json()["result"]
    assert res["format"] == "GeoJSON" and res["url"] == "https://example.org/data.geojson"
    bad = client.post(
        "/api/3/action/resource_create",
        headers=auth(seeded["editor_token"]),
        json={"package_id": "linked", "url": "javascript:alert(1)"},
    )
    assert bad.status_code == 409 and "url" in bad.json()["error"]

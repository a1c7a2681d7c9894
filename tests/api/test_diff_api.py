"""GET /api/v1/resources/{id}/diff: the comparison as JSON, errors in the native JSON shape."""

from __future__ import annotations

import pytest

from citydata.catalog.publish import publish_file


@pytest.fixture
def rid(make_ctx, seeded, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "chargers.csv"
    for text in (
        "site_id,site,chargers\n1,Camden Town,4\n2,Euston,6\n",
        "site_id,site,chargers\n1,Camden Town,5\n3,Belsize Park,2\n",
    ):
        path.write_text(text)
        with make_ctx() as ctx:
            _, res = publish_file(
                ctx, path, org="camden", title="Camden chargers", dataset_name="camden-chargers"
            )
    return res["id"]


def test_diff_json(client, rid):
    r = client.get(f"/api/v1/resources/{rid}/diff", params={"from": 1, "to": 2})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["key"] == ["site_id"] and d["resource_id"] == rid and d["dataset"] == "camden-chargers"
    assert d["summary"]["added"] == 1 and d["summary"]["removed"] == 1
    assert d["changed"][0]["changes"] == [{"field": "chargers", "old": 4, "new": 5}]


def test_key_param_comma_separated(client, rid):
    r = client.get(f"/api/v1/resources/{rid}/diff?from=1&to=2&key=site_id,site&limit=1")
    assert r.status_code == 200 and r.json()["key"] == ["site_id", "site"]


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("from=1&to=9", 400, "to"),
        ("from=1&to=2&key=colour", 400, "key"),
        ("from=1", 400, "to"),
        ("from=1&to=2&limit=999999", 400, "limit"),
    ],
)
def test_errors_are_native_json(client, rid, query, status, field):
    r = client.get(f"/api/v1/resources/{rid}/diff?{query}")
    assert r.status_code == status
    err = r.json()["error"]
    assert field in err["fields"] and err["message"]


def test_unknown_resource_404(client, seeded):
    r = client.get("/api/v1/resources/nope/diff?from=1&to=2")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"

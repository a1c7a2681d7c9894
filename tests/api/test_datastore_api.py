"""Querying rows through the APIs: CKAN datastore_* actions, the native rows API, exports.

Data always arrives the way a publisher sends it: a CSV uploaded through resource_create.
"""

from __future__ import annotations

import csv
import io
import json

import ckanapi
import pyarrow.parquet as pq
import pytest

ACTION = "/api/3/action/"
BOROUGHS = ["Camden", "Hackney", "Islington", "Lambeth", "Southwark"]


def csv_bytes(n: int, *, extra: str = "") -> bytes:
    lines = ["id,borough,spend,opened,lat,lon,note"]
    for i in range(n):
        spend = "" if i % 10 == 0 else f"{(i * 7) % 50}.5"
        lines.append(
            f"{i},{BOROUGHS[i % 5]},{spend},2024-01-{1 + i % 28:02d},51.5{i % 10},-0.1{i % 7},n{i}"
        )
    return ("\n".join(lines) + "\n" + extra).encode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


def call(client, action: str, token: str | None = None, **params):
    headers = auth(token) if token else {}
    return client.post(ACTION + action, json=params, headers=headers)


def publish(client, token: str, name: str, data: bytes, **dataset) -> str:
    r = call(client, "package_create", token, name=name, owner_org="camden", **dataset)
    assert r.status_code == 200, r.text
    r = client.post(
        ACTION + "resource_create",
        data={"package_id": name, "name": "rows"},
        files={"upload": ("rows.csv", data, "text/csv")},
        headers=auth(token),
    )
    assert r.status_code == 200, r.text
    assert r.json()["result"]["datastore_active"] is True
    return r.json()["result"]["id"]


@pytest.fixture
def rid(client, seeded) -> str:
    return publish(client, seeded["editor_token"], "spend", csv_bytes(237))


# -- CKAN datastore_search ----------------------------------------------------------------------
def test_datastore_search_shape_filters_sort(client, rid):
    r = call(
        client,
        "datastore_search",
        resource_id=rid,
        filters={"borough": ["Camden", "Hackney"]},
        sort="spend desc, id asc",
        limit=5,
        offset=2,
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["total"] == 96 and res["limit"] == 5 and res["offset"] == 2
    assert res["fields"][:4] == [
        {"id": "_id", "type": "int"},
        {"id": "id", "type": "int"},
        {"id": "borough", "type": "text"},
        {"id": "spend", "type": "numeric"},
    ]
    assert {f["id"]: f["type"] for f in res["fields"]}["opened"] == "date"
    spends = [x["spend"] for x in res["records"]]
    assert spends == sorted(spends, reverse=True)
    assert all(x["borough"] in ("Camden", "Hackney") for x in res["records"])
    assert "offset=7" in res["_links"]["next"] and res["_links"]["start"].startswith(
        "/api/3/action/datastore_search?"
    )


def test_datastore_search_q_fields_distinct_formats(client, rid):
    res = call(client, "datastore_search", resource_id=rid, q="islington", limit=1).json()
    assert res["result"]["total"] == 47
    res = call(
        client, "datastore_search", resource_id=rid, q={"note": "n23"}, fields="id,note"
    ).json()["result"]
    assert [f["id"] for f in res["fields"]] == ["id", "note"]
    assert sorted(x["id"] for x in res["records"]) == [23] + list(range(230, 237))
    res = call(
        client, "datastore_search", resource_id=rid, fields=["borough"], distinct=True
    ).json()["result"]
    assert [x["borough"] for x in res["records"]] == BOROUGHS and res["total"] == 5
    res = call(
        client, "datastore_search", resource_id=rid, fields="id,borough", records_format="lists",
        limit=2,
    ).json()["result"]  # fmt: skip
    assert res["records"] == [[0, "Camden"], [1, "Hackney"]]
    res = call(
        client, "datastore_search", resource_id=rid, fields="id,note", records_format="csv",
        limit=2,
    ).json()["result"]  # fmt: skip
    assert res["records"] == "0,n0\n1,n1\n"


def test_datastore_search_bad_input(client, rid):
    r = call(client, "datastore_search", resource_id=rid, filters={"nope": 1})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["__type"] == "Search Query Error" and "borough" in err["message"]
    r = call(client, "datastore_search", resource_id=rid, sort="nope desc")
    assert r.status_code == 400
    r = call(client, "datastore_search", resource_id=rid, filters={"id": "abc"})
    assert r.status_code == 400 and "not a valid int" in r.json()["error"]["message"]
    r = call(client, "datastore_search", resource_id=rid, limit=-1)
    assert r.status_code == 400
    r = call(client, "datastore_search", resource_id=rid, records_format="xml")
    assert r.status_code == 400
    r = call(client, "datastore_search", resource_id="nope")
    assert r.status_code == 404
    r = call(client, "datastore_search")
    assert r.status_code == 409
    r = call(client, "datastore_search", resource_id=rid, limit=100000)
    assert r.json()["result"]["limit"] == 32000


def test_versions(client, seeded, rid):
    r = client.post(
        ACTION + "resource_update",
        data={"id": rid},
        files={"upload": ("rows.csv", csv_bytes(5), "text/csv")},
        headers=auth(seeded["editor_token"]),
    )
    assert r.status_code == 200, r.text
    now = call(client, "datastore_search", resource_id=rid).json()["result"]
    old = call(client, "datastore_search", resource_id=rid, version=1).json()["result"]
    assert (now["total"], now["version"]) == (5, 2)
    assert (old["total"], old["version"]) == (237, 1)
    info = call(client, "datastore_info", id=rid, version=1).json()["result"]
    assert info["meta"]["count"] == 237 and info["meta"]["version"] == 1
    assert call(client, "datastore_info", id=rid).json()["result"]["meta"]["count"] == 5
    assert call(client, "datastore_search", resource_id=rid, version=9).status_code == 404
    rows = client.get(f"/api/v1/resources/{rid}/rows?version=1&_size=1").json()
    assert rows["total"] == 237


def test_ckanapi_client_against_live_server(live_server, seeded, rid):
    ck = ckanapi.RemoteCKAN(live_server, apikey=seeded["outsider_token"])
    res = ck.action.datastore_search(
        resource_id=rid, filters={"borough": "Lambeth"}, sort="id desc", limit=3
    )
    assert res["total"] == 47 and [x["id"] for x in res["records"]] == [233, 228, 223]
    info = ck.action.datastore_info(id=rid)
    assert info["meta"]["count"] == 237
    out = ck.action.datastore_search_sql(
        sql=f'SELECT borough, count(*) AS n FROM "{rid}" GROUP BY borough ORDER BY borough'
    )
    assert [(x["borough"], x["n"]) for x in out["records"]] == [
        (b, 47 + (b in BOROUGHS[:2])) for b in BOROUGHS
    ]
    with pytest.raises(ckanapi.SearchQueryError):
        ck.action.datastore_search_sql(sql=f'DELETE FROM "{rid}"')


# -- access control -----------------------------------------------------------------------------
def test_private_and_registered(client, seeded):
    token = seeded["editor_token"]
    private = publish(client, token, "secret", csv_bytes(3), private=True)
    registered = publish(client, token, "members", csv_bytes(3), access_level="registered")
    for who in (None, seeded["outsider_token"]):
        assert call(client, "datastore_search", who, resource_id=private).status_code == 404
        assert call(client, "datastore_info", who, id=private).status_code == 404
        headers = auth(who) if who else {}
        assert client.get(f"/api/v1/resources/{private}/rows", headers=headers).status_code == 404
        assert (
            client.get(f"/api/v1/resources/{private}/rows.csv", headers=headers).status_code == 404
        )
        r = call(client, "datastore_search_sql", who, sql=f'SELECT * FROM "{private}"')
        assert r.status_code == 404
    assert call(client, "datastore_search", token, resource_id=private).status_code == 200
    # registered: anonymous must sign in, any signed-in user may read
    r = call(client, "datastore_search", resource_id=registered)
    assert r.status_code == 403 and "Sign in" in r.json()["error"]["message"]
    r = client.get(f"/api/v1/resources/{registered}/rows")
    assert r.status_code == 401 and r.json()["error"]["code"] == "not_authenticated"
    r = call(client, "datastore_search", seeded["outsider_token"], resource_id=registered)
    assert r.status_code == 200 and r.json()["result"]["total"] == 3


# -- datastore_search_sql -----------------------------------------------------------------------
def test_sql_join_and_cap(client, seeded, rid, platform):
    r = call(
        client,
        "datastore_search_sql",
        sql=f'SELECT a.id, a.borough FROM "{rid}" a JOIN "{rid}" b ON a.id = b.id '
        "WHERE a.spend > 40 ORDER BY a.id LIMIT 3",
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert [f["id"] for f in res["fields"]] == ["id", "borough"]
    assert len(res["records"]) == 3 and "records_truncated" not in res

    platform.settings.sql_row_cap = 100
    res = call(client, "datastore_search_sql", sql=f'SELECT * FROM "{rid}"').json()["result"]
    assert len(res["records"]) == 100 and res["records_truncated"] is True


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM "{rid}"; DROP TABLE "{rid}"',
        "COPY (SELECT * FROM \"{rid}\") TO '/tmp/stolen.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "ATTACH '/tmp/x.db' AS x",
        "INSTALL httpfs",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM range(100000000000) a, range(100000000000) b",
    ],
)
def test_sql_injection_refused(client, rid, sql):
    r = call(client, "datastore_search_sql", sql=sql.format(rid=rid))
    assert r.status_code == 400
    assert r.json()["error"]["__type"] == "Search Query Error"


def test_sql_cannot_read_another_private_resource(client, seeded, rid):
    private = publish(client, seeded["editor_token"], "secret", csv_bytes(3), private=True)
    sql = f'SELECT * FROM "{rid}" WHERE id IN (SELECT id FROM "{private}")'
    r = call(client, "datastore_search_sql", seeded["outsider_token"], sql=sql)
    assert r.status_code == 404
    r = call(client, "datastore_search_sql", seeded["editor_token"], sql=sql)
    assert r.status_code == 200 and len(r.json()["result"]["records"]) == 3


def test_sql_time_limit(client, rid, platform):
    platform.settings.query_timeout_seconds = 0.5
    sql = (
        f'SELECT count(*) FROM "{rid}" a, "{rid}" b, "{rid}" c, "{rid}" d, "{rid}" e '
        "WHERE a.note || b.note || c.note || d.note || e.note LIKE '%zz%'"
    )
    r = call(client, "datastore_search_sql", sql=sql)
    assert r.status_code == 400
    assert "took longer than 0.5 seconds" in r.json()["error"]["message"]


# -- native rows API ----------------------------------------------------------------------------
def test_rows_filters_facets_shapes(client, rid):
    url = f"/api/v1/resources/{rid}/rows"
    r = client.get(url, params={"borough__exact": "Camden", "id__gte": "100", "_size": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"rows", "next", "next_url", "total", "facets", "columns"}
    assert body["total"] == 28 and [x["id"] for x in body["rows"]] == [100, 105, 110]
    assert body["next_url"].startswith("http") and "_next=" in body["next_url"]
    body = client.get(url, params={"borough__in": "Camden,Lambeth", "_facet": "borough"}).json()
    assert body["total"] == 95
    assert body["facets"]["borough"]["results"] == [
        {"value": "Camden", "count": 48},
        {"value": "Lambeth", "count": 47},
    ]
    body = client.get(url, params={"spend__isnull": "1", "_col": ["id"], "_size": 2}).json()
    assert body["total"] == 24 and body["rows"] == [{"id": 0}, {"id": 10}]
    body = client.get(
        url, params={"note__contains": "N23", "_shape": "arrays", "_col": "id"}
    ).json()
    assert body["rows"][0] == [23]
    body = client.get(url, params={"id": "7", "_shape": "array"}).json()
    assert isinstance(body, list) and body[0]["borough"] == "Islington"


def test_rows_paging_until_exhausted(client, rid):
    seen: list[int] = []
    spends: list[float | None] = []
    url: str | None = f"/api/v1/resources/{rid}/rows?_sort_desc=spend&_size=50"
    pages = 0
    while url:
        body = client.get(url).json()
        seen += [x["id"] for x in body["rows"]]
        spends += [x["spend"] for x in body["rows"]]
        url = body["next_url"]
        pages += 1
        assert body["total"] == 237
    assert pages == 5 and sorted(seen) == list(range(237)) and len(set(seen)) == 237
    real = [s for s in spends if s is not None]
    assert real == sorted(real, reverse=True) and spends[-24:] == [None] * 24


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"nope__exact": "1"}, "borough"),
        ({"id__regex": "1"}, "valid operators"),
        ({"_sort": "nope"}, "Unknown column"),
        ({"_wat": "1"}, "Unknown parameter"),
        ({"_size": "5000"}, "_size"),
        ({"_next": "!!"}, "_next"),
        ({"id__gt": "abc"}, "not a valid int"),
        ({"_shape": "xml"}, "_shape"),
    ],
)
def test_rows_bad_input_native_error_shape(client, rid, params, needle):
    r = client.get(f"/api/v1/resources/{rid}/rows", params=params)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "fields"}
    assert needle in err["message"] or needle in json.dumps(err["fields"])


def test_rows_openapi_documented(client):
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/resources/{resource_id}/rows" in spec["paths"]
    assert "/api/v1/resources/{resource_id}/rows.{fmt}" in spec["paths"]


# -- exports ------------------------------------------------------------------------------------
def test_csv_export_neutralises_formulas(client, seeded):
    data = b"id,cell\n1,=cmd|' /C calc'!A0\n2,+SUM(A1)\n3,@x\n4,fine\n5,-3\n"
    rid = publish(client, seeded["editor_token"], "evil", data)
    r = client.get(f"/api/v1/resources/{rid}/rows.csv")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith('attachment; filename="evil-')
    assert r.headers["content-disposition"].endswith('-v1.csv"')
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["id", "cell"]
    assert [x[1] for x in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+SUM(A1)", "'@x", "fine", "'-3"]


def test_exports_match_the_query(client, rid):
    base = f"/api/v1/resources/{rid}/rows"
    params = {"borough": "Hackney", "_sort_desc": "id", "_col": ["id", "borough", "lat", "lon"]}
    js = client.get(base + ".json", params=params)
    assert js.headers["content-type"].startswith("application/json")
    rows = js.json()
    assert len(rows) == 48 and rows[0] == {
        "id": 236,
        "borough": "Hackney",
        "lat": 51.56,
        "lon": -0.15,
    }
    nd = client.get(base + ".ndjson", params=params).text.splitlines()
    assert [json.loads(x) for x in nd] == rows
    pqt = pq.read_table(io.BytesIO(client.get(base + ".parquet", params=params).content))
    assert pqt.to_pylist() == rows
    geo = client.get(base + ".geojson", params=params).json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 48
    assert geo["features"][0]["geometry"] == {"type": "Point", "coordinates": [-0.15, 51.56]}
    bad = client.get(base + ".geojson", params={"_col": ["id"]})
    assert bad.status_code == 400 and "GeoJSON" in bad.json()["error"]["message"]
    assert client.get(base + ".xlsx").status_code in (400, 404)


def test_big_export_streams_in_chunks(client, seeded):
    n = 200_000
    body = "id,name,value\n" + "".join(f"{i},row{i},{i % 97}\n" for i in range(n))
    rid = publish(client, seeded["editor_token"], "big", body.encode())
    chunks = 0
    lines = 0
    last = b""
    with client.stream("GET", f"/api/v1/resources/{rid}/rows.csv") as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers
        for chunk in r.iter_bytes():
            chunks += 1
            lines += chunk.count(b"\n")
            last = (last + chunk)[-64:]
    assert lines == n + 1 and chunks > 5
    assert last.endswith(b'199999,"row199999",82\n')

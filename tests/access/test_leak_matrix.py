"""The leak matrix: every read endpoint × every access level × every kind of reader.

What each reader may see is written out below as a table, by hand — not computed by the code
under test. Each reader then asks every endpoint about every dataset, and the answer must be
exactly the table's: which datasets they find (results, counts, facets, lists, DCAT), how much
of each they see, whether they get the rows, and which error they get when they do not. A
private dataset's 404 must be indistinguishable from a dataset that does not exist, down to the
number of SQL statements answering it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from rdflib import Graph, Namespace
from sqlalchemy import event, select

from citydata.storage.models import User, utcnow
from citydata.storage.models_access import Agreement

DCAT = Namespace("http://www.w3.org/ns/dcat#")

#: Datasets, by label: (dataset name in the fixture, access level, discovery tier).
LEVELS = ["open", "registered", "shared", "restricted", "hidden", "private"]
NAMES = {"open": "care-open", "registered": "care-registered", "shared": "care-shared",
         "restricted": "care-restricted", "hidden": "care-hidden", "private": "care-private"}
GOVERNED = ["shared", "restricted", "hidden"]


@dataclass(frozen=True)
class Reader:
    user: str | None
    headers: tuple[tuple[str, str], ...] = ()


READERS = {
    "anonymous": Reader(None),
    "registered outsider": Reader("outsider"),
    "member of another publisher": Reader("tfl-member"),
    "recipient, active agreement": Reader("hackney-analyst",
                                          (("X-Citydata-Purpose", "service-planning"),)),
    "recipient, expired agreement": Reader("rec-expired",
                                           (("X-Citydata-Purpose", "service-planning"),)),
    "recipient, revoked agreement": Reader("rec-revoked",
                                           (("X-Citydata-Purpose", "service-planning"),)),
    "recipient, wrong purpose": Reader("rec-wrong-purpose",
                                       (("X-Citydata-Purpose", "safeguarding"),)),
    "publisher editor": Reader("camden-editor"),
    "sysadmin": Reader("root"),
}

# What each reader sees of each dataset: the metadata view and the answer to a data read.
# Metadata: full (everything, with ingest reports and hashes), schema (files and columns),
# existence (no files), none (404, as if it did not exist).
# Data: 200, 401 (sign in), 403 (refused, with the reason), 404 (it does not exist for you).
# Columns: open, registered, shared, restricted (schema tier), hidden (existence tier), private.
EXPECTED: dict[str, list[tuple[str, int]]] = {
    "anonymous": [("full", 200), ("schema", 401), ("schema", 401), ("schema", 401),
                  ("existence", 401), ("none", 404)],
    "registered outsider": [("full", 200), ("full", 200), ("schema", 403), ("schema", 403),
                            ("existence", 403), ("none", 404)],
    "member of another publisher": [("full", 200), ("full", 200), ("schema", 403),
                                    ("schema", 403), ("existence", 403), ("none", 404)],
    "recipient, active agreement": [("full", 200), ("full", 200), ("full", 200), ("full", 200),
                                    ("full", 200), ("none", 404)],
    "recipient, expired agreement": [("full", 200), ("full", 200), ("schema", 403),
                                     ("schema", 403), ("existence", 403), ("none", 404)],
    "recipient, revoked agreement": [("full", 200), ("full", 200), ("schema", 403),
                                     ("schema", 403), ("existence", 403), ("none", 404)],
    # Their agreement is in force, so they see the metadata — but not the data, for this
    # purpose.
    "recipient, wrong purpose": [("full", 200), ("full", 200), ("full", 403), ("full", 403),
                                 ("full", 403), ("none", 404)],
    "publisher editor": [("full", 200), ("full", 200), ("full", 200), ("full", 200),
                         ("full", 200), ("full", 200)],
    # Sysadmins administer the catalog (they see every dataset) but read nobody's governed
    # data without membership or an agreement.
    "sysadmin": [("full", 200), ("full", 200), ("schema", 403), ("schema", 403),
                 ("existence", 403), ("schema", 403)],
}


@pytest.fixture
def matrix(governed, make_ctx, tmp_path):  # type: ignore[no-untyped-def]
    from citydata.access.actors import Actor
    from citydata.catalog import organizations, users
    from citydata.catalog.publish import publish_file

    path = tmp_path / "care-packages.csv"
    path.write_text("package_ref,ward\nASC-1,E05013652\n")
    with make_ctx() as ctx:
        publish_file(ctx, path, org="camden", title="Care packages (hidden)",
                     dataset_name="care-hidden", metadata={
                         "access_level": "restricted", "restriction_reason": "security",
                         "discovery": "existence"})
        for name in ("rec-expired", "rec-revoked", "rec-wrong-purpose"):
            users.create_user(ctx.session, name, f"{name}@example.org", "a-long-password")
            organizations.add_member(ctx.session, Actor.system(), "hackney", name, "member")
            governed.tokens[name] = users.create_token(ctx.session, Actor.system(), name)
    every = [NAMES[g] for g in GOVERNED]
    full = {"actions": "read,query,download"}
    for user in ("hackney-analyst", "rec-expired", "rec-revoked", "rec-wrong-purpose"):
        governed.grant(user=user, datasets=every, conditions=full)
    with make_ctx() as ctx:
        for ag in ctx.session.scalars(select(Agreement)):
            requester = ctx.session.get(User, ag.requested_by).name
            if requester == "rec-expired":  # time passed: it ended a second ago
                ag.end_at = utcnow() - timedelta(seconds=1)
            if requester == "rec-revoked":
                ag.status, ag.end_at = "revoked", utcnow()
    return governed


def headers_for(g, reader: Reader) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = dict(reader.headers)
    if reader.user:
        out["Authorization"] = g.tokens[reader.user]
    return out


def ckan_status(expected: int) -> int:
    """CKAN clients get 403 where the native API says 401 (as CKAN itself does)."""
    return 403 if expected == 401 else expected


@pytest.mark.parametrize("who", list(READERS))
def test_what_each_reader_sees(client, matrix, who):
    g = matrix
    reader = READERS[who]
    h = headers_for(g, reader)
    expect = dict(zip(LEVELS, EXPECTED[who], strict=True))
    visible = {lvl for lvl, (meta, _) in expect.items() if meta != "none"}
    rid = {lvl: _resource_id(client, g, lvl) for lvl in LEVELS}

    # -- finding datasets: search results, counts, facets, lists, publisher counts ---------
    found = client.get("/api/3/action/package_search", headers=h, params={
        "q": "care", "rows": 100, "include_private": "true",
        "facet.field": json.dumps(["access_level", "res_format"])}).json()["result"]
    assert {r["name"] for r in found["results"]} == {NAMES[lvl] for lvl in visible}
    assert found["count"] == len(visible)
    levels = {"hidden": "restricted"}
    by_level: dict[str, int] = {}
    for lvl in visible:
        by_level[levels.get(lvl, lvl)] = by_level.get(levels.get(lvl, lvl), 0) + 1
    assert found["facets"]["access_level"] == by_level
    # Formats are not faceted for datasets shown only as existing, for anyone.
    assert found["facets"]["res_format"] == {"CSV": len(visible - {"hidden"})}
    listed = client.get("/api/3/action/package_list", headers=h).json()["result"]
    assert set(listed) & set(NAMES.values()) == {NAMES[lvl] for lvl in LEVELS if lvl != "private"}
    camden = client.get("/api/3/action/organization_show", params={"id": "camden"},
                        headers=h).json()["result"]
    assert camden["package_count"] == len(visible)
    catalog = Graph().parse(data=client.get("/catalog.ttl", headers=h).text, format="turtle")
    in_dcat = {str(o) for o in catalog.objects(None, DCAT.landingPage)}
    assert {u.rsplit("/", 1)[1] for u in in_dcat} & set(NAMES.values()) == {
        NAMES[lvl] for lvl in visible}

    for lvl in LEVELS:
        meta, data = expect[lvl]
        name, resource = NAMES[lvl], rid[lvl]
        where = f"{who} / {lvl}"

        # -- one dataset's metadata ------------------------------------------------------
        shown = client.get("/api/3/action/package_show", params={"id": name}, headers=h)
        page = client.get(f"/dataset/{name}", headers=h)
        ttl = client.get(f"/dataset/{name}.ttl", headers=h)
        res = client.get("/api/3/action/resource_show", params={"id": resource}, headers=h)
        info = client.get("/api/3/action/datastore_info", params={"id": resource}, headers=h)
        if meta == "none":
            for r in (shown, page, ttl, res, info):
                assert r.status_code == 404, where
            continue
        assert shown.status_code == page.status_code == ttl.status_code == 200, where
        ds = shown.json()["result"]
        assert ds["data_access"] == (data == 200 or who == "recipient, wrong purpose"), where
        distributions = set(Graph().parse(data=ttl.text, format="turtle").objects(
            None, DCAT.distribution))
        if meta == "existence":
            assert ds["resources"] == [] and ds["num_resources"] == 0, where
            assert distributions == set(), where
            assert res.status_code == info.status_code == 404, where
            assert "package_ref" not in page.text, where
            continue
        (resource_dict,) = ds["resources"]
        assert len(distributions) == 1, where
        assert res.status_code == info.status_code == 200, where
        assert [f["id"] for f in info.json()["result"]["fields"]][:2] == ["package_ref", "ward"]
        if meta == "full":
            assert resource_dict["hash"] and resource_dict["versions"][0]["sha256"], where
        else:  # schema: files and columns, but no hashes and no ingest reports
            assert resource_dict["hash"] == "" and resource_dict["versions"][0]["sha256"] == ""
            assert resource_dict["versions"][0]["report"] == {}, where
            assert [c["name"] for c in resource_dict["versions"][0]["columns"]][:2] == [
                "package_ref", "ward"], where

        # -- the data ----------------------------------------------------------------------
        url = resource_dict["url"].replace("http://testserver", "")
        sql = f'SELECT count(*) AS n FROM "{resource}"'
        answers = {
            "datastore_search": (client.get("/api/3/action/datastore_search", headers=h,
                                            params={"resource_id": resource}), True),
            "datastore_search_sql": (client.get("/api/3/action/datastore_search_sql",
                                                headers=h, params={"sql": sql}), True),
            "rows": (client.get(f"/api/v1/resources/{resource}/rows", headers=h), False),
            "rows.csv": (client.get(f"/api/v1/resources/{resource}/rows.csv", headers=h),
                         False),
            "aggregate": (client.get(f"/api/v1/resources/{resource}/aggregate", headers=h,
                                     params={"_group": "ward"}), False),
            "download": (client.get(url, headers=h), False),
            "diff": (client.get(f"/api/v1/resources/{resource}/diff", headers=h,
                                params={"from": 1, "to": 1}), False),
        }
        for endpoint, (r, is_ckan) in answers.items():
            wanted = ckan_status(data) if is_ckan else data
            if endpoint == "diff" and data == 200:
                wanted = 200
            assert r.status_code == wanted, f"{where} / {endpoint}: {r.status_code} {r.text[:200]}"
            if data != 200:
                body = r.json()
                message = body["error"]["message"]
                assert "Traceback" not in r.text and message, where
        explorer = client.get(f"/dataset/{name}/resource/{resource}/rows", headers=h)
        assert explorer.status_code == data, where
        has_preview = "Preview: the first" in page.text
        assert has_preview == (data == 200), where
        if data == 200:
            rows = answers["datastore_search"][0].json()["result"]["records"]
            assert rows and rows[0]["package_ref"].startswith("ASC-"), where


def _resource_id(client, g, lvl: str) -> str:  # type: ignore[no-untyped-def]
    if lvl == "hidden":
        with g.make_ctx() as ctx:
            from citydata.catalog.datasets import find_dataset

            return str(find_dataset(ctx.session, "care-hidden").resources[0].id)
    return g.resource(lvl)


def test_refusals_give_their_reason(client, matrix):
    g = matrix
    cases = [
        ("anonymous", "restricted", "sign in, then request access"),
        ("registered outsider", "restricted", "Request access at /dataset/care-restricted/"),
        ("recipient, expired agreement", "shared", "Request access"),
        ("recipient, wrong purpose", "restricted", "for the purpose 'safeguarding'"),
        ("sysadmin", "private", "only members of its publisher"),
    ]
    for who, lvl, words in cases:
        r = client.get(f"/api/v1/resources/{_resource_id(client, g, lvl)}/rows",
                       headers=headers_for(g, READERS[who]))
        assert words in r.json()["error"]["message"], (who, lvl, r.json())


def _statements(platform, call):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(platform.db.engine, "before_cursor_execute", count)
    try:
        response = call()
    finally:
        event.remove(platform.db.engine, "before_cursor_execute", count)
    return response, len(seen)


def _scrub(text: str, *ids: str) -> str:
    for i in ids:
        text = text.replace(i, "ID")
    return re.sub(r'"help":"[^"]*"', "", text)


def test_a_private_dataset_answers_exactly_like_one_that_does_not_exist(client, matrix,
                                                                       platform):
    g = matrix
    h = headers_for(g, READERS["member of another publisher"])
    private_id = g.resource("private")
    fake_id = "00000000-0000-4000-8000-000000000000"
    pairs = [
        (f"/api/3/action/package_show?id={NAMES['private']}",
         "/api/3/action/package_show?id=care-nowhere"),
        (f"/api/3/action/resource_show?id={private_id}",
         f"/api/3/action/resource_show?id={fake_id}"),
        (f"/api/3/action/datastore_search?resource_id={private_id}",
         f"/api/3/action/datastore_search?resource_id={fake_id}"),
        (f"/api/v1/resources/{private_id}/rows", f"/api/v1/resources/{fake_id}/rows"),
        (f"/api/v1/resources/{private_id}/aggregate?_group=ward",
         f"/api/v1/resources/{fake_id}/aggregate?_group=ward"),
        (f"/dataset/{NAMES['private']}.ttl", "/dataset/care-nowhere.ttl"),
        (f"/dataset/{NAMES['private']}", "/dataset/care-nowhere"),
        (f"/dataset/{NAMES['private']}/resource/{private_id}/download",
         f"/dataset/{NAMES['private']}/resource/{fake_id}/download"),
        (f"/dataset/{NAMES['private']}/resource/{private_id}/rows",
         f"/dataset/care-nowhere/resource/{fake_id}/rows"),
    ]
    for hidden, missing in pairs:
        client.get(hidden, headers=h), client.get(missing, headers=h)  # warm caches alike
        a, n_a = _statements(platform, lambda u=hidden: client.get(u, headers=h))
        b, n_b = _statements(platform, lambda u=missing: client.get(u, headers=h))
        assert a.status_code == b.status_code == 404, hidden
        assert _scrub(a.text, private_id, NAMES["private"]) == _scrub(
            b.text, fake_id, "care-nowhere"), hidden
        assert n_a == n_b, f"{hidden}: {n_a} SQL statements against {n_b}"


def test_no_endpoint_accepts_an_agreement_the_caller_is_not_party_to(client, matrix):
    g = matrix
    with g.make_ctx() as ctx:
        (ref,) = [a.reference for a in ctx.session.scalars(select(Agreement))
                  if ctx.session.get(User, a.requested_by).name == "hackney-analyst"]
    rid = g.resource("restricted")
    sql = f'SELECT count(*) AS n FROM "{rid}"'
    for who in ("registered outsider", "member of another publisher", "sysadmin",
                "recipient, revoked agreement"):
        h = {**headers_for(g, READERS[who]), "X-Citydata-Agreement": ref}
        for url in (f"/api/v1/resources/{rid}/rows", f"/api/v1/resources/{rid}/rows.csv",
                    f"/api/v1/resources/{rid}/aggregate?_group=ward",
                    f"/api/3/action/datastore_search?resource_id={rid}",
                    f"/api/3/action/datastore_search_sql?sql={sql}",
                    f"/dataset/care-restricted/resource/{rid}/rows"):
            r = client.get(url, headers=h)
            assert r.status_code == 403, (who, url)
            assert f"not a party to agreement {ref!r}" in r.text.replace("&#39;", "'"), (who, url)
        # Nor can they bind a token to it.
        if who != "sysadmin":
            r = client.post("/api/3/action/api_token_create", headers=h,
                            json={"user": READERS[who].user, "agreement": ref})
            assert r.status_code == 403, who


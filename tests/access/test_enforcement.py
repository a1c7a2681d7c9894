"""Reading data under an agreement, through the real APIs: purpose binding and conditions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from citydata.access import agreements
from citydata.storage.models_access import AuditEntry
from tests.access.conftest import HEADER


def auth(g, who, **headers):  # type: ignore[no-untyped-def]
    return {"Authorization": g.tokens[who], **headers}


def search(client, g, who, level="restricted", params=None, **headers):  # type: ignore[no-untyped-def]
    return client.get("/api/3/action/datastore_search",
                      params={"resource_id": g.resource(level), **(params or {})},
                      headers=auth(g, who, **headers))


def test_purpose_binding(client, governed):
    ref = governed.grant()
    r = search(client, governed, "hackney-analyst")
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert "X-Citydata-Purpose" in message and ref in message
    # Declaring the agreement's purpose, or the agreement itself, works.
    ok = search(client, governed, "hackney-analyst", **{"X-Citydata-Purpose": "service-planning"})
    assert ok.status_code == 200 and ok.json()["result"]["total"] == 60
    assert search(client, governed, "hackney-analyst",
                  **{"X-Citydata-Agreement": ref}).status_code == 200
    assert search(client, governed, "hackney-analyst",
                  params={"_agreement": ref.lower()}).status_code == 200
    # A purpose the agreement does not name, or no real purpose, is refused with the reason.
    wrong = search(client, governed, "hackney-analyst", **{"X-Citydata-Purpose": "safeguarding"})
    assert wrong.status_code == 403
    assert "safeguarding" in wrong.json()["error"]["message"]
    bogus = search(client, governed, "hackney-analyst", **{"X-Citydata-Purpose": "curiosity"})
    assert bogus.status_code == 403 and "Unknown purpose" in bogus.json()["error"]["message"]
    both = search(client, governed, "hackney-analyst",
                  **{"X-Citydata-Agreement": ref, "X-Citydata-Purpose": "safeguarding"})
    assert both.status_code == 403 and "not 'safeguarding'" in both.json()["error"]["message"]


def test_nobody_uses_an_agreement_they_are_not_party_to(client, governed):
    ref = governed.grant()
    for who in ("hackney-colleague", "tfl-member", "outsider", "root"):
        r = search(client, governed, who, **{"X-Citydata-Agreement": ref})
        assert r.status_code == 403, who
        assert f"not a party to agreement {ref!r}" in r.json()["error"]["message"]
    # The same answer for an agreement that does not exist: references reveal nothing.
    r = search(client, governed, "tfl-member", **{"X-Citydata-Agreement": "DSA-2000-9999"})
    assert r.json()["error"]["message"] == "You are not a party to agreement 'DSA-2000-9999'"


def test_token_bound_to_an_agreement(client, governed, make_ctx):
    from citydata.access.actors import Actor
    from citydata.catalog.users import create_token

    ref = governed.grant()
    other = governed.grant(level="shared", purpose="public-health")
    with make_ctx() as ctx:
        token = create_token(ctx.session, Actor.system(), "hackney-analyst", agreement=ref,
                             scope="read")
    bound = {"Authorization": token}
    r = client.get("/api/3/action/datastore_search",
                   params={"resource_id": governed.resource("restricted")}, headers=bound)
    assert r.status_code == 200  # no purpose header needed
    r = client.get("/api/3/action/datastore_search",
                   params={"resource_id": governed.resource("shared")}, headers=bound)
    assert r.status_code == 403 and "does not cover" in r.json()["error"]["message"]
    r = client.get("/api/3/action/datastore_search",
                   params={"resource_id": governed.resource("shared")},
                   headers={**bound, "X-Citydata-Agreement": other})
    assert r.status_code == 403 and "bound to agreement" in r.json()["error"]["message"]
    # A read token cannot write, whatever its user may do.
    r = client.post("/api/3/action/package_patch", json={"id": "care-open", "title": "x"},
                    headers=bound)
    assert r.status_code == 403 and "scope is read" in r.json()["error"]["message"]
    # Binding to an agreement one is not party to is refused.
    with make_ctx() as ctx, pytest.raises(Exception, match="not a party"):
        create_token(ctx.session, Actor.system(), "tfl-member", agreement=ref)


def test_allowed_columns_only(client, governed):
    governed.grant(conditions={"actions": "read,query,download", "columns": ["ward",
                                                                            "age_band"]})
    purpose = {"X-Citydata-Purpose": "service-planning"}
    r = search(client, governed, "hackney-analyst", **purpose)
    result = r.json()["result"]
    assert [f["id"] for f in result["fields"]] == ["_id", "ward", "age_band"]
    assert set(result["records"][0]) == {"_id", "ward", "age_band"}
    # Hidden columns cannot be filtered, sorted, searched or selected either.
    for params in ({"filters": json.dumps({"support_type": "Home care"})},
                   {"sort": "weekly_cost desc"}, {"fields": "weekly_cost"},
                   {"q": json.dumps({"package_ref": "ASC"})}):
        bad = search(client, governed, "hackney-analyst", params=params, **purpose)
        assert bad.status_code == 400, params
        assert "valid columns are: ward, age_band" in bad.json()["error"]["message"]
    # Free-text search looks only in the allowed columns.
    found = search(client, governed, "hackney-analyst", params={"q": "ASC-"}, **purpose)
    assert found.json()["result"]["total"] == 0
    # SQL sees only those columns too.
    sql = f'SELECT * FROM "{governed.resource("restricted")}" LIMIT 1'
    r = client.get("/api/3/action/datastore_search_sql", params={"sql": sql},
                   headers=auth(governed, "hackney-analyst", **purpose))
    assert [f["id"] for f in r.json()["result"]["fields"]] == ["ward", "age_band"]
    sql = f'SELECT weekly_cost FROM "{governed.resource("restricted")}"'
    r = client.get("/api/3/action/datastore_search_sql", params={"sql": sql},
                   headers=auth(governed, "hackney-analyst", **purpose))
    assert r.status_code == 400
    # Rows API, explorer exports: only the allowed columns; the original file: refused.
    rid = governed.resource("restricted")
    r = client.get(f"/api/v1/resources/{rid}/rows", headers=auth(governed, "hackney-analyst",
                                                                **purpose))
    assert [c["name"] for c in r.json()["columns"]] == ["ward", "age_band"]
    csv = client.get(f"/api/v1/resources/{rid}/rows.csv",
                     headers=auth(governed, "hackney-analyst", **purpose))
    assert csv.status_code == 200 and csv.text.splitlines()[0] == "\"ward\",\"age_band\""
    url = governed.datasets["restricted"]["resources"][0]["url"].replace("http://testserver", "")
    raw = client.get(url, headers=auth(governed, "hackney-analyst", **purpose))
    assert raw.status_code == 403 and "export the rows" in raw.json()["error"]["message"]
    # datastore_info describes only those columns to this reader.
    info = client.get("/api/3/action/datastore_info", params={"id": rid},
                      headers=auth(governed, "hackney-analyst"))
    assert [f["id"] for f in info.json()["result"]["fields"]] == ["ward", "age_band"]


def test_actions_the_agreement_does_not_permit(client, governed):
    governed.grant()  # read only
    purpose = {"X-Citydata-Purpose": "service-planning"}
    rid = governed.resource("restricted")
    sql = f'SELECT count(*) AS n FROM "{rid}"'
    r = client.get("/api/3/action/datastore_search_sql", params={"sql": sql},
                   headers=auth(governed, "hackney-analyst", **purpose))
    assert r.status_code == 403 and "does not permit query" in r.json()["error"]["message"]
    r = client.get(f"/api/v1/resources/{rid}/rows.csv",
                   headers=auth(governed, "hackney-analyst", **purpose))
    assert r.status_code == 403 and "does not permit download" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/resources/{rid}/rows",
                      headers=auth(governed, "hackney-analyst", **purpose)).status_code == 200


def test_aggregate_only(client, governed):
    governed.grant(actions=["aggregate"], conditions={"min_cell_count": 15})
    purpose = {"X-Citydata-Purpose": "service-planning"}
    rid = governed.resource("restricted")
    headers = auth(governed, "hackney-analyst", **purpose)
    for path in (f"/api/v1/resources/{rid}/rows", f"/api/v1/resources/{rid}/rows.csv"):
        r = client.get(path, headers=headers)
        assert r.status_code == 403 and "aggregate queries only" in r.json()["error"]["message"]
    r = search(client, governed, "hackney-analyst", **purpose)
    assert r.status_code == 403 and f"/api/v1/resources/{rid}/aggregate" in r.text
    r = client.get(f"/api/v1/resources/{rid}/aggregate", params={"_group": "ward"},
                   headers=headers)
    body = r.json()
    # Wards hold 30, 20 and 10 packages: the group under 15 is suppressed, and no grand total
    # lets it be worked out.
    assert [(g["ward"], g["count"]) for g in body["groups"]] == [("E05013652", 30),
                                                                 ("E05013653", 20)]
    assert body["suppressed_groups"] == 1 and body["min_cell_count"] == 15
    assert "total" not in body
    r = client.get(f"/api/v1/resources/{rid}/aggregate",
                   params={"_group": "ward", "_measure": "avg:weekly_cost"}, headers=headers)
    assert r.status_code == 200 and "avg_weekly_cost" in r.json()["groups"][0]
    for params, why in (({"_group": "ward", "_measure": "max:weekly_cost"}, "single value"),
                        ({"_group": "ward", "age_band": "85+"}, "by difference")):
        r = client.get(f"/api/v1/resources/{rid}/aggregate", params=params, headers=headers)
        assert r.status_code == 400 and why in r.json()["error"]["message"]


def test_aggregates_of_open_data_have_no_minimum(client, governed):
    rid = governed.resource("open")
    r = client.get(f"/api/v1/resources/{rid}/aggregate",
                   params={"_group": "ward", "age_band": "85+", "_measure": "max:weekly_cost"})
    groups = r.json()["groups"]
    assert [g["count"] for g in groups] == [10, 6, 3] and r.json()["suppressed_groups"] == 0


def test_revocation_cuts_access_on_the_very_next_request(client, governed):
    ref = governed.grant()
    purpose = {"X-Citydata-Purpose": "service-planning"}
    assert search(client, governed, "hackney-analyst", **purpose).status_code == 200
    r = client.post(f"/api/v1/agreements/{ref}/revoke", json={"note": "Breach of conditions"},
                    headers=auth(governed, "camden-owner"))
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = search(client, governed, "hackney-analyst", **{"X-Citydata-Agreement": ref})
    assert r.status_code == 403 and "revoked" in r.json()["error"]["message"]
    assert search(client, governed, "hackney-analyst", **purpose).status_code == 403


def test_sysadmins_do_not_read_governed_data(client, governed):
    for level in ("shared", "restricted", "private"):
        r = search(client, governed, "root", level)
        assert r.status_code == 403, level
    assert search(client, governed, "root", "registered").status_code == 200
    # They may still change memberships — and that is itself audited.
    r = client.post("/api/3/action/organization_member_create",
                    json={"id": "camden", "username": "root", "role": "member"},
                    headers=auth(governed, "root"))
    assert r.status_code == 200
    assert search(client, governed, "root", "restricted").status_code == 200
    with governed.make_ctx() as ctx:
        entry = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action == "role.changed")
                                    .order_by(AuditEntry.seq.desc())).first()
    assert json.loads(entry.detail)["user"] == "root" and entry.actor_name == "root"


def test_each_read_is_audited_with_how_much(client, governed):
    ref = governed.grant(actions=["read", "download"])
    purpose = {"X-Citydata-Purpose": "service-planning"}
    search(client, governed, "hackney-analyst", params={"limit": 7}, **purpose)
    url = governed.datasets["restricted"]["resources"][0]["url"].replace("http://testserver", "")
    assert client.get(url, headers=auth(governed, "hackney-analyst", **purpose)).status_code == 200
    search(client, governed, "camden-editor")  # a member: audited, no agreement needed
    assert search(client, governed, "hackney-analyst", params={"filters": "{bad"},
                  **purpose).status_code == 400  # a failed read leaves no entry
    with governed.make_ctx() as ctx:
        entries = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action.like("data.%"))
                                      .order_by(AuditEntry.seq)).all()
        ag = agreements.find(ctx.session, ref)
    got = [(e.action, e.actor_name, e.purpose, json.loads(e.detail).get("rows"),
            json.loads(e.detail).get("bytes") is not None) for e in entries]
    assert got == [("data.read", "hackney-analyst", "service-planning", 7, False),
                   ("data.download", "hackney-analyst", "service-planning", None, True),
                   ("data.read", "camden-editor", "", 60, False)]
    assert entries[0].agreement_id == ag.id and entries[2].agreement_id == ""
    assert {e.org_id for e in entries} == {governed.datasets["restricted"]["owner_org"]}


def test_open_data_is_not_audited(client, governed):
    search(client, governed, "outsider", "open")
    client.get("/api/3/action/datastore_search",
               params={"resource_id": governed.resource("open")})
    with governed.make_ctx() as ctx:
        assert ctx.session.scalars(select(AuditEntry).where(
            AuditEntry.action.like("data.%"))).all() == []


def test_columns_of_the_table_are_the_expected_ones(governed):
    resource = governed.datasets["open"]["resources"][0]
    assert [c["name"] for c in resource["versions"][0]["columns"]] == HEADER

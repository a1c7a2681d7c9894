"""Bad input to the governance API gets a clear 4xx in the native error shape, never a 500,
and changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from citydata.storage.models_access import Agreement, AuditEntry

FIELDS = ["datasets", "purpose", "purpose_detail", "lawful_basis", "special_category_condition",
          "dpia_reference", "dpia_url", "duration_days", "start_date", "end_date", "actions",
          "columns", "organization", "submit", "recipients", "resources", "title"]
JUNK = st.one_of(st.none(), st.integers(-10**12, 10**12),
                 st.floats(allow_nan=False, allow_infinity=False),
                 st.text(max_size=60), st.booleans(),
                 st.lists(st.one_of(st.integers(), st.text(max_size=10)), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def error_shape(r) -> str:  # type: ignore[no-untyped-def]
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    assert "Traceback" not in r.text
    return str(body["error"]["message"])


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"{", b"\xff\xfe"])
def test_bodies_that_are_not_objects(client, governed, body):
    headers = {"Authorization": governed.tokens["hackney-analyst"],
               "Content-Type": "application/json"}
    assert "JSON object" in error_shape(client.post("/api/v1/agreements", content=body,
                                                    headers=headers))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(FIELDS), JUNK, max_size=8))
def test_any_request_body_is_a_clear_error_or_a_request(client, governed, data):
    r = client.post("/api/v1/agreements", json=data,
                    headers={"Authorization": governed.tokens["hackney-analyst"]})
    if r.status_code == 201:  # the junk happened to be a valid request
        assert r.json()["status"] in ("requested", "draft")
    else:
        error_shape(r)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(["actions", "columns", "min_cell_count",
                                             "retention_days", "start_date", "end_date",
                                             "no_onward_sharing", "note"]), JUNK, max_size=6))
def test_any_approval_body_is_a_clear_error_or_an_approval(client, governed, data):
    ref = governed.request()
    r = client.post(f"/api/v1/agreements/{ref}/approve", json=data,
                    headers={"Authorization": governed.tokens["camden-owner"]})
    if r.status_code != 200:
        error_shape(r)
        with governed.make_ctx() as ctx:  # a refused approval leaves the request as it was
            ag = ctx.session.scalar(select(Agreement).where(Agreement.reference == ref))
            assert ag.status == "requested" and ag.start_at is None


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/agreements/DSA-0000-0000"),
    ("get", "/api/v1/agreements/%00"),
    ("post", "/api/v1/agreements/nope/approve"),
    ("post", "/api/v1/agreements/nope/revoke"),
    ("get", "/api/v1/agreements/nope/odrl"),
    ("get", "/api/v1/register/nope"),
    ("get", "/api/v1/register?limit=0"),
    ("get", "/api/v1/register?limit=abc"),
    ("get", "/api/v1/register?status=draft"),
    ("get", "/api/v1/organizations/nowhere/access-log"),
    ("get", "/api/v1/organizations/camden/access-log?limit=100000"),
    ("get", "/api/v1/organizations/camden/access-log?since=last+week"),
    ("get", "/api/v1/agreements?role=everyone"),
    ("get", "/api/v1/agreements?status=pending"),
    ("post", "/api/v1/notifications/read"),
])
def test_bad_paths_and_parameters(client, governed, method, path):
    headers = {"Authorization": governed.tokens["camden-owner"]}
    r = getattr(client, method)(path, headers=headers)
    if path.endswith("/notifications/read"):
        r = client.post(path, json={"id": "no-such-notification"}, headers=headers)
    error_shape(r)


@pytest.mark.parametrize("value", ["", " ", "x" * 5000, "service-planning\r\nX-Evil: 1",
                                   "DSA-2026-0001' OR '1'='1", "../../etc/passwd"])
def test_odd_purpose_and_agreement_headers(client, governed, value):
    governed.grant()
    rid = governed.resource("restricted")
    for header in ("X-Citydata-Purpose", "X-Citydata-Agreement"):
        r = client.get(f"/api/v1/resources/{rid}/rows",
                       headers={"Authorization": governed.tokens["hackney-analyst"],
                                header: value.replace("\r\n", " ")})
        assert r.status_code == 403, (header, value, r.text[:200])
        error_shape(r)
    with governed.make_ctx() as ctx:  # refusals are not reads: nothing was recorded
        reads = ctx.session.scalar(select(func.count()).select_from(AuditEntry)
                                   .where(AuditEntry.action.like("data.%")))
    assert reads == 0


@pytest.mark.parametrize("path", [
    "/api/3/action/package_show?id=%00",
    "/api/3/action/resource_show?id=a%00b",
    "/api/v1/resources/%00/rows",
    "/api/v1/register?q=%00",
    "/dataset/a%00b",
    "/register/%00",
])
def test_nul_characters_are_refused_not_crashed_on(client, governed, path):
    """PostgreSQL cannot store or compare NUL in text: a clear 4xx on both backends."""
    r = client.get(path, headers={"Authorization": governed.tokens["camden-owner"]})
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
    assert "Traceback" not in r.text


def test_the_openapi_document_describes_the_request_bodies(client):
    spec = client.get("/api/openapi.json").json()
    body = spec["paths"]["/api/v1/agreements"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert {"datasets", "purpose", "lawful_basis"} <= set(body["required"])
    assert "service-planning" in body["properties"]["purpose"]["enum"]
    revoke = spec["paths"]["/api/v1/agreements/{ref}/revoke"]["post"]["requestBody"]
    assert revoke["required"] and "note" in revoke["content"]["application/json"]["schema"][
        "properties"]

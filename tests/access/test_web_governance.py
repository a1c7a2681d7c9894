"""The governance pages as a person uses them: request, decide, use, revoke; sign-in limits."""

from __future__ import annotations

import re

from tests.web.conftest import csrf_from, login

PASSWORD = "a-long-password"


def in_days(n: int) -> str:
    from datetime import timedelta

    from citydata.storage.models import utcnow

    return (utcnow() + timedelta(days=n)).date().isoformat()


def post_form(client, page_url: str, action: str, data: dict):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(page_url).text)
    return client.post(action, data={"csrf_token": token, **data}, follow_redirects=False)


def test_request_decide_use_and_revoke_in_the_browser(client, governed):
    # An outsider to Camden sees the restricted dataset's schema, not its data.
    login(client, "hackney-analyst", PASSWORD)
    page = client.get("/dataset/care-restricted")
    assert "Request access" in page.text and "Preview: the first" not in page.text
    assert "package_ref, ward, age_band" in page.text  # discovery tier: schema
    form = client.get("/dataset/care-restricted/request-access")
    assert form.status_code == 200 and "Lawful basis" in form.text
    bad = post_form(client, "/dataset/care-restricted/request-access",
                    "/dataset/care-restricted/request-access",
                    {"organization": "hackney", "purpose": "", "purpose_detail": "short"})
    assert bad.status_code == 400
    assert 'href="#purpose"' in bad.text and 'href="#purpose_detail"' in bad.text
    sent = post_form(client, "/dataset/care-restricted/request-access",
                     "/dataset/care-restricted/request-access", {
                         "organization": "hackney", "purpose": "service-planning",
                         "purpose_detail": "Planning adult social care across boroughs.",
                         "lawful_basis": "art6-1-e", "dpia_reference": "HAC-DPIA-042",
                         "duration_days": "180", "actions": "read"})
    assert sent.status_code == 303
    ref = sent.headers["location"].rsplit("/", 1)[1]
    assert re.fullmatch(r"DSA-\d{4}-\d{4}", ref)
    assert "waiting for a decision" in client.get("/dataset/care-restricted").text

    # The data owner is notified and decides, narrowing the columns.
    client.cookies.clear()
    login(client, "camden-owner", PASSWORD)
    assert 'class="count-badge">1' in client.get("/").text
    assert ref in client.get("/notifications").text
    mine = client.get("/agreements")
    assert "Requests waiting for your decision (1)" in mine.text
    agreement = client.get(f"/agreements/{ref}")
    assert "Decide on this request" in agreement.text
    assert 'name="column:weekly_cost"' in agreement.text
    approved = post_form(client, f"/agreements/{ref}", f"/agreements/{ref}/approve", {
        "actions": "read", "column:ward": "1", "column:age_band": "1",
        "column:support_type": "1", "end_date": in_days(400), "min_cell_count": "10"})
    assert approved.status_code == 303
    page = client.get(f"/agreements/{ref}")
    assert "The agreement is approved." in page.text and "status--active" in page.text
    assert "Only the columns age_band, support_type, ward" in page.text

    # The analyst chooses the agreement and sees only those columns.
    client.cookies.clear()
    login(client, "hackney-analyst", PASSWORD)
    page = client.get("/dataset/care-restricted")
    assert f'href="/dataset/care-restricted?_agreement={ref}"' in page.text
    assert "Preview: the first" not in page.text  # no purpose stated yet
    page = client.get(f"/dataset/care-restricted?_agreement={ref}")
    assert "You are using this data under agreement" in page.text
    assert "Preview: the first" in page.text
    preview = page.text[page.text.index("Preview: the first"):]
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", preview).group(1)
    assert re.findall(r'<th scope="col">([^<]+)</th>', header) == ["ward", "age_band",
                                                                    "support_type"]
    assert "ASC-0001" not in page.text
    rid = governed.resource("restricted")
    explorer = client.get(f"/dataset/care-restricted/resource/{rid}/rows?_agreement={ref}")
    assert explorer.status_code == 200 and "weekly_cost" not in explorer.text
    assert f'name="_agreement" value="{ref}"' in explorer.text
    assert "does not permit downloads" in explorer.text

    # The owner revokes; the very next page view by the analyst has no data.
    client.cookies.clear()
    login(client, "camden-owner", PASSWORD)
    revoked = post_form(client, f"/agreements/{ref}", f"/agreements/{ref}/revoke",
                        {"note": "Project finished"})
    assert revoked.status_code == 303
    client.cookies.clear()
    login(client, "hackney-analyst", PASSWORD)
    page = client.get(f"/dataset/care-restricted?_agreement={ref}")
    assert "Preview: the first" not in page.text
    gone = client.get(f"/dataset/care-restricted/resource/{rid}/rows?_agreement={ref}")
    assert gone.status_code == 403 and "revoked" in gone.text


def test_decision_errors_keep_the_page(client, governed):
    ref = governed.request()
    login(client, "camden-owner", PASSWORD)
    r = post_form(client, f"/agreements/{ref}", f"/agreements/{ref}/refuse", {"note": ""})
    assert r.status_code == 400 and "There is a problem" in r.text
    assert "Say why the request is refused" in r.text
    r = post_form(client, f"/agreements/{ref}", f"/agreements/{ref}/approve",
                  {"actions": "read", "end_date": "tomorrow"})
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text


def test_the_agreement_page_is_for_the_parties(client, governed):
    ref = governed.request()
    login(client, "tfl-member", PASSWORD)
    assert client.get(f"/agreements/{ref}").status_code == 404
    token = csrf_from(client.get("/agreements").text)
    r = client.post(f"/agreements/{ref}/approve", data={"csrf_token": token, "actions": "read"})
    assert r.status_code == 404
    client.cookies.clear()
    assert client.get(f"/agreements/{ref}", follow_redirects=False).status_code == 303


def test_existence_only_discovery(client, governed, make_ctx):
    from citydata.catalog import datasets

    with make_ctx() as ctx:
        datasets.update_dataset(ctx, "care-restricted", {"discovery": "existence"}, partial=True)
    page = client.get("/dataset/care-restricted")
    assert "shows only that this dataset exists" in page.text
    assert "package_ref" not in page.text and "Care packages (restricted)" in page.text
    shown = client.get("/api/3/action/package_show?id=care-restricted").json()["result"]
    assert shown["resources"] == [] and shown["num_resources"] == 0
    rid = governed.resource("restricted")
    assert client.get("/api/3/action/resource_show", params={"id": rid}).status_code == 404
    assert client.get("/api/3/action/datastore_info", params={"id": rid}).status_code == 404


def test_synthetic_sample_discovery(client, governed, make_ctx):
    from citydata.catalog import datasets

    with make_ctx() as ctx:
        datasets.update_dataset(ctx, "care-restricted", {"discovery": "sample"}, partial=True)
    rid = governed.resource("restricted")
    sample = client.get(f"/api/v1/resources/{rid}/sample").json()
    assert sample["synthetic"] is True and len(sample["rows"]) == 10
    real_refs = {f"ASC-{n:04d}" for n in range(1, 61)}
    for row in sample["rows"]:
        assert row["package_ref"] not in real_refs  # identifiers are never shown
        assert row["ward"] in {"E05013652", "E05013653", "E05013654"}  # common categories are
        assert 100 <= row["weekly_cost"] <= 600
    assert client.get(f"/api/v1/resources/{rid}/sample").json() == sample  # stable
    page = client.get("/dataset/care-restricted")
    assert "Synthetic sample: made-up rows, not real records" in page.text
    # Publishers who did not offer a sample are not made to.
    other = governed.resource("shared")
    r = client.get(f"/api/v1/resources/{other}/sample")
    assert r.status_code == 403 and "does not offer a synthetic sample" in r.text


def test_sign_in_is_throttled(client, governed, platform):
    platform.settings.login_max_failures = 3
    for _ in range(3):
        r = post_form(client, "/user/login", "/user/login",
                      {"username": "hackney-analyst", "password": "wrong"})
        assert r.status_code == 400
    # Now even the right password is refused unchecked, with a Retry-After.
    r = post_form(client, "/user/login", "/user/login",
                  {"username": "hackney-analyst", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-in attempts" in r.text
    assert int(r.headers["retry-after"]) > 0
    # Other people are not locked out by it.
    login(client, "hackney-colleague", PASSWORD)


def test_sign_in_throttle_per_client(client, governed, platform):
    platform.settings.login_max_failures_per_client = 4
    for name in ("a1", "a2", "a3", "a4"):
        post_form(client, "/user/login", "/user/login", {"username": name, "password": "x"})
    r = post_form(client, "/user/login", "/user/login",
                  {"username": "hackney-colleague", "password": PASSWORD})
    assert r.status_code == 429


def test_tokens_page_offers_scopes_and_agreements(client, governed):
    ref = governed.grant()
    login(client, "hackney-analyst", PASSWORD)
    page = client.get("/user/hackney-analyst/api-tokens")
    assert 'name="scope"' in page.text and f'value="{ref}"' in page.text
    r = post_form(client, "/user/hackney-analyst/api-tokens", "/user/hackney-analyst/api-tokens",
                  {"name": "notebook", "scope": "read", "agreement": ref, "expires_days": "30"})
    token = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', r.text).group(1)
    found = client.get("/api/3/action/datastore_search",
                       params={"resource_id": governed.resource("restricted")},
                       headers={"Authorization": token})
    assert found.status_code == 200

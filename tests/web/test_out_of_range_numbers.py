"""Page numbers and offsets far past the end answer clearly (an empty page or a 400 naming the
parameter), never a 500: SQLite's integers end near 9.2e18 and overflowed on these before."""

from __future__ import annotations

import pytest

BIG = "9" * 20


@pytest.mark.parametrize("path, status", [
    (f"/register?page={BIG}", 200),
    (f"/dataset?page={BIG}", 200),
    (f"/organization?page={BIG}", 200),
    (f"/catalog.ttl?page={BIG}", 400),
    (f"/catalog.jsonld?page={BIG}", 400),
    (f"/api/3/action/organization_list?offset={BIG}", 409),
    (f"/api/3/action/package_search?start={BIG}", 400),
    (f"/api/v1/register?offset={BIG}", 400),
])
def test_huge_numbers_are_not_a_server_error(client, seeded, path, status):
    r = client.get(path)
    assert r.status_code == status, r.text[:300]
    if status == 400 and path.startswith("/catalog"):
        assert "page" in r.text


def test_a_huge_access_log_page_is_an_empty_page(client, seeded, make_ctx):
    from citydata.catalog import organizations
    from tests.web.conftest import login

    with make_ctx() as ctx:
        organizations.add_member(ctx.session, ctx.actor, "camden", "outsider", "admin")
    login(client, "outsider", "outsider-pass-1")
    r = client.get(f"/organization/camden/access?page={BIG}")
    assert r.status_code == 200, r.text[:300]

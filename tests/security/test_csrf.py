"""CSRF: every state-changing page route refuses a signed-in browser's form without our token.

The routes are read from the app itself, so a new form added without ``read_form`` (or
``check_csrf``) fails here without anyone remembering to list it.
"""

from __future__ import annotations

import pytest

from citydata.app import create_app
from tests.security.routes import all_routes, endpoint_module, fill, is_page_module, path_params
from tests.web.conftest import login

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Plausible values for path parameters: the route must refuse before it looks anything up.
VALUES = {"name": "camden-ev", "decision": "approve", "ref": "AG-0001", "token_id": "t1",
          "request_id": "r1"}
MESSAGE = "Your form expired, try again"


def page_form_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = set()
    for route in all_routes(app.routes):
        if is_page_module(endpoint_module(route)):
            for method in (getattr(route, "methods", None) or set()) & UNSAFE:
                found.add((method, route.path))
    return sorted(found)


def test_discovery_finds_the_forms(app):
    routes = page_form_routes(app)
    paths = {p for _, p in routes}
    assert {"/user/login", "/user/logout", "/dataset/new", "/user/{name}/api-tokens",
            "/agreements/{ref}/{decision}", "/harvest"} <= paths
    assert len(routes) >= 14
    # The API families are not forms: they use tokens, and are not in this list.
    assert not any(p.startswith("/api/") for p in paths)


FORM_ROUTES = page_form_routes(create_app())  # collected once, for the test ids


@pytest.mark.parametrize(("method", "path"), FORM_ROUTES, ids=[f"{m} {p}" for m, p in FORM_ROUTES])
def test_form_without_a_valid_csrf_token_is_refused(client, catalog, method, path):
    login(client, "admin", "admin-pass-1")  # a sysadmin: no access rule can answer first
    before = client.get("/api/3/action/package_list").json()["result"]
    url = fill(path, {p: VALUES.get(p, "x") for p in path_params(path)})
    fields = {"username": "admin", "password": "admin-pass-1", "name": "t", "title": "T",
              "owner_org": "camden", "url": "https://example.org", "purpose": "research"}
    upload = {"file": ("data.csv", b"a,b\n1,2\n", "text/csv")}
    for token in (None, "forged-token-" + "x" * 40, ""):
        data = dict(fields) if token is None else {**fields, "csrf_token": token}
        r = client.request(method, url, data=data, files=upload, follow_redirects=False)
        assert r.status_code == 400, (url, token, r.status_code, r.text[:300])
        assert MESSAGE in r.text, (url, token)
    # Still signed in and nothing was created.
    assert "Sign out" in client.get("/").text
    assert client.get("/api/3/action/package_list").json()["result"] == before

"""The session cookie after a real sign-in: HttpOnly, SameSite=Lax, Secure on an https site."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient

from citydata.app import create_app
from tests.web.conftest import csrf_from


def signed_in_cookie(client: TestClient) -> str:
    """Sign in as editor; the Set-Cookie header of the sign-in response."""
    page = client.get("/user/login")
    r = client.post("/user/login", data={"csrf_token": csrf_from(page.text),
                                         "username": "editor", "password": "editor-pass-1"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "Sign out" in client.get("/").text  # the cookie really is the signed-in session
    return r.headers["set-cookie"]


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_session_cookie_flags(platform, seeded, https):
    scheme = "https" if https else "http"
    platform.settings.site_url = f"{scheme}://testserver"
    with TestClient(create_app(platform=platform), base_url=f"{scheme}://testserver") as client:
        header = signed_in_cookie(client)
    morsel = SimpleCookie(header)["citydata_session"]
    flags = header.lower()
    assert "httponly" in flags  # page scripts cannot read it
    assert morsel["samesite"].lower() == "lax"  # other sites' POSTs arrive without it
    assert bool(morsel["secure"]) is https and ("secure" in flags) is https
    assert morsel["path"] == "/"
    assert 0 < int(morsel["max-age"]) <= 14 * 24 * 3600


def test_session_cookie_is_signed_not_readable_data(client, seeded):
    header = signed_in_cookie(client)
    value = SimpleCookie(header)["citydata_session"].value
    assert "editor-pass-1" not in value
    # Tampering with it signs the reader out instead of trusting the change.
    client.cookies.set("citydata_session", value[:-4] + ("AAAA" if value[-4:] != "AAAA"
                                                         else "BBBB"))
    assert "Sign out" not in client.get("/").text


def test_browsing_the_catalog_sets_no_cookie_until_a_form_needs_one(client, seeded):
    """A visitor who is not signed in gets no cookie from pages without a form (the CSRF
    token is made only when a template writes it); the sign-in form still gets its token."""
    call = client.post("/api/3/action/package_create",
                       json={"name": "ward-spend", "owner_org": "camden", "title": "Spend"},
                       headers={"Authorization": seeded["editor_token"]})
    assert call.status_code == 200, call.text
    for path in ("/", "/dataset", "/dataset?q=spend", "/dataset/ward-spend", "/organization",
                 "/organization/camden"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "set-cookie" not in r.headers, path
        assert 'name="csrf_token"' not in r.text, path
    assert not client.cookies
    login = client.get("/user/login")
    assert "citydata_session" in login.headers.get("set-cookie", "")
    assert csrf_from(login.text)

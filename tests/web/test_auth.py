"""Sign in, sign out, CSRF and API tokens."""

from __future__ import annotations

from tests.web.conftest import csrf_from, login


def test_login_with_bad_password_shows_the_error(client, seeded):
    token = csrf_from(client.get("/user/login").text)
    r = client.post("/user/login", data={"csrf_token": token, "username": "editor",
                                         "password": "wrong-password"})
    assert r.status_code == 400
    assert "The username or password is not right" in r.text
    assert 'class="error-summary"' in r.text and 'href="#username"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert "wrong-password" not in r.text  # the password is never echoed back
    assert "Sign out" not in r.text


def test_login_with_empty_fields(client, seeded):
    token = csrf_from(client.get("/user/login").text)
    r = client.post("/user/login", data={"csrf_token": token, "username": "", "password": ""})
    assert "Enter your username" in r.text and "Enter your password" in r.text


def test_login_by_email_then_logout(client, seeded):
    login(client, "editor@example.org", "editor-pass-1")
    home = client.get("/")
    assert "You are signed in as editor." in home.text
    assert "Sign out" in home.text and 'href="/dataset/new"' in home.text
    assert home.headers["cache-control"] == "private, no-store"
    r = client.post("/user/logout", data={"csrf_token": csrf_from(home.text)},
                    follow_redirects=False)
    assert r.status_code == 303
    assert "Sign in" in client.get("/").text


def test_login_regenerates_the_session(client, seeded):
    before = csrf_from(client.get("/user/login").text)
    login(client, "editor", "editor-pass-1")
    after = csrf_from(client.get("/").text)
    assert before != after
    # The pre-login token no longer works.
    r = client.post("/user/logout", data={"csrf_token": before})
    assert r.status_code == 400


def test_login_redirects_only_to_local_paths(client, seeded):
    token = csrf_from(client.get("/user/login?next=/organization").text)
    r = client.post("/user/login", data={"csrf_token": token, "username": "editor",
                                         "password": "editor-pass-1", "next": "/organization"},
                    follow_redirects=False)
    assert r.headers["location"] == "/organization"
    client.cookies.clear()
    token = csrf_from(client.get("/user/login").text)
    r = client.post("/user/login", data={"csrf_token": token, "username": "editor",
                                         "password": "editor-pass-1",
                                         "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_post_without_csrf_token_is_rejected(client, seeded):
    client.get("/user/login")  # a session exists, but the form lacks the token
    r = client.post("/user/login", data={"username": "editor", "password": "editor-pass-1"})
    assert r.status_code == 400 and "Your form expired, try again" in r.text
    r = client.post("/user/login", data={"csrf_token": "forged", "username": "editor",
                                         "password": "editor-pass-1"})
    assert r.status_code == 400 and "Your form expired" in r.text
    login(client, "editor", "editor-pass-1")
    assert client.post("/user/logout", data={}).status_code == 400
    assert client.post("/user/editor/api-tokens", data={"name": "x"}).status_code == 400
    assert client.post("/dataset/new", files={"file": ("a.csv", b"a\n1\n")},
                       data={"title": "x", "owner_org": "camden"}).status_code == 400
    assert "Sign out" in client.get("/").text  # still signed in: logout was refused


def test_api_tokens_create_list_use_and_revoke(client, seeded):
    assert client.get("/user/editor/api-tokens", follow_redirects=False).status_code == 303
    login(client, "editor", "editor-pass-1")
    page = client.get("/user/editor/api-tokens")
    assert page.status_code == 200 and "Create a token" in page.text
    r = client.post("/user/editor/api-tokens", data={
        "csrf_token": csrf_from(page.text), "name": "ci pipeline", "expires_days": "30"})
    assert r.status_code == 200 and "You will not be able to see it again" in r.text
    import re

    token = re.search(r'id="new-token" type="text" readonly value="(cdt_[^"]+)"', r.text).group(1)
    assert "ci pipeline" in r.text
    # The token works against the API...
    api = client.get("/api/3/action/package_search?include_private=true",
                     headers={"Authorization": token})
    assert api.status_code == 200
    # ...and is not shown again.
    again = client.get("/user/editor/api-tokens").text
    assert token not in again and "ci pipeline" in again
    token_id = re.search(r'action="/user/editor/api-tokens/([^/]+)/revoke"',
                         again.split("ci pipeline", 1)[1]).group(1)
    r = client.post(f"/user/editor/api-tokens/{token_id}/revoke",
                    data={"csrf_token": csrf_from(again)}, follow_redirects=False)
    assert r.status_code == 303
    after = client.get("/user/editor/api-tokens").text
    assert "The token has been revoked." in after and "ci pipeline" not in after
    client.cookies.clear()
    assert client.get("/api/3/action/package_search",
                      headers={"Authorization": token}).status_code == 403


def test_cannot_manage_someone_elses_tokens(client, seeded):
    login(client, "outsider", "outsider-pass-1")
    assert client.get("/user/editor/api-tokens").status_code == 403
    page = client.get("/user/outsider/api-tokens").text
    r = client.post("/user/editor/api-tokens", data={"csrf_token": csrf_from(page), "name": "x",
                                                     "expires_days": "30"})
    assert r.status_code == 403

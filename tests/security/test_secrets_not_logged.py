"""Secrets never reach the logs, stderr or an error response: passwords (right and wrong), API
tokens (valid, invalid, newly created on the web and through CKAN) and webhook signing secrets,
with every logger at DEBUG while it all happens."""

from __future__ import annotations

import logging
import re

import pytest

from tests.web.conftest import csrf_from
from tests.webhooks.conftest import add, dispatch, with_streams
from tests.webhooks.receiver import Receiver

WRONG_PASSWORD = "Wrong-Horse-Battery-9"
GUESSED_TOKEN = "cdt_guessed-secret-token-1234567890"


@pytest.fixture
def platform(platform):  # type: ignore[no-untyped-def]
    return with_streams(platform)  # a stream to subscribe a webhook to


def everything_logged(caplog, capfd) -> str:  # type: ignore[no-untyped-def]
    out, err = capfd.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}"
                        for r in caplog.records)
    return "\n".join([caplog.text, records, out, err])


def test_no_secret_is_logged_or_echoed(client, seeded, platform, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # the root logger, so every library's debug output too
    secrets: dict[str, str] = {"password": "editor-pass-1", "wrong password": WRONG_PASSWORD,
                               "seeded token": seeded["editor_token"],
                               "guessed token": GUESSED_TOKEN}
    responses = []

    # Sign-in: a wrong password, then the right one.
    page = client.get("/user/login")
    for password in (WRONG_PASSWORD, "editor-pass-1"):
        r = client.post("/user/login", data={"csrf_token": csrf_from(page.text),
                                             "username": "editor", "password": password},
                        follow_redirects=False)
        responses.append(r)
    assert responses[0].status_code == 400 and responses[1].status_code == 303

    # An API token made on the web page (shown in that response only, by design).
    tokens_page = client.get("/user/editor/api-tokens")
    r = client.post("/user/editor/api-tokens", data={
        "csrf_token": csrf_from(tokens_page.text), "name": "web", "scope": "read",
        "expires_days": "30"})
    secrets["web token"] = re.search(r'id="new-token" type="text" readonly value="([^"]+)"',
                                     r.text).group(1)
    client.cookies.clear()

    # API calls with good and bad tokens, in each family, and token creation through CKAN.
    auth = {"Authorization": seeded["editor_token"]}
    for headers in (auth, {"Authorization": f"Bearer {GUESSED_TOKEN}"},
                    {"X-CKAN-API-Key": GUESSED_TOKEN}):
        responses.append(client.get("/api/3/action/package_list", headers=headers))
        responses.append(client.get("/api/v1/agreements", headers=headers))
        responses.append(client.get("/ogc/collections?f=json", headers=headers))
    r = client.post("/api/3/action/api_token_create", headers=auth,
                    json={"user": "editor", "name": "notebook"})
    secrets["ckan token"] = r.json()["result"]["token"]
    responses.append(client.post("/api/3/action/api_token_create", headers=auth,
                                 json={"user": "editor", "expires_in": GUESSED_TOKEN}))
    responses.append(client.get("/api/3/action/package_list",
                                headers={"Authorization": secrets["ckan token"] + "x"}))

    # A webhook: its secret is made, stored, and used to sign a real delivery.
    platform.settings.webhook_allow_private = True
    with Receiver() as receiver:
        r = client.post("/api/v1/webhooks", headers=auth,
                        json={"stream": "whtest", "url": receiver.url_for("hook")})
        assert r.status_code == 201, r.text
        secrets["webhook secret"] = r.json()["secret"]
        receiver.secrets["/hook"] = secrets["webhook secret"]
        add(platform, "tree")
        dispatch(platform)
        assert [a.verified for a in receiver.at("hook")] == [True]
    responses.append(client.post("/api/v1/webhooks", headers=auth,
                                 json={"stream": "whtest", "url": "ftp://x",
                                       "secret": secrets["webhook secret"]}))

    logged = everything_logged(caplog, capfd)
    assert len(caplog.records) > 10  # debug logging really was on
    leaked = sorted(name for name, value in secrets.items() if value in logged)
    assert leaked == []
    for r in responses:  # errors never echo a credential back
        assert r.status_code < 500, r.text
        body = r.text
        assert not [n for n, v in secrets.items() if v in body], (r.request.url, body[:300])

"""The webhooks API on both backends: API tokens only, each caller their own subscriptions
(someone else's is a 404), clear 400s in the native shape for bad input — never a 500."""

from __future__ import annotations

import pytest

from citydata.access.actors import Actor
from citydata.catalog import users
from tests.webhooks.conftest import add, dispatch
from tests.webhooks.receiver import Behaviour

API = "/api/v1/webhooks"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    return str(body["error"]["message"])


@pytest.fixture
def tokens(seeded, make_ctx):  # type: ignore[no-untyped-def]
    with make_ctx() as ctx:
        seeded["reader_token"] = users.create_token(ctx.session, Actor.system(), "editor",
                                                    scope="read")
    return seeded


def make(client, token: str, url: str, **extra):  # type: ignore[no-untyped-def]
    r = client.post(API, json={"stream": "whtest", "url": url, **extra}, headers=bearer(token))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_show_list_and_delete(client, tokens, receiver, platform):
    editor = bearer(tokens["editor_token"])
    created = make(client, tokens["editor_token"], receiver.url_for("e"),
                   filters={"kind": "tree"}, description="Trees for the tree app")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["stream"] == "whtest" and created["filters"] == {"kind": "tree"}
    assert created["owner"] == "editor" and created["status"] == "active"
    assert created["description"] == "Trees for the tree app"

    shown = client.get(f"{API}/{created['id']}", headers=editor).json()
    assert "secret" not in shown  # shown once, at creation
    assert {k: v for k, v in created.items() if k != "secret"} == shown
    listed = client.get(API, headers=editor).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == created["id"]
    assert "secret" not in listed["results"][0]

    # It works: deliveries are signed with the secret the API gave.
    receiver.secrets["/e"] = created["secret"]
    ids = add(platform, "tree", "bench")
    dispatch(platform)
    assert [a.event_id for a in receiver.at("e") if a.verified] == ids[:1]
    shown = client.get(f"{API}/{created['id']}", headers=editor).json()
    assert shown["cursor"] == ids[-1] and shown["delivered"] == 1 and shown["failed"] == 0
    assert shown["last_success_at"] is not None

    deleted = client.delete(f"{API}/{created['id']}", headers=editor)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": created["id"]}
    error(client.get(f"{API}/{created['id']}", headers=editor), 404)
    assert client.get(API, headers=editor).json()["count"] == 0


def test_pause_resume_replay_and_dead_letters(client, tokens, receiver, platform):
    platform.settings.webhook_max_attempts = 1
    editor = bearer(tokens["editor_token"])
    sub = make(client, tokens["editor_token"], receiver.url_for("p"))
    receiver.secrets["/p"] = sub["secret"]
    receiver.behaviour["/p"] = Behaviour(status=500)
    ids = add(platform, "tree", "bench")
    dispatch(platform)
    dead = client.get(f"{API}/{sub['id']}/deliveries", params={"status": "dead"},
                      headers=editor).json()
    assert [d["event_id"] for d in dead["results"]] == ids and dead["count"] == 2
    assert dead["results"][0]["last_status_code"] == 500
    assert client.get(f"{API}/{sub['id']}/deliveries", params={"status": "retrying"},
                      headers=editor).json()["count"] == 0
    shown = client.get(f"{API}/{sub['id']}", headers=editor).json()
    assert shown["dead"] == 2 and shown["last_error"].endswith("HTTP 500")

    paused = client.post(f"{API}/{sub['id']}/pause", headers=editor)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    receiver.behaviour["/p"] = Behaviour()
    replayed = client.post(f"{API}/{sub['id']}/replay", json={"from_event_id": ids[0] - 1},
                           headers=editor)
    assert replayed.status_code == 200 and replayed.json()["cursor"] == ids[0] - 1
    assert dispatch(platform)["sent"] == 0  # paused
    assert client.post(f"{API}/{sub['id']}/resume", headers=editor).json()["status"] == "active"
    dispatch(platform)
    assert sorted(receiver.ids("p")) == sorted(ids + ids)
    after = client.get(f"{API}/{sub['id']}", headers=editor).json()
    assert after["dead"] == 0 and after["delivered"] == 2


def test_tokens_only_and_only_your_own(client, tokens, receiver):
    mine = make(client, tokens["editor_token"], receiver.url_for("m"))
    theirs = make(client, tokens["outsider_token"], receiver.url_for("t"))
    me, outsider = bearer(tokens["editor_token"]), bearer(tokens["outsider_token"])

    # Anonymous: 401 everywhere.
    error(client.get(API), 401)
    error(client.post(API, json={"stream": "whtest", "url": receiver.url}), 401)
    error(client.get(f"{API}/{mine['id']}"), 401)
    error(client.get(API, headers=bearer("not-a-token")), 401)

    # Someone else's subscription does not exist, whatever you do to it.
    for method, path, body in (
        ("GET", "", None), ("DELETE", "", None), ("POST", "/pause", None),
        ("POST", "/resume", None), ("POST", "/replay", {"from_event_id": 0}),
        ("GET", "/deliveries", None),
    ):
        r = client.request(method, f"{API}/{theirs['id']}{path}", headers=me, json=body)
        nobody = client.request(method, f"{API}/{'0' * 36}{path}", headers=me, json=body)
        # The same answer as for an id that does not exist: nothing to learn from it.
        assert error(r, 404).replace(theirs["id"], "?") == \
            error(nobody, 404).replace("0" * 36, "?")
    assert [s["id"] for s in client.get(API, headers=me).json()["results"]] == [mine["id"]]
    assert [s["id"] for s in client.get(API, headers=outsider).json()["results"]] == \
        [theirs["id"]]
    assert client.get(f"{API}/{theirs['id']}", headers=outsider).status_code == 200

    # Sysadmins see and manage everyone's.
    admin = bearer(tokens["admin_token"])
    assert {s["id"] for s in client.get(API, headers=admin).json()["results"]} == \
        {mine["id"], theirs["id"]}
    assert client.post(f"{API}/{theirs['id']}/pause", headers=admin).status_code == 200

    # A read token may look but not change.
    reader = bearer(tokens["reader_token"])
    assert client.get(API, headers=reader).json()["count"] == 1
    assert "scope" in error(client.post(API, json={"stream": "whtest", "url": receiver.url},
                                        headers=reader), 403)
    error(client.delete(f"{API}/{mine['id']}", headers=reader), 403)
    assert client.get(f"{API}/{mine['id']}", headers=me).status_code == 200


def test_a_signed_in_browser_session_is_not_enough(client, tokens):
    from tests.web.conftest import login

    login(client, "editor", "editor-pass-1")
    assert "API token" in error(client.get(API), 401)
    assert "API token" in error(client.post(API, json={"stream": "whtest",
                                                        "url": "https://example.org/h"}), 401)


@pytest.mark.parametrize("body, field, says", [
    ({"url": "https://example.org/h"}, "stream", "Give the name of an event stream"),
    ({"stream": "nope", "url": "https://example.org/h"}, "stream",
     'There is no event stream "nope" (streams: '),
    ({"stream": 7, "url": "https://example.org/h"}, "stream", "Give the name"),
    ({"stream": "whtest"}, "url", "Give the http(s) URL"),
    ({"stream": "whtest", "url": "ftp://example.org/h"}, "url", "http:// or https://"),
    ({"stream": "whtest", "url": "https://u:p@example.org/h"}, "url", "password"),
    ({"stream": "whtest", "url": "https://example.org/h", "filters": {"colour": "red"}},
     "filters", "Unknown filter: colour"),
    ({"stream": "whtest", "url": "https://example.org/h", "filters": {"kind": ""}},
     "filters", "give at least one value"),
    ({"stream": "whtest", "url": "https://example.org/h", "filters": {"kind": ["a"]}},
     "filters", "must be a string"),
    ({"stream": "whtest", "url": "https://example.org/h", "filters": "kind=tree"},
     "filters", "Must be an object"),
    ({"stream": "whtest", "url": "https://example.org/h", "description": 5},
     "description", "at most 500"),
    ({"stream": "whtest", "url": "https://example.org/h", "description": "x" * 501},
     "description", "at most 500"),
    ({"stream": "whtest", "url": "https://example.org/h", "secret": "mine"},
     "secret", "Unknown field(s): secret"),
])
def test_bad_input_is_a_clear_400(client, tokens, body, field, says):
    r = client.post(API, json=body, headers=bearer(tokens["editor_token"]))
    message = error(r, 400)
    assert says in message, message
    assert field in r.json()["error"]["fields"], r.json()
    assert client.get(API, headers=bearer(tokens["editor_token"])).json()["count"] == 0


def test_bad_bodies_and_parameters_are_400s(client, tokens, receiver):
    me = bearer(tokens["editor_token"])
    for raw in (b"not json", b"[1, 2]", b'"text"', b"{\"stream\": "):
        error(client.post(API, content=raw, headers={**me, "Content-Type": "application/json"}),
              400)
    sub = make(client, tokens["editor_token"], receiver.url_for("x"))
    for value in ("3", -1, True, None, 1.5):
        r = client.post(f"{API}/{sub['id']}/replay", json={"from_event_id": value}, headers=me)
        assert "from_event_id" in error(r, 400)
    error(client.post(f"{API}/{sub['id']}/replay", headers=me), 400)
    assert "status" in error(client.get(f"{API}/{sub['id']}/deliveries",
                                        params={"status": "lost"}, headers=me), 400)
    error(client.get(f"{API}/{sub['id']}/deliveries", params={"limit": 0}, headers=me), 400)
    error(client.get(f"{API}/{sub['id']}/deliveries", params={"after": "x"}, headers=me), 400)
    error(client.get(f"{API}/{'x' * 500}", headers=me), 404)
    error(client.get(f"{API}/%00", headers=me), 400)


def test_deleting_takes_the_queue_with_it(client, tokens, receiver, platform):
    from sqlalchemy import func, select

    from citydata.storage.models_webhooks import WebhookDelivery

    me = bearer(tokens["editor_token"])
    receiver.behaviour["/gone"] = Behaviour(status=503)
    sub = make(client, tokens["editor_token"], receiver.url_for("gone"))
    add(platform, "tree", "tree")
    dispatch(platform)
    assert client.get(f"{API}/{sub['id']}", headers=me).json()["retrying"] == 2
    assert client.delete(f"{API}/{sub['id']}", headers=me).status_code == 200
    with platform.db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert dispatch(platform)["sent"] == 0


def test_the_api_is_documented(client):
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    expected = {
        API: {"get", "post"}, f"{API}/{{webhook_id}}": {"get", "delete"},
        f"{API}/{{webhook_id}}/pause": {"post"}, f"{API}/{{webhook_id}}/resume": {"post"},
        f"{API}/{{webhook_id}}/replay": {"post"}, f"{API}/{{webhook_id}}/deliveries": {"get"},
    }
    schemas = spec["components"]["schemas"]
    for path, methods in expected.items():
        assert set(paths[path]) >= methods, path
        for method in methods:
            op = paths[path][method]
            assert op["summary"] and op["tags"] == ["Webhooks"]
            ok = op["responses"].get("200") or op["responses"]["201"]
            assert "$ref" in ok["content"]["application/json"]["schema"], (path, method)
            errors = [c for c in op["responses"] if c.startswith("4") or c == "default"]
            assert "401" in errors and "422" not in errors, (path, method)
            for code in errors:
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse")
    create = paths[API]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["stream", "url"] and "filters" in body["properties"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"] \
        .endswith("/WebhookCreated")
    assert "secret" in schemas["WebhookCreated"]["properties"]
    assert "secret" not in schemas["WebhookPublic"]["properties"]
    replay = paths[f"{API}/{{webhook_id}}/replay"]["post"]["requestBody"]
    assert replay["content"]["application/json"]["schema"]["required"] == ["from_event_id"]


def test_one_person_may_hold_only_so_many(client, tokens, receiver, monkeypatch):
    from citydata.events import webhooks

    monkeypatch.setattr(webhooks, "MAX_PER_OWNER", 2)
    for name in ("a", "b"):
        make(client, tokens["editor_token"], receiver.url_for(name))
    r = client.post(API, json={"stream": "whtest", "url": receiver.url_for("c")},
                    headers=bearer(tokens["editor_token"]))
    assert "delete one first" in error(r, 400)
    make(client, tokens["outsider_token"], receiver.url_for("d"))  # per person
    make(client, tokens["admin_token"], receiver.url_for("e"))
    make(client, tokens["admin_token"], receiver.url_for("f"))
    make(client, tokens["admin_token"], receiver.url_for("g"))  # sysadmins: no limit

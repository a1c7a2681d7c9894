"""RFC 9421 request signatures between nodes: what is covered, and every way a check fails."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from citydata.access.keys import NodeKey
from citydata.errors import NotAuthenticated
from citydata.federation import signing

NOW = 1_790_000_000.0
URL = "http://camden.example/api/v1/federation/inbox/requests/DSA%2F1?x=a%20b&y=2"
PATH = "/api/v1/federation/inbox/requests/DSA%2F1"
QUERY = "x=a%20b&y=2"


def new_key() -> NodeKey:
    private = Ed25519PrivateKey.generate()
    return NodeKey(private, private.public_key())


REGISTRY = new_key()


def check(headers, *, body=b"{}", method="POST", path=PATH, query=QUERY, now=NOW,  # type: ignore[no-untyped-def]
          keys=None, seen=None):
    keys = {"registry": REGISTRY} if keys is None else keys
    seen = set() if seen is None else seen

    def remember(node: str, nonce: str) -> bool:
        if (node, nonce) in seen:
            return False
        seen.add((node, nonce))
        return True

    return signing.verify(method=method, path=path, query=query, headers=headers, body=body,
                          me="camden", public_key_for=keys.get, remember_nonce=remember,
                          now=now)


def signed(body: bytes = b"{}", **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    args = {"sender": "registry", "target": "camden", "method": "POST", "url": URL,
            "body": body, "now": NOW, **kw}
    key = args.pop("key", REGISTRY)
    return signing.sign_headers(key, **args)


def test_a_signed_request_verifies_and_says_who_sent_it():
    headers = signed()
    assert headers["signature-input"].startswith(
        'sig1=("@method" "@path" "@query" "content-digest" "citydata-node" "citydata-target")')
    assert headers["content-digest"].startswith("sha-256=:")
    v = check(headers)
    assert (v.node, v.key_id, v.created) == ("registry", REGISTRY.key_id, int(NOW))


def test_header_names_are_case_insensitive():
    headers = {k.title(): v for k, v in signed().items()}
    assert check(headers).node == "registry"


def test_a_replay_is_refused():
    headers, seen = signed(), set()
    check(headers, seen=seen)
    with pytest.raises(NotAuthenticated, match="replay"):
        check(headers, seen=seen)


@pytest.mark.parametrize("change, words", [
    ({"method": "PUT"}, "does not verify"),
    ({"path": "/api/v1/federation/inbox/requests/DSA-2"}, "does not verify"),
    ({"query": "x=a%20b&y=3"}, "does not verify"),
    ({"body": b'{"evil": 1}'}, "Content-Digest"),
    ({"now": NOW + 301}, "window"),
    ({"now": NOW - 301}, "window"),
])
def test_anything_changed_in_transit_is_refused(change, words):
    with pytest.raises(NotAuthenticated, match=words):
        check(signed(), **change)


def test_forged_misaddressed_unknown_and_malformed():
    with pytest.raises(NotAuthenticated, match="not the key registered"):
        check(signed(key=new_key()))
    with pytest.raises(NotAuthenticated, match="not 'camden'"):
        check(signed(target="hackney"))
    with pytest.raises(NotAuthenticated, match="not registered"):
        check(signed(sender="stranger"))
    with pytest.raises(NotAuthenticated, match="not signed"):
        check({})
    headers = signed()
    headers["signature"] = "sig1=:bm90IGEgc2lnbmF0dXJl:"
    with pytest.raises(NotAuthenticated, match="does not verify"):
        check(headers)
    headers = signed()
    headers["signature-input"] = headers["signature-input"].replace(' "@query"', "")
    with pytest.raises(NotAuthenticated, match="must cover"):
        check(headers)
    headers = signed()
    headers["signature-input"] = "garbage"
    with pytest.raises(NotAuthenticated, match="malformed"):
        check(headers)
    headers = signed()
    headers["signature-input"] = headers["signature-input"].replace('alg="ed25519"',
                                                                    'alg="hmac-sha256"')
    with pytest.raises(NotAuthenticated, match="only ed25519"):
        check(headers)


def test_a_forged_request_leaves_no_nonce_behind():
    seen: set = set()
    with pytest.raises(NotAuthenticated):
        check(signed(key=new_key()), seen=seen)
    assert seen == set()

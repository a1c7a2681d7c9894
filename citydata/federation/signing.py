"""Signed requests between nodes: HTTP Message Signatures (RFC 9421) with Ed25519.

Every request one node makes of another carries:

- ``Content-Digest: sha-256=:<base64>:`` (RFC 9530) of the body (empty bodies too);
- ``Citydata-Node``: the sender's node name; ``Citydata-Target``: the receiver's, so a request
  meant for one node cannot be replayed at another;
- ``Signature-Input: sig1=("@method" "@path" "@query" "content-digest" "citydata-node"
  "citydata-target");created=<unix>;keyid="<key id>";nonce="<random>";alg="ed25519"`` and
  ``Signature: sig1=:<base64>:`` over the RFC 9421 signature base of those components.

The receiver checks the digest, that ``created`` is within the replay window, that the key is
the one registered for the sending node and that the nonce was never seen before (the nonce
store is the database, so a replay is refused by every process of the node). Host and scheme
are deliberately not covered: a reverse proxy may rewrite them; the target node name binds the
request to its receiver instead.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from citydata.access.keys import NodeKey
from citydata.errors import NotAuthenticated

COMPONENTS = ("@method", "@path", "@query", "content-digest", "citydata-node", "citydata-target")
LABEL = "sig1"
NODE_HEADER = "citydata-node"
TARGET_HEADER = "citydata-target"
#: Requests older or newer (clock skew) than this many seconds are refused.
DEFAULT_WINDOW = 300

_INPUT_RE = re.compile(
    r'^sig1=\((?P<components>(?:"[a-z@-]+"\s?)+)\)'
    r'(?P<params>(?:;[a-z]+=(?:"[^"]*"|\d+))+)$'
)
_PARAM_RE = re.compile(r';([a-z]+)=("[^"]*"|\d+)')
_SIG_RE = re.compile(r"^sig1=:([A-Za-z0-9+/=]+):$")


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def _query(url_query: str) -> str:
    return "?" + url_query  # RFC 9421 2.2.7: "?" even when the query is empty


def signature_base(
    method: str, path: str, query: str, headers: Mapping[str, str], params: str
) -> bytes:
    values = {
        "@method": method.upper(),
        "@path": path or "/",
        "@query": _query(query),
        "content-digest": headers.get("content-digest", ""),
        "citydata-node": headers.get(NODE_HEADER, ""),
        "citydata-target": headers.get(TARGET_HEADER, ""),
    }
    lines = [f'"{c}": {values[c]}' for c in COMPONENTS]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode()


def sign_headers(
    key: NodeKey, *, sender: str, target: str, method: str, url: str, body: bytes = b"",
    now: float | None = None,
) -> dict[str, str]:
    """The headers that sign one request from node ``sender`` to node ``target``."""
    parts = urlsplit(url)
    headers = {
        "content-digest": content_digest(body),
        NODE_HEADER: sender,
        TARGET_HEADER: target,
    }
    created = int(now if now is not None else time.time())
    nonce = secrets.token_urlsafe(18)
    covered = " ".join(f'"{c}"' for c in COMPONENTS)
    params = f'({covered});created={created};keyid="{key.key_id}";nonce="{nonce}";alg="ed25519"'
    base = signature_base(method, parts.path, parts.query, headers, params)
    headers["signature-input"] = f"{LABEL}={params}"
    headers["signature"] = f"{LABEL}=:{key.sign(base)}:"
    return headers


def signer(key: NodeKey, sender: str, target: str) -> Callable[[str, str, bytes], dict[str, str]]:
    """A ``sign(method, url, body)`` callable for :class:`citydata.federation.fetch.Fetcher`."""

    def sign(method: str, url: str, body: bytes) -> dict[str, str]:
        return sign_headers(key, sender=sender, target=target, method=method, url=url, body=body)

    return sign


@dataclass(frozen=True)
class Verified:
    node: str
    key_id: str
    nonce: str
    created: int


def _refuse(message: str) -> NotAuthenticated:
    return NotAuthenticated(f"Node signature refused: {message}")


def verify(
    *, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes,
    me: str, public_key_for: Callable[[str], NodeKey | None],
    remember_nonce: Callable[[str, str], bool], window: int = DEFAULT_WINDOW,
    now: float | None = None,
) -> Verified:
    """Check a signed request addressed to node ``me``; raise NotAuthenticated otherwise.

    ``public_key_for(node)`` gives the sender's registered key (None: unknown node);
    ``remember_nonce(node, nonce)`` stores the nonce and returns False when it was seen
    before. Checks run cheapest first; the nonce is only stored for a valid signature, so
    forged requests cannot fill the store.
    """
    h = {k.lower(): v for k, v in headers.items()}
    sender = h.get(NODE_HEADER, "").strip()
    if not sender:
        raise _refuse("the request is not signed (no Citydata-Node header)")
    if h.get(TARGET_HEADER, "") != me:
        raise _refuse(f"it is addressed to node {h.get(TARGET_HEADER, '')!r}, not {me!r}")
    raw_input = h.get("signature-input", "").strip()
    match = _INPUT_RE.match(raw_input)
    sig = _SIG_RE.match(h.get("signature", "").strip())
    if not match or not sig:
        raise _refuse("missing or malformed Signature-Input / Signature headers")
    covered = tuple(c.strip('"') for c in match["components"].split())
    if covered != COMPONENTS:
        raise _refuse("the signature must cover " + " ".join(COMPONENTS))
    params = {k: v.strip('"') for k, v in _PARAM_RE.findall(match["params"])}
    if params.get("alg", "ed25519") != "ed25519":
        raise _refuse("only ed25519 signatures are accepted")
    try:
        created = int(params.get("created", ""))
    except ValueError:
        raise _refuse("no created time") from None
    nonce = params.get("nonce", "")
    if not 16 <= len(nonce) <= 64:
        raise _refuse("no usable nonce")
    current = now if now is not None else time.time()
    if abs(current - created) > window:
        raise _refuse(f"it was created {int(current - created)} s from now; the window is "
                      f"{window} s (check the clocks)")
    if h.get("content-digest", "") != content_digest(body):
        raise _refuse("the Content-Digest does not match the body")
    key = public_key_for(sender)
    if key is None:
        raise _refuse(f"node {sender!r} is not registered here")
    if params.get("keyid") != key.key_id:
        raise _refuse(f"key {params.get('keyid')!r} is not the key registered for {sender!r}")
    base = signature_base(method, path, query, h, raw_input[len(LABEL) + 1:])
    if not key.verify(base, sig.group(1)):
        raise _refuse(f"the signature does not verify with {sender!r}'s key")
    if not remember_nonce(sender, nonce):
        raise _refuse("this request was already received (replay)")
    return Verified(sender, key.key_id, nonce, created)

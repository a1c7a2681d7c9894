"""How a webhook delivery is signed and checked, and which addresses may receive one.

Every delivery carries ``Citydata-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, the HMAC
being over ``f"{t}.{raw body}"`` with the subscription's secret. A receiver recomputes it from
the raw bytes it got (before parsing the JSON) and refuses a timestamp that is too old, which
stops a captured delivery being replayed to it later. :func:`verify_signature` is the
reference implementation; several ``v1`` values may appear (any one matching is enough).

The address rules guard against server-side request forgery: in production a webhook may not
point at loopback, private, link-local or otherwise non-public addresses (unless
``CITYDATA_WEBHOOK_ALLOW_PRIVATE`` is set), checked when it is created and again, after
resolving the name, at every delivery (the address rules themselves live in
:mod:`citydata.net`, shared with harvest sources).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

import httpx

from citydata import __version__
from citydata.errors import field_error
from citydata.net import (  # re-exported: the webhook modules import the rules from here
    AddressRefused,
    is_public_address,  # noqa: F401
    public_addresses,
)
from citydata.settings import Settings

SIGNATURE_HEADER = "Citydata-Signature"
USER_AGENT = f"citydata-webhooks/{__version__}"
MAX_URL_LENGTH = 2000


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Citydata-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes | str, tolerance: int = 300,
                     now: float | None = None) -> bool:
    """True if ``header`` (a ``Citydata-Signature`` value) signs ``body`` (the raw request
    body) with ``secret`` and its timestamp is within ``tolerance`` seconds of ``now``."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, raw, timestamp).split("v1=", 1)[1].encode()
    return any(hmac.compare_digest(expected, c.encode("utf-8", "replace")) for c in candidates)


def delivery_headers(secret: str, body: bytes, event_id: int, event_type: str,
                     attempt: int, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one delivery attempt (``attempt`` counts from 1)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, body, int(time.time()) if timestamp is None
                                    else timestamp),
        "Citydata-Event-Id": str(event_id),
        "Citydata-Event-Type": event_type,
        "Citydata-Delivery-Attempt": str(attempt),
    }


# -- where deliveries may go --------------------------------------------------------------------


def guards_private(settings: Settings) -> bool:
    """Whether non-public addresses are refused (production, unless allowed)."""
    return settings.env == "production" and not settings.webhook_allow_private


def check_url(url: object, settings: Settings) -> str:
    """A webhook URL as stored, or a 400 saying what is wrong with it."""
    if not isinstance(url, str) or not url.strip():
        raise field_error("url", "Give the http(s) URL to deliver events to")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise field_error("url", f"At most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise field_error("url", "Must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.Request("POST", url)  # deliveries are sent with it: it must take the URL too
    except (ValueError, httpx.InvalidURL):
        raise field_error("url", "Not a valid URL (check the host and port)") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise field_error("url", "Must start with http:// or https://")
    if "@" in parts.netloc:
        raise field_error("url", "Must not contain a user name or password; use the "
                          "signature to authenticate deliveries")
    host = parts.hostname
    if not host:
        raise field_error("url", "Must name a host")
    if guards_private(settings):
        try:
            public_addresses(host, port or (443 if parts.scheme.lower() == "https" else 80))
        except AddressRefused as exc:
            raise field_error("url", f"Deliveries may not go to {exc}") from None
    return url

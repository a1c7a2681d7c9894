"""The receiver in docs/webhooks.md works: run as written against the real dispatcher, it
accepts genuine deliveries once each and refuses forged or tampered ones."""

from __future__ import annotations

import re
import threading
import time
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from citydata.events import webhooks
from citydata.events.webhook_signing import signature
from tests.webhooks.conftest import add, dispatch, system_ctx

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_receiver() -> dict[str, Any]:
    section = DOC.read_text().split("## Verify the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "docs/webhooks.md has no receiver example"
    namespace: dict[str, Any] = {"__name__": "documented_receiver"}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture
def receiver_from_the_docs():  # type: ignore[no-untyped-def]
    ns = documented_receiver()
    handled: list[dict[str, Any]] = []
    ns["handle"] = handled.append
    ns["Receiver"].log_message = lambda *args: None
    server = HTTPServer(("127.0.0.1", 0), ns["Receiver"])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield ns, handled, f"http://127.0.0.1:{server.server_address[1]}/citydata"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_documented_receiver_accepts_deliveries_once(platform, receiver_from_the_docs):
    ns, handled, url = receiver_from_the_docs
    with platform.db.session() as session:
        sub = webhooks.create(platform, system_ctx(platform, session),
                              {"stream": "whtest", "url": url, "filters": {"kind": "tree"}})
        sub_id, ns["SECRET"] = sub.id, sub.secret
    ids = add(platform, "tree", "bench", "tree")
    assert dispatch(platform)["delivered"] == 2
    assert sorted(e["id"] for e in handled) == [ids[0], ids[2]]
    with platform.db.session() as session:
        webhooks.replay(system_ctx(platform, session), sub_id, 0)
    assert dispatch(platform)["delivered"] == 2  # sent again, answered 2xx...
    assert len(handled) == 2  # ...and handled once


def test_the_documented_receiver_refuses_forgeries(platform, receiver_from_the_docs):
    ns, handled, url = receiver_from_the_docs
    ns["SECRET"] = "whsec_the-real-one"
    body = b'{"id":1,"stream":"whtest","type":"thing.made","key":"k","data":{}}'
    now = int(time.time())
    good = signature("whsec_the-real-one", body, now)
    assert httpx.post(url, content=body, headers={"Citydata-Signature": good}).status_code \
        == 204
    for header, sent in (
        (good, body.replace(b"thing.made", b"thing.gone")),  # tampered body
        (signature("whsec_a-guess", body, now), body),  # wrong secret
        (signature("whsec_the-real-one", body, now - 3600), body),  # too old
        ("", body), (f"t={now},v1=é".encode(), body), (f"t={now}", body),
    ):
        answer = httpx.post(url, content=sent, headers={"Citydata-Signature": header})
        assert answer.status_code == 400, header
    assert [e["id"] for e in handled] == [1]
    # It agrees with the reference implementation.
    assert ns["verify"]("whsec_the-real-one", good, body) is webhooks.verify_signature(
        "whsec_the-real-one", good, body) is True

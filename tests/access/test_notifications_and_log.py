"""Notifications (in the app, and by e-mail through a real SMTP server) and the data owners'
access log (JSON, CSV, page)."""

from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import select

from citydata.access import notify
from citydata.storage.models_access import MailOutbox
from tests.conftest import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.content.decode("utf-8", "replace")))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    """A real SMTP server on loopback (aiosmtpd), standing in for the council's mail relay."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"smtp://127.0.0.1:{port}"
    controller.stop()


def test_decisions_reach_people_by_smtp(client, governed, platform, smtp_server):
    inbox, url = smtp_server
    platform.settings.smtp_url = url
    r = client.post("/api/v1/agreements", headers={"Authorization":
                                                   governed.tokens["hackney-analyst"]}, json={
        "datasets": ["care-restricted"], "purpose": "service-planning",
        "purpose_detail": "Planning adult social care across borough boundaries.",
        "lawful_basis": "art6-1-e", "dpia_reference": "HAC-DPIA-042"})
    assert r.status_code == 201
    ref = r.json()["reference"]
    deadline = time.time() + 10  # sent by a background task after the response
    while not inbox.messages and time.time() < deadline:
        time.sleep(0.05)
    (mail_from, to, content) = inbox.messages[0]
    assert to == ["camden-owner@example.org"] and "noreply@citydata.invalid" in mail_from
    assert f"{ref}: new data access request" in content
    assert f"/agreements/{ref}" in content
    with governed.make_ctx() as ctx:
        (queued,) = ctx.session.scalars(select(MailOutbox)).all()
    assert queued.sent_at is not None and queued.transport == "smtp"


def test_an_unreachable_mail_server_keeps_the_message_queued(governed, platform):
    platform.settings.smtp_url = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    governed.request()
    assert notify.deliver_pending(platform.db, platform.settings) == 0
    with governed.make_ctx() as ctx:
        (queued,) = ctx.session.scalars(select(MailOutbox)).all()
    assert queued.sent_at is None and queued.attempts == 1 and queued.last_error


def test_in_app_notifications(client, governed):
    ref = governed.request()
    owner = {"Authorization": governed.tokens["camden-owner"]}
    body = client.get("/api/v1/notifications", headers=owner).json()
    assert body["unread"] == 1 and body["results"][0]["link"] == f"/agreements/{ref}"
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.post("/api/v1/notifications/read", headers=owner).json() == {"marked": 1}
    assert client.get("/api/v1/notifications", headers=owner).json()["unread"] == 0


def _use_the_data(client, governed, ref):  # type: ignore[no-untyped-def]
    for limit in (5, 9):
        r = client.get("/api/3/action/datastore_search", params={
            "resource_id": governed.resource("restricted"), "limit": limit},
            headers={"Authorization": governed.tokens["hackney-analyst"],
                     "X-Citydata-Agreement": ref})
        assert r.status_code == 200


def test_access_log_for_data_owners(client, governed):
    ref = governed.grant()
    _use_the_data(client, governed, ref)
    owner = {"Authorization": governed.tokens["camden-owner"]}
    log = client.get("/api/v1/organizations/camden/access-log", params={"kind": "data"},
                     headers=owner).json()
    assert log["count"] == 2
    newest = log["results"][0]
    assert (newest["user"], newest["action"], newest["dataset"], newest["agreement"],
            newest["purpose"], newest["rows"], newest["via"]) == (
        "hackney-analyst", "data.read", "care-restricted", ref, "service-planning", 9,
        "agreement")
    assert log["summary"]["by_user"] == [{"key": "hackney-analyst", "reads": 2}]
    assert log["summary"]["by_agreement"] == [{"key": ref, "reads": 2}]
    everything = client.get("/api/v1/organizations/camden/access-log", headers=owner).json()
    assert {"agreement.approved", "agreement.requested"} <= {e["action"] for e in
                                                             everything["results"]}
    only = client.get("/api/v1/organizations/camden/access-log",
                      params={"agreement": ref, "user": "nobody"}, headers=owner).json()
    assert only["count"] == 0
    assert client.get("/api/v1/organizations/camden/access-log", params={"since": "yesterday"},
                      headers=owner).status_code == 400


def test_only_the_data_owners_read_the_log(client, governed):
    for who in ("camden-editor", "hackney-analyst", "root"):
        r = client.get("/api/v1/organizations/camden/access-log",
                       headers={"Authorization": governed.tokens[who]})
        assert r.status_code == 403, who
    assert client.get("/api/v1/organizations/camden/access-log").status_code == 401


def test_access_log_as_csv(client, governed):
    ref = governed.grant()
    _use_the_data(client, governed, ref)
    r = client.get("/api/v1/organizations/camden/access-log.csv", params={"kind": "data"},
                   headers={"Authorization": governed.tokens["camden-owner"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["user"], x["agreement"], x["rows"]) for x in rows] == [
        ("hackney-analyst", ref, "5"), ("hackney-analyst", ref, "9")]
    assert client.get("/api/v1/organizations/camden/access-log.csv",
                      headers={"Authorization": governed.tokens["camden-editor"]}
                      ).status_code == 403


def test_access_log_page(client, governed):
    from tests.web.conftest import login

    ref = governed.grant()
    _use_the_data(client, governed, ref)
    login(client, "camden-owner", "a-long-password")
    page = client.get("/organization/camden/access")
    assert page.status_code == 200
    assert "hackney-analyst" in page.text and ref in page.text and "9 rows" in page.text
    assert 'href="/api/v1/organizations/camden/access-log.csv?kind=data"' in page.text

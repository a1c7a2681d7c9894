"""Kill -9 the real server while a data owner's approval of an access request commits.

The approval — the agreement's new status and conditions, its history events, the
recipients' notifications and e-mail, and its audit entries — is one transaction: the audit
entries are appended in the transaction's ``before_commit`` hook, and the pause point sits
right after them. Killed there, the request is still waiting with no trace of the decision,
the audit chain verifies with every earlier entry in place, and approving again works."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from citydata.storage.models_access import MailOutbox, Notification
from tests.access.conftest import Governed
from tests.crash.conftest import Node

pytestmark = pytest.mark.slow


def told_approved(node: Node) -> tuple[int, int]:
    """How many notifications and e-mails say a request was approved."""
    with node.platform.db.session() as session:
        notes = session.scalar(select(func.count()).select_from(Notification)
                               .where(Notification.subject.like("%access approved")))
        mails = session.scalar(select(func.count()).select_from(MailOutbox)
                               .where(MailOutbox.subject.like("%access approved")))
    return int(notes or 0), int(mails or 0)


def test_kill_mid_approval_leaves_the_request_undecided(node: Node, governed: Governed):
    ref = governed.request("hackney-analyst", "restricted")
    owner = governed.tokens["camden-owner"]
    before = node.audit_actions()
    assert before[-2:] == ["agreement.created", "agreement.requested"]

    proc = node.start(pause_at="audit-appended")
    node.post_in_background(f"/api/v1/agreements/{ref}/approve", owner,
                            json={"note": "Approved for the care review"})
    node.kill_when_paused(proc, "audit-appended")

    node.start()
    shown = node.get(f"/api/v1/agreements/{ref}", owner)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["status"], shown.json()["decided_at"]) == ("requested", None)
    assert node.audit_actions() == before  # every committed entry kept, the killed one absent
    assert told_approved(node) == (0, 0)
    node.assert_recovered()

    r = node.post(f"/api/v1/agreements/{ref}/approve", owner,
                  json={"note": "Approved for the care review"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert node.audit_actions() == [*before, "agreement.approved", "agreement.activated"]
    assert told_approved(node)[0] == 1
    node.assert_recovered()

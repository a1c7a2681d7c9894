"""The agreement lifecycle, on both backends: request, decide, activate, expire, revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from citydata.access import agreements
from citydata.access.agreement_views import agreement_dict, list_mine, register
from citydata.errors import Conflict, Forbidden, NotFound, ValidationError
from citydata.storage.models import utcnow
from citydata.storage.models_access import Agreement, AuditEntry, MailOutbox, Notification


def _history(g, ref):  # type: ignore[no-untyped-def]
    with g.as_user("camden-owner") as ctx:
        return [(e["action"], e["from"], e["to"]) for e in agreement_dict(
            ctx, agreements.get_for(ctx, ref))["history"]]


def test_request_notifies_the_data_owners_and_waits(governed):
    ref = governed.request()
    assert ref.startswith(f"DSA-{utcnow().year}-")
    with governed.make_ctx() as ctx:
        ag = ctx.session.scalar(select(Agreement).where(Agreement.reference == ref))
        assert ag.status == "requested" and ag.start_at is None and ag.duration_days == 90
        notes = ctx.session.scalars(select(Notification)).all()
        mails = ctx.session.scalars(select(MailOutbox)).all()
    # Only Camden's admin (its data owner) is told, in the app and by e-mail.
    assert [n.user_id for n in notes] == [governed.users["camden-owner"]]
    assert "new data access request" in notes[0].subject and notes[0].link == f"/agreements/{ref}"
    assert [m.to_addr for m in mails] == ["camden-owner@example.org"]
    assert _history(governed, ref) == [("created", "", "draft"), ("requested", "draft",
                                                                    "requested")]
    # Until approved it gives no access.
    with governed.as_user("hackney-analyst", agreement=ref) as ctx:
        assert ctx.access.grants() == []


def test_references_are_sequential_and_unique(governed):
    refs = [governed.request() for _ in range(3)]
    numbers = [int(r.rsplit("-", 1)[1]) for r in refs]
    assert numbers == list(range(numbers[0], numbers[0] + 3))


def test_approval_activates_at_once_with_the_owners_conditions(governed):
    ref = governed.request(actions=["read", "download"])
    governed.approve(ref, actions="read,query", columns=["ward", "age_band"], note="ok")
    with governed.as_user("hackney-analyst") as ctx:
        ag = agreements.get_for(ctx, ref)
        record = agreement_dict(ctx, ag)
        (grant,) = ctx.access.grants()
    assert record["status"] == "active"
    assert record["conditions"]["actions"] == ["query", "read"]
    assert record["conditions"]["columns"] == ["age_band", "ward"]
    assert grant.columns == frozenset({"ward", "age_band"}) and grant.purpose == "service-planning"
    end = ag.end_at - ag.start_at
    assert timedelta(days=89, hours=23) < end <= timedelta(days=90)
    assert [h[0] for h in _history(governed, ref)][-2:] == ["approved", "activated"]
    # The requester was told.
    with governed.make_ctx() as ctx:
        told = [n.user_id for n in ctx.session.scalars(select(Notification))
                if "approved" in n.subject]
    assert told == [governed.users["hackney-analyst"]]


def test_approval_starting_later_is_approved_then_the_sweep_activates_it(governed):
    ref = governed.request()
    start = (utcnow() + timedelta(days=2)).date().isoformat()
    governed.approve(ref, start_date=start)
    with governed.as_user("hackney-analyst") as ctx:
        assert agreement_dict(ctx, agreements.get_for(ctx, ref))["status"] == "approved"
        assert ctx.access.grants() == []
    with governed.as_user("camden-owner") as ctx:
        assert agreements.sweep(ctx) == {"activated": 0, "expired": 0}
        assert agreements.sweep(ctx, utcnow() + timedelta(days=3)) == {"activated": 1,
                                                                     "expired": 0}
        assert agreements.sweep(ctx, utcnow() + timedelta(days=400)) == {"activated": 0,
                                                                       "expired": 1}
        assert agreements.find(ctx.session, ref).status == "expired"


def test_expiry_takes_effect_before_any_sweep(governed):
    ref = governed.grant()
    with governed.make_ctx() as ctx:
        ag = agreements.find(ctx.session, ref)
        ag.end_at = utcnow() - timedelta(seconds=1)
    with governed.as_user("hackney-analyst", agreement=ref) as ctx:
        assert ctx.access.grants() == []
        assert agreements.effective_status(agreements.find(ctx.session, ref)) == "expired"
        ds = ctx.session.get(__import__("citydata.storage.models", fromlist=["Dataset"]).Dataset,
                             governed.datasets["restricted"]["id"])
        with pytest.raises(Forbidden, match="expired"):
            ctx.access.decide(ds, "read")


def test_refuse_needs_a_reason_and_tells_the_requester(governed):
    ref = governed.request()
    with governed.as_user("camden-owner") as ctx, pytest.raises(ValidationError, match="note"):
        agreements.refuse(ctx, ref, "  ")
    with governed.as_user("camden-owner") as ctx:
        agreements.refuse(ctx, ref, "Use the published aggregates instead")
    with governed.as_user("camden-owner") as ctx, pytest.raises(Conflict, match="refused"):
        agreements.approve(ctx, ref, {})
    with governed.as_user("hackney-analyst") as ctx:
        record = agreement_dict(ctx, agreements.get_for(ctx, ref))
    assert record["status"] == "refused"
    assert record["ended_reason"] == "Use the published aggregates instead"


def test_more_information_returns_it_to_draft_and_it_can_be_resubmitted(governed):
    ref = governed.request()
    with governed.as_user("camden-owner") as ctx:
        agreements.request_info(ctx, ref, "Which team will see the data?")
        with pytest.raises(Conflict, match="draft"):
            agreements.approve(ctx, ref, {})  # not until the requester sends it back
    with governed.as_user("hackney-analyst") as ctx:
        agreements.update_draft(ctx, ref, {"purpose_detail": "Only the Hackney adult social "
                                                             "care planning team will see it."})
        agreements.submit(ctx, ref, "Answered")
    governed.approve(ref)
    assert [h[0] for h in _history(governed, ref)] == [
        "created", "requested", "info_requested", "updated", "requested", "approved",
        "activated"]


def test_only_the_providers_data_owners_decide(governed):
    ref = governed.request()
    for who in ("camden-editor", "hackney-analyst", "tfl-member", "root"):
        with governed.as_user(who) as ctx, pytest.raises((Forbidden, NotFound)):
            agreements.approve(ctx, ref, {})
    with governed.as_user("outsider") as ctx, pytest.raises(NotFound):
        agreements.get_for(ctx, ref)  # drafts and requests are the parties' business only


def test_revocation_by_either_side(governed):
    ref = governed.grant()
    with governed.as_user("hackney-colleague") as ctx, pytest.raises((Forbidden, NotFound)):
        agreements.revoke(ctx, ref, "not mine")  # a colleague is not a named recipient
    with governed.as_user("hackney-analyst") as ctx:
        agreements.revoke(ctx, ref, "The project ended")
        with pytest.raises(Conflict, match="revoked"):
            agreements.revoke(ctx, ref, "again")
    with governed.as_user("hackney-analyst") as ctx:
        assert ctx.access.grants() == []
        assert agreement_dict(ctx, agreements.get_for(ctx, ref))["status"] == "revoked"


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"purpose": "world-domination"}, "purpose", "not one of"),
    ({"purpose": ""}, "purpose", "Choose one"),
    ({"purpose_detail": "short"}, "purpose_detail", "at least 20"),
    ({"lawful_basis": "not-personal-data"}, "lawful_basis", "personal data"),
    ({"dpia_reference": ""}, "dpia_reference", "DPIA"),
    ({"duration_days": 5000}, "duration_days", "between"),
    ({"actions": ["aggregate", "read"]}, "actions", "aggregate-only"),
    ({"actions": ["delete"]}, "actions", "Unknown actions"),
    ({"datasets": []}, "datasets", "at least one"),
    ({"datasets": ["care-open"]}, "datasets", "needs no agreement"),
    ({"datasets": ["care-private"]}, "datasets", "not found"),
    ({"datasets": ["nowhere"]}, "datasets", "not found"),
])
def test_bad_requests_name_the_field(governed, change, field, message):
    with pytest.raises(ValidationError) as err:
        governed.request(**change)
    assert field in err.value.fields
    assert message.lower() in " ".join(err.value.fields[field]).lower()
    with governed.make_ctx() as ctx:  # nothing half-written
        assert ctx.session.scalars(select(Agreement)).all() == []


def test_special_category_data_needs_an_article_9_condition(governed):
    with governed.make_ctx() as ctx:
        from citydata.catalog import datasets

        datasets.update_dataset(ctx, "care-restricted",
                                {"restriction_reason": "special-category-data"}, partial=True)
    with pytest.raises(ValidationError) as err:
        governed.request()
    assert "special_category_condition" in err.value.fields
    ref = governed.request(special_category_condition="art9-2-h")
    with governed.as_user("hackney-analyst") as ctx:
        assert agreement_dict(ctx, agreements.get_for(ctx, ref))[
            "special_category_condition_label"].startswith("Art. 9(2)(h)")


def test_a_member_of_the_publisher_needs_no_agreement(governed):
    with pytest.raises(Conflict, match="member"):
        governed.request(user="camden-editor")


def test_one_publisher_per_agreement(governed, make_ctx):
    from citydata.catalog import datasets

    with make_ctx() as ctx:
        datasets.create_dataset(ctx, {"name": "tfl-shared", "owner_org": "tfl",
                                      "access_level": "shared"})
    with pytest.raises(ValidationError, match="one publisher"):
        governed.request(datasets=["care-restricted", "tfl-shared"])


def test_requests_only_on_behalf_of_ones_own_organisation(governed):
    with pytest.raises(Forbidden, match="not a member of tfl"):
        governed.request(organization="tfl")


def test_approval_validates_the_conditions(governed):
    ref = governed.request()
    cases = [({"columns": ["ward", "nhs_number"]}, "columns"),
             ({"end_date": "2001-01-01"}, "end_date"),
             ({"min_cell_count": 0, "actions": "aggregate"}, "min_cell_count"),
             ({"actions": "aggregate,download"}, "actions")]
    for data, field in cases:
        with governed.as_user("camden-owner") as ctx, pytest.raises(ValidationError) as err:
            agreements.approve(ctx, ref, data)
        assert field in err.value.fields, data
    governed.approve(ref, actions="aggregate", min_cell_count=5)
    with governed.as_user("hackney-analyst") as ctx:
        (grant,) = ctx.access.grants()
    assert grant.aggregate_only and grant.min_cell_count == 5


def test_provider_drafted_agreement_for_an_organisation(governed):
    with governed.as_user("camden-owner") as ctx:
        ag = agreements.create(ctx, {
            "datasets": ["care-shared"], "recipients": [{"organization": "hackney"}],
            "purpose": "public-health", "purpose_detail": "Joint public health needs assessment",
            "lawful_basis": "art6-1-e", "dpia_reference": "JSNA-2026"})
        assert ag.status == "draft"
        agreements.approve(ctx, ag.reference, {})
        ref = ag.reference
    # Every Hackney member is a party, not only one person.
    for who in ("hackney-analyst", "hackney-colleague"):
        with governed.as_user(who) as ctx:
            assert [g.reference for g in ctx.access.grants()] == [ref]
    with governed.as_user("tfl-member") as ctx:
        assert ctx.access.grants() == []
    with governed.as_user("hackney-analyst") as ctx, pytest.raises(Forbidden):
        agreements.create(ctx, {  # a recipient cannot draft one naming whoever it likes
            "datasets": ["care-shared"], "recipients": [{"organization": "hackney"}],
            "purpose": "public-health", "purpose_detail": "Joint public health needs assessment",
            "lawful_basis": "art6-1-e", "dpia_reference": "JSNA-2026"})


def test_every_step_is_in_the_audit_log(governed):
    ref = governed.grant()
    with governed.as_user("camden-owner") as ctx:
        agreements.revoke(ctx, ref, "done")
    with governed.make_ctx() as ctx:
        actions = [e.action for e in ctx.session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("agreement.%"))
            .order_by(AuditEntry.seq))]
    assert actions == ["agreement.created", "agreement.requested", "agreement.approved",
                       "agreement.activated", "agreement.revoked"]


def test_lists_for_each_side(governed):
    ref = governed.grant()
    other = governed.request(user="hackney-colleague", level="shared")
    with governed.as_user("hackney-analyst") as ctx:
        assert [a["reference"] for a in list_mine(ctx)] == [ref]
    with governed.as_user("camden-owner") as ctx:
        assert {a["reference"] for a in list_mine(ctx, role="provider")} == {ref, other}
        assert [a["reference"] for a in list_mine(ctx, status="requested")] == [other]
    with governed.as_user(None) as ctx:
        items, total = register(ctx)
    assert total == 1 and items[0]["reference"] == ref  # requests are not public


def test_two_owners_deciding_at_once_cannot_both_win(governed, make_ctx):
    """Each decision checks the agreement's row version: the slower one gets a conflict."""
    from sqlalchemy.orm.exc import StaleDataError

    from citydata.catalog.users import actor_for_user, get_user

    ref = governed.request()
    with make_ctx() as first, make_ctx() as second:
        a = first.with_actor(actor_for_user(first.session,
                                            get_user(first.session, "camden-owner")))
        b = second.with_actor(actor_for_user(second.session,
                                             get_user(second.session, "camden-owner")))
        agreements.get_for(a, ref)
        stale = agreements.get_for(b, ref)  # both have read it
        agreements.approve(a, ref, {})
        a.session.commit()
        assert stale.status == "requested"  # the second still sees it waiting
        with pytest.raises(StaleDataError):
            agreements.refuse(b, ref, "No")
            b.session.flush()
        b.session.rollback()
    with governed.as_user("camden-owner") as ctx:
        assert agreements.get_for(ctx, ref).status == "active"

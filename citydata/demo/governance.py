"""Demo data sharing agreements, so the public register shows how London's data is shared.

Made through the real agreement functions (the provider drafts and approves them), then aged:
one is active, one was revoked, one has expired. The walkthrough agreement — Hackney's analyst
asking Camden for its adult social care packages — is left for the person trying the demo to
make (see docs/governance.md). Idempotent: recorded in ``RefMeta`` once done.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from citydata.access import agreements
from citydata.access.actors import Actor
from citydata.catalog.context import Ctx
from citydata.storage.models import RefMeta, utcnow

META_KEY = "demo:agreements"

#: (dataset, recipient organisation, purpose, lawful basis, Art. 9 condition, DPIA, what the
#: data is used for, what happened since: active | revoked | expired)
AGREEMENTS: tuple[tuple[str, ...], ...] = (
    ("camden-homelessness-assessments", "greater-london-authority", "service-planning",
     "art6-1-e", "", "GLA-DPIA-2025-017",
     "The GLA's housing team combines borough homelessness assessments to plan the "
     "London-wide prevention programme and report to the Mayor.", "active"),
    ("hospital-discharge-flows", "camden-council", "service-delivery", "art6-1-e", "art9-2-h",
     "NCL-ASC-DPIA-08",
     "Camden's hospital discharge team arranges care for residents leaving hospital the "
     "same day.", "active"),
    ("oyster-journeys-sample", "westminster-council", "policy-evaluation", "art6-1-e", "",
     "WCC-DPIA-2024-112",
     "Westminster evaluated the Oxford Street pedestrianisation trial with journey counts.",
     "revoked"),
    ("high-rise-building-inspections", "southwark-council", "regulation-enforcement",
     "not-personal-data", "", "",
     "Southwark building control followed up fire safety defects found in inspections.",
     "expired"),
)


def load_agreements(platform: Any) -> int:
    """Create the demo agreements once; returns how many were created."""
    with platform.db.session() as session:
        if session.get(RefMeta, META_KEY) is not None:
            return 0
    created = 0
    for (dataset, recipient, purpose, basis, condition, dpia, detail,
         outcome) in AGREEMENTS:
        with platform.db.session() as session:
            ctx = Ctx(session, Actor.system(), platform.settings, platform.files)
            ag = agreements.create(ctx, {
                "datasets": [dataset], "recipients": [{"organization": recipient}],
                "purpose": purpose, "purpose_detail": detail, "lawful_basis": basis,
                "special_category_condition": condition, "dpia_reference": dpia,
                "actions": ["read", "query"]})
            agreements.approve(ctx, ag.reference, {"note": "Demo agreement"})
            if outcome == "revoked":
                agreements.revoke(ctx, ag.reference, "The trial ended early")
            elif outcome == "expired":
                ag.start_at = utcnow() - timedelta(days=400)
                ag.end_at = utcnow() - timedelta(days=35)
                agreements.sweep(ctx)
            created += 1
    with platform.db.session() as session:
        session.merge(RefMeta(key=META_KEY, value="1"))
    return created

"""The governance benchmark's catalog, built through the real domain functions (no raw SQL).

One seeded CSV of adult social care packages (ward, age band, support type, weekly hours and
cost) is published twice by the borough "camden": once open, once restricted (personal data).
"hackney-analyst" (a member of "hackney") requests access to the restricted copy for
``service-planning``; "camden-owner" (an admin of camden) approves it; the analyst gets an API
token. The open and governed requests then differ only in the policy and the audit entry.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from citydata.platform import Platform

COLUMNS = ["ward_code", "age_band", "support_type", "weekly_hours", "weekly_cost"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"]
AGE_WEIGHTS = [4, 6, 7, 8, 10, 16, 25, 24]
SUPPORT = {"home care": 14.0, "day care": 6.0, "reablement": 10.0, "direct payment": 8.0,
           "supported living": 30.0, "residential care": 40.0, "nursing care": 45.0}
FILTER_AGE_BAND = "85+"
PURPOSE = "service-planning"
PROVIDER_ORG, RECIPIENT_ORG = "camden", "hackney"
OWNER, ANALYST = "camden-owner", "hackney-analyst"
OPEN_NAME, RESTRICTED_NAME = "care-packages-open", "care-packages-restricted"
PASSWORD = "bench-password-not-secret"


@dataclass
class Catalog:
    """What the measurements need to know about the catalog they run on."""

    open_resource: str
    restricted_resource: str
    agreement: str
    token: str
    rows: int
    csv_bytes: int


def write_csv(path: Path, rows: int, seed: int) -> int:
    """A deterministic CSV (same seed, same bytes); returns its size."""
    rng = random.Random(seed)
    wards = [f"E0500{n:04d}" for n in range(128, 146)]  # Camden's 18 wards' GSS codes
    support = list(SUPPORT)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for _ in range(rows):
            kind = rng.choice(support)
            hours = max(1, round(rng.gauss(SUPPORT[kind], SUPPORT[kind] / 4)))
            rate = rng.uniform(18.5, 32.0)
            out.writerow([rng.choice(wards), rng.choices(AGE_BANDS, AGE_WEIGHTS)[0], kind,
                          hours, f"{hours * rate:.2f}"])
    return path.stat().st_size


def _people(platform: Platform) -> None:
    from citydata.access.actors import Actor
    from citydata.catalog.organizations import add_member, create_organization
    from citydata.catalog.users import create_user

    system = Actor.system()
    with platform.db.session() as s:
        for user in (OWNER, ANALYST):
            create_user(s, user, f"{user}@example.org", PASSWORD)
        for org, title in ((PROVIDER_ORG, "London Borough of Camden"),
                           (RECIPIENT_ORG, "London Borough of Hackney")):
            create_organization(s, system, {"name": org, "title": title, "kind": "borough"})
        add_member(s, system, PROVIDER_ORG, OWNER, "admin")
        add_member(s, system, RECIPIENT_ORG, ANALYST, "member")


def _publish(platform: Platform, path: Path, name: str, metadata: dict) -> str:
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.publish import publish_file

    with platform.db.session() as s:
        ctx = Ctx(s, Actor.system(), platform.settings, platform.files)
        _, res = publish_file(ctx, path, org=PROVIDER_ORG, title=f"Adult social care packages "
                              f"({metadata['access_level']})", dataset_name=name,
                              metadata=metadata)
    current = next(v for v in res["versions"] if v["version"] == res["version"])
    if current["ingest_status"] != "ok":
        raise RuntimeError(f"ingest of {name} failed: {current['report']}")
    return str(res["id"])


def _agreement(platform: Platform) -> str:
    from citydata.access import agreements
    from citydata.catalog.context import Ctx
    from citydata.catalog.users import actor_for_user, get_user

    with platform.db.session() as s:
        def ctx_as(name: str) -> Ctx:
            actor = actor_for_user(s, get_user(s, name))
            return Ctx(s, actor, platform.settings, platform.files)

        ag = agreements.create(ctx_as(ANALYST), {
            "datasets": [RESTRICTED_NAME], "purpose": PURPOSE,
            "purpose_detail": "Planning home care capacity across north London wards",
            "lawful_basis": "art6-1-e", "dpia_reference": "DPIA-1", "duration_days": 365,
            "actions": ["read"]})
        approved = agreements.approve(ctx_as(OWNER), ag.reference, {})
        if approved.status != "active":
            raise RuntimeError(f"agreement {ag.reference} is {approved.status}, not active")
        return str(ag.reference)


def build(platform: Platform, work: Path, rows: int, seed: int) -> Catalog:
    """Migrate, then create people, both datasets, the agreement and the analyst's token."""
    from citydata.access.actors import Actor
    from citydata.catalog.users import create_token
    from citydata.storage.migrate import upgrade

    upgrade(platform.db)
    path = work / "care-packages.csv"
    size = write_csv(path, rows, seed)
    _people(platform)
    open_rid = _publish(platform, path, OPEN_NAME, {"access_level": "open"})
    restricted_rid = _publish(platform, path, RESTRICTED_NAME, {
        "access_level": "restricted", "restriction_reason": "personal-data"})
    path.unlink()
    reference = _agreement(platform)
    with platform.db.session() as s:
        token = create_token(s, Actor.system(), ANALYST)
    return Catalog(open_rid, restricted_rid, reference, token, rows, size)

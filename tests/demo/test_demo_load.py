"""load_demo through the real catalog service, on SQLite and PostgreSQL."""

import hashlib
import time

from sqlalchemy import func, select

from citydata.catalog.users import authenticate
from citydata.demo import load_demo
from citydata.storage.migrate import upgrade
from citydata.storage.models import (
    Dataset,
    Membership,
    Organization,
    Resource,
    ResourceVersion,
    User,
)


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_load_demo_twice(platform, monkeypatch):
    monkeypatch.setenv("CITYDATA_DEMO_PASSWORD", "demo-pass-123")
    upgrade(platform.db)
    first = load_demo(platform)
    assert first["datasets"] >= 300
    assert first["organizations"] >= 40
    assert first["users"] == 4  # admin, Camden's editor and data owner, Hackney's analyst
    with platform.db.session() as s:
        assert _count(s, Dataset) == first["datasets"]
        assert _count(s, Organization) == first["organizations"]
        assert _count(s, Resource) == first["resources"]
        # Generated files went through the file store: versioned and hashed.
        boundary = s.scalar(select(Dataset).where(Dataset.name == "camden-boundary"))
        (resource,) = boundary.resources
        (version,) = resource.versions
        assert version.format == "GeoJSON"
        with platform.files.open(version.sha256) as fh:
            content = fh.read()
        assert hashlib.sha256(content).hexdigest() == version.sha256
        assert b'"E09000007"' in content
        assert _count(s, ResourceVersion) > 33 * 4

        admin = authenticate(s, "admin", "demo-pass-123")
        assert admin is not None and admin.sysadmin
        editor = s.scalar(select(User).where(User.name == "camden-editor"))
        camden = s.scalar(select(Organization).where(Organization.name == "camden-council"))
        assert s.get(Membership, (camden.id, editor.id)).role == "editor"
        owner = s.scalar(select(User).where(User.name == "camden-owner"))
        assert s.get(Membership, (camden.id, owner.id)).role == "admin"
        # The governed-sharing walkthrough's restricted dataset has a real table behind it.
        care = s.scalar(select(Dataset).where(Dataset.name == "camden-adult-social-care-packages"))
        assert (care.access_level, care.restriction_reason, care.discovery) == (
            "restricted", "special-category-data", "sample")
        tables = [v for r in care.resources for v in r.versions if v.ingest_status == "ok"]
        assert len(tables) == 1 and tables[0].row_count == 720
    # The council service directory follows its standard, so "Find my council" can use it.
    with platform.db.session() as s:
        directory = s.scalar(select(Dataset).where(Dataset.name == "london-council-services"))
        (resource,) = directory.resources
        assert directory.conforms_to == "council-services@1.0.0"
        assert [v.ingest_status for v in resource.versions] == ["ok"]
        assert resource.versions[0].row_count == 33 * 9
    # The register shows agreements in each state a Londoner would meet.
    assert first["agreements"] == 4
    with platform.db.session() as s:
        from citydata.access.agreements import effective_status
        from citydata.storage.models_access import Agreement

        states = sorted(effective_status(a) for a in s.scalars(select(Agreement)))
    assert states == ["active", "active", "expired", "revoked"]

    started = time.perf_counter()
    second = load_demo(platform)
    elapsed = time.perf_counter() - started
    assert {k: second[k] for k in ("organizations", "users", "datasets", "resources",
                                   "agreements")} == {
        "organizations": 0,
        "users": 0,
        "datasets": 0,
        "resources": 0,
        "agreements": 0,
    }
    forced = load_demo(platform, force=True)
    assert forced["datasets"] == 0
    with platform.db.session() as s:
        assert _count(s, Dataset) == first["datasets"]
    print(f"second run {elapsed:.2f}s")  # shown with -s; timings are not asserted

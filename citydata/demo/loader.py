"""Load the demo catalog through the catalog service, idempotently.

A run compares the spec's fingerprint with the one stored in ``RefMeta`` and stops at once
when they match. Otherwise it creates what is missing — organisations, users and datasets
are matched by name, so existing ones (and any edits made to them) are left alone — and
records the fingerprint last, so an interrupted run simply continues next time.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from citydata.access.actors import Actor
from citydata.catalog.context import Ctx
from citydata.catalog.datasets import create_dataset
from citydata.catalog.organizations import add_member, create_organization
from citydata.catalog.resources import create_resource
from citydata.catalog.users import create_user
from citydata.demo import files
from citydata.demo.governance import load_agreements
from citydata.demo.spec import DatasetSpec, DemoSpec, build_spec, spec_hash
from citydata.geo.reference import load_reference
from citydata.storage.models import Dataset, Organization, RefMeta, User

META_KEY = "demo:spec"
DEFAULT_PASSWORD = "citydata-demo"

Progress = Callable[[str], None]


def demo_password() -> str:
    """The demo users' password: ``CITYDATA_DEMO_PASSWORD`` or ``citydata-demo``."""
    return os.environ.get("CITYDATA_DEMO_PASSWORD") or DEFAULT_PASSWORD


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def _organizations(platform: Any, spec: DemoSpec) -> int:
    actor = Actor.system()
    with platform.db.session() as session:
        existing = set(session.scalars(select(Organization.name)))
        created = 0
        for pub in spec.publishers:
            if pub.name not in existing:
                create_organization(session, actor, pub.as_org())
                created += 1
    return created


def _users(platform: Any, spec: DemoSpec) -> int:
    actor = Actor.system()
    created = 0
    with platform.db.session() as session:
        existing = set(session.scalars(select(User.name)))
        for user in spec.users:
            if user["name"] not in existing:
                create_user(
                    session,
                    user["name"],
                    user["email"],
                    demo_password(),
                    sysadmin=user["sysadmin"],
                    fullname=user["fullname"],
                )
                created += 1
            for org_name, role in user["memberships"]:
                add_member(session, actor, org_name, user["name"], role)
    return created


def _dataset(platform: Any, ref: files.ReferenceData, item: DatasetSpec, tmp: Path) -> int:
    """Create one dataset with its generated files in one transaction; returns resources."""
    settings = platform.settings
    with platform.db.session() as session:
        ctx = Ctx(session, Actor.system(), settings, platform.files)
        created = create_dataset(ctx, item.package)
        for generated in item.files:
            path = files.write(ref, generated, tmp)
            with path.open("rb") as fh:
                staged = platform.files.stage(
                    fh, max_bytes=settings.max_upload_bytes, filename=generated.filename
                )
            path.unlink()
            create_resource(
                ctx,
                {
                    "package_id": created["id"],
                    "name": generated.name,
                    "description": generated.description,
                },
                upload=staged,
            )
    return len(item.package.get("resources", [])) + len(item.files)


def load_demo(
    platform: Any,
    *,
    progress: Progress | None = None,
    reference: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Load the London demo catalog (and, unless ``reference=False``, the reference data).

    Idempotent: a second run adds nothing and returns quickly. ``force`` re-checks every
    organisation, user and dataset even when the spec is unchanged (e.g. to restore a
    deleted demo dataset). Returns counts of what was added.
    """
    settings = platform.settings
    counts: dict[str, Any] = {}
    if reference:
        loaded = load_reference(platform.db, settings, progress=progress)
        counts.update({f"reference_{k}": v for k, v in loaded.items() if k != "skipped"})
    spec = build_spec(settings)
    digest = spec_hash(spec)
    with platform.db.session() as session:
        meta = session.get(RefMeta, META_KEY)
        up_to_date = meta is not None and meta.value == digest
    if up_to_date and not force:
        _say(progress, "demo catalog: up to date")
        return {**counts, "organizations": 0, "users": 0, "datasets": 0, "resources": 0,
                "agreements": 0}

    counts["organizations"] = _organizations(platform, spec)
    counts["users"] = _users(platform, spec)
    with platform.db.session() as session:
        existing = set(session.scalars(select(Dataset.name)))
    todo = [d for d in spec.datasets if d.name not in existing]
    ref = files.ReferenceData(settings)
    resources = 0
    with tempfile.TemporaryDirectory(prefix="citydata-demo-") as tmp:
        for done, item in enumerate(todo, start=1):
            resources += _dataset(platform, ref, item, Path(tmp))
            if done % 50 == 0 or done == len(todo):
                _say(progress, f"demo catalog: {done}/{len(todo)} datasets")
    counts["datasets"] = len(todo)
    counts["resources"] = resources
    counts["agreements"] = load_agreements(platform)
    with platform.db.session() as session:
        session.merge(RefMeta(key=META_KEY, value=digest))
    return counts

"""A small governed catalog: Camden publishes data at every access level, Hackney asks for it.

People: camden-owner (Camden admin: a data owner), camden-editor, hackney-analyst and
hackney-colleague (Hackney members), tfl-member (another publisher), outsider (signed in, no
organisation), root (sysadmin). Every tabular dataset holds the same small care-packages table,
so what each reader gets back can be compared exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from citydata.access.actors import Actor

HEADER = ["package_ref", "ward", "age_band", "support_type", "weekly_hours", "weekly_cost"]
WARDS = ["E05013652", "E05013653", "E05013654"]
SUPPORT = ["Home care", "Day care", "Residential"]


def care_rows() -> list[list[Any]]:
    """60 rows: ward A has 30, B 20, C 10; support types unevenly spread."""
    rows = []
    n = 0
    for ward, count in zip(WARDS, (30, 20, 10), strict=True):
        for i in range(count):
            n += 1
            support = SUPPORT[0] if i % 3 else SUPPORT[(i // 3) % 3]
            rows.append([f"ASC-{n:04d}", ward, ("18-64", "65-74", "85+")[i % 3], support,
                         5 + i % 20, round(100 + i * 7.5, 2)])
    return rows


LEVELS = ("open", "registered", "shared", "restricted", "private")
PASSWORD = "a-long-password"


@dataclass
class Governed:
    make_ctx: Callable[..., Any]
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)

    def resource(self, level: str) -> str:
        return str(self.datasets[level]["resources"][0]["id"])

    def name(self, level: str) -> str:
        return str(self.datasets[level]["name"])

    @contextmanager
    def as_user(self, name: str | None, **declared: str):  # type: ignore[no-untyped-def]
        """A committed catalog context acting as ``name`` (None: anonymous)."""
        from citydata.catalog.users import actor_for_user, get_user

        with self.make_ctx() as ctx:
            actor = Actor.anonymous()
            if name is not None:
                actor = actor_for_user(ctx.session, get_user(ctx.session, name))
            yield ctx.with_actor(actor.declaring(**declared))

    def request(self, user: str = "hackney-analyst", level: str = "restricted",
                **overrides: Any) -> str:
        """An access request (submitted); returns its reference."""
        from citydata.access import agreements

        data = {"datasets": [self.name(level)], "purpose": "service-planning",
                "purpose_detail": "Planning adult social care across borough boundaries.",
                "lawful_basis": "art6-1-e", "dpia_reference": "HAC-DPIA-042",
                "duration_days": 90, "actions": ["read"], **overrides}
        with self.as_user(user) as ctx:
            return agreements.create(ctx, data).reference

    def approve(self, ref: str, **conditions: Any) -> None:
        from citydata.access import agreements

        with self.as_user("camden-owner") as ctx:
            agreements.approve(ctx, ref, conditions)

    def grant(self, user: str = "hackney-analyst", level: str = "restricted",
              conditions: dict[str, Any] | None = None, **request: Any) -> str:
        ref = self.request(user, level, **request)
        self.approve(ref, **(conditions or {}))
        return ref


@pytest.fixture
def governed(make_ctx, tmp_path: Path) -> Governed:  # type: ignore[no-untyped-def]
    from citydata.catalog import organizations, users
    from citydata.catalog.publish import publish_file

    path = tmp_path / "care-packages.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(care_rows())
    g = Governed(make_ctx)
    with make_ctx() as ctx:
        system = Actor.system()
        for name, title in (("camden", "London Borough of Camden"),
                            ("hackney", "London Borough of Hackney"),
                            ("tfl", "Transport for London")):
            organizations.create_organization(ctx.session, system,
                                              {"name": name, "title": title, "kind": "borough"})
        people = {"camden-owner": ("camden", "admin"), "camden-editor": ("camden", "editor"),
                  "hackney-analyst": ("hackney", "member"),
                  "hackney-colleague": ("hackney", "member"), "tfl-member": ("tfl", "member"),
                  "outsider": None, "root": None}
        for name, membership in people.items():
            user = users.create_user(ctx.session, name, f"{name}@example.org", PASSWORD,
                                     sysadmin=name == "root")
            g.users[name] = user.id
            if membership:
                organizations.add_member(ctx.session, system, membership[0], name, membership[1])
            g.tokens[name] = users.create_token(ctx.session, system, name, name="tests")
        for level in LEVELS:
            meta: dict[str, Any] = {"access_level": level}
            if level in ("shared", "restricted"):
                meta.update(restriction_reason="personal-data", discovery="schema")
            ds, _ = publish_file(ctx, path, org="camden", title=f"Care packages ({level})",
                                 dataset_name=f"care-{level}", metadata=meta)
            g.datasets[level] = ds
    return g

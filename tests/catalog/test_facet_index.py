"""The in-memory facet index always agrees with the database, however the catalog changes."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from citydata.access.actors import Actor
from citydata.access.policy import visible_datasets_clause
from citydata.catalog import datasets, facet_index, organizations, users
from citydata.catalog.search import search_datasets
from citydata.storage.models import Dataset, DatasetTag

LEVELS = ["open", "registered", "shared", "restricted", "private"]
TAGS = ["parking", "trees", "air", "bus", "crime", "housing"]


@pytest.fixture
def actors(make_ctx):
    with make_ctx() as ctx:
        for org in ("camden", "hackney", "tfl"):
            organizations.create_organization(ctx.session, ctx.actor, {"name": org})
        member = users.create_user(ctx.session, "member", "m@example.org", "member-pass-1")
        organizations.add_member(ctx.session, ctx.actor, "hackney", "member", "member")
        return {
            "anonymous": Actor.anonymous(),
            "member": users.actor_for_user(ctx.session, member),
            "sysadmin": Actor.system(),
        }


def sql_truth(session, actor, tag=None, include_private=True):
    cond = visible_datasets_clause(actor, include_private=include_private)
    stmt = select(Dataset.id).where(cond)
    if tag:
        stmt = stmt.where(
            Dataset.id.in_(select(DatasetTag.dataset_id).where(DatasetTag.tag == tag))
        )
    ids = set(session.scalars(stmt))
    tags = dict(
        session.execute(
            select(DatasetTag.tag, func.count())
            .where(DatasetTag.dataset_id.in_(ids))
            .group_by(DatasetTag.tag)
        ).all()
    )
    return ids, tags


def check_agreement(make_ctx, actors):
    for actor in actors.values():
        for include_private in (True, False):
            for tag in (None, "parking"):
                with make_ctx(actor) as ctx:
                    ids, tags = sql_truth(ctx.session, actor, tag, include_private)
                    found = search_datasets(
                        ctx.session,
                        actor,
                        fq=f"tags:{tag}" if tag else "",
                        rows=1000,
                        facet_fields=["tags"],
                        facet_limit=100,
                        include_private=include_private,
                    )
                assert set(found["ids"]) == ids and found["count"] == len(ids)
                assert dict(found["facets"]["tags"]) == tags


def test_index_follows_creates_updates_and_deletes(make_ctx, actors):
    rnd = random.Random(7)
    names = []
    for step in range(60):
        with make_ctx() as ctx:
            action = rnd.random()
            if action < 0.6 or len(names) < 5:
                name = f"ds-{step}"
                level = rnd.choice(LEVELS)
                datasets.create_dataset(
                    ctx,
                    {
                        "name": name,
                        "owner_org": rnd.choice(["camden", "hackney", "tfl"]),
                        "access_level": level,
                        "restriction_reason": "personal-data" if level == "restricted" else "",
                        "tags": [{"name": t} for t in rnd.sample(TAGS, rnd.randint(0, 3))],
                    },
                )
                names.append(name)
            elif action < 0.85:
                datasets.update_dataset(
                    ctx,
                    rnd.choice(names),
                    {
                        "access_level": rnd.choice(LEVELS),
                        "restriction_reason": "security",
                        "tags": [{"name": t} for t in rnd.sample(TAGS, rnd.randint(0, 3))],
                    },
                    partial=True,
                )
            else:
                victim = names.pop(rnd.randrange(len(names)))
                datasets.delete_dataset(ctx, victim)
        if step % 10 == 9:
            check_agreement(make_ctx, actors)


def test_refresh_is_incremental_and_rebuild_gives_the_same(make_ctx, actors, platform):
    with make_ctx() as ctx:
        for i in range(20):
            datasets.create_dataset(
                ctx, {"name": f"d{i}", "owner_org": "tfl", "tags": [{"name": "bus"}]}
            )
    with make_ctx() as ctx:
        index = facet_index.for_session(ctx.session)
        first = index.current()
        datasets.update_dataset(ctx, "d3", {"tags": [{"name": "trees"}]}, partial=True)
    second = index.current()
    assert second is not first and second.size == first.size  # patched, not re-appended
    rebuilt = facet_index.FacetIndex(platform.db.engine).current()
    with make_ctx() as ctx:
        found = search_datasets(ctx.session, Actor.anonymous(), facet_fields=["tags"])
    assert dict(found["facets"]["tags"]) == {"bus": 19, "trees": 1}
    assert rebuilt.seq == second.seq
    assert sorted(rebuilt.ids) == sorted(second.ids)


def test_uncommitted_changes_never_reach_the_index(make_ctx, actors):
    with make_ctx() as ctx:
        datasets.create_dataset(ctx, {"name": "kept", "owner_org": "tfl"})
    with pytest.raises(RuntimeError), make_ctx() as ctx:
        datasets.create_dataset(ctx, {"name": "rolled-back", "owner_org": "tfl"})
        search_datasets(ctx.session, Actor.anonymous())  # refreshes mid-transaction
        raise RuntimeError("abort")
    with make_ctx() as ctx:
        found = search_datasets(ctx.session, Actor.anonymous(), rows=100)
        names = {ctx.session.get(Dataset, i).name for i in found["ids"]}
    assert names == {"kept"}

"""Full-text ranking, filters and facets on both backends; facets never leak private data."""

from __future__ import annotations

import pytest

from citydata.access.actors import Actor
from citydata.catalog import datasets, organizations
from citydata.catalog.search import parse_filters, search_datasets
from citydata.errors import QueryError


@pytest.fixture
def catalog(make_ctx):
    with make_ctx() as ctx:
        for name, title in (
            ("camden", "London Borough of Camden"),
            ("tfl", "Transport for London"),
        ):
            organizations.create_organization(
                ctx.session, ctx.actor, {"name": name, "title": title}
            )
        rows = [
            (
                "air-quality-camden",
                "Air quality monitoring",
                "Nitrogen dioxide readings",
                ["air-quality", "pollution"],
                "camden",
                ["ENVI"],
                ["E09000007"],
                "open",
            ),
            (
                "bus-stops",
                "Bus stops",
                "Every bus stop with its location",
                ["bus", "transport"],
                "tfl",
                ["TRAN"],
                [],
                "open",
            ),
            (
                "cycle-hire",
                "Cycle hire docks",
                "Santander cycles docking stations and air pumps",
                ["cycling", "transport"],
                "tfl",
                ["TRAN"],
                ["E09000007", "E09000033"],
                "registered",
            ),
            (
                "care-records",
                "Adult social care records",
                "Personal data about air quality?",
                ["social-care"],
                "camden",
                ["HEAL"],
                ["E09000007"],
                "private",
            ),
        ]
        for name, title, notes, tags, org, themes, boroughs, level in rows:
            datasets.create_dataset(
                ctx,
                {
                    "name": name,
                    "title": title,
                    "notes": notes,
                    "owner_org": org,
                    "tags": [{"name": t} for t in tags],
                    "themes": themes,
                    "boroughs": boroughs,
                    "access_level": level,
                },
            )
    return make_ctx


def names(ctx, **kw):
    found = search_datasets(ctx.session, ctx.actor, **kw)
    from citydata.storage.models import Dataset

    return [ctx.session.get(Dataset, i).name for i in found["ids"]], found


def test_title_match_outranks_description_match(catalog):
    with catalog(Actor.anonymous()) as ctx:
        order, found = names(ctx, q="air")
    assert order == ["air-quality-camden", "cycle-hire"]
    assert found["count"] == 2


def test_stemming_and_all_terms(catalog):
    with catalog(Actor.anonymous()) as ctx:
        assert names(ctx, q="docking station")[0] == ["cycle-hire"]
        assert names(ctx, q="bus quality")[0] == []


def test_filters(catalog):
    with catalog(Actor.anonymous()) as ctx:
        assert names(ctx, fq="organization:tfl", sort="name asc")[0] == ["bus-stops", "cycle-hire"]
        assert names(ctx, fq="tags:transport -tags:bus")[0] == ["cycle-hire"]
        assert names(ctx, fq="borough:E09000033")[0] == ["cycle-hire"]
        assert names(ctx, fq="theme:(TRAN OR ENVI)", sort="name desc")[0] == [
            "cycle-hire",
            "bus-stops",
            "air-quality-camden",
        ]
        assert names(ctx, q="tags:cycling")[0] == ["cycle-hire"]
        assert names(ctx, fq="access_level:registered")[0] == ["cycle-hire"]
        assert names(ctx, fq="metadata_modified:[2000-01-01T00:00:00Z TO *]")[1]["count"] == 3


def test_facets_respect_visibility(catalog):
    facets = ["organization", "tags", "theme", "borough", "access_level", "license_id"]
    with catalog(Actor.anonymous()) as ctx:
        _, anon = names(ctx, facet_fields=facets, include_private=True)
    assert anon["count"] == 3
    assert dict(anon["facets"]["organization"]) == {"tfl": 2, "camden": 1}
    assert "social-care" not in dict(anon["facets"]["tags"])
    assert dict(anon["facets"]["borough"])["E09000007"] == 2
    assert "private" not in dict(anon["facets"]["access_level"])
    with catalog() as ctx:  # sysadmin sees everything when asking for private
        _, full = names(ctx, facet_fields=facets, include_private=True)
    assert full["count"] == 4
    assert dict(full["facets"]["borough"])["E09000007"] == 3
    assert dict(full["facets"]["access_level"])["private"] == 1


def test_member_sees_own_private(catalog, make_ctx):
    from citydata.catalog.users import actor_for_user, create_user

    with make_ctx() as ctx:
        user = create_user(ctx.session, "carer", "c@example.org", "carer-pass-1")
        organizations.add_member(ctx.session, ctx.actor, "camden", "carer", "member")
        actor = actor_for_user(ctx.session, user)
    with catalog(actor) as ctx:
        assert "care-records" in names(ctx, include_private=True)[0]
        assert "care-records" not in names(ctx, include_private=False)[0]


def test_paging_is_stable(catalog):
    with catalog(Actor.anonymous()) as ctx:
        first = names(ctx, rows=2, start=0, sort="name asc")[0]
        second = names(ctx, rows=2, start=2, sort="name asc")[0]
    assert first + second == ["air-quality-camden", "bus-stops", "cycle-hire"]


def test_hostile_queries_are_safe(catalog):
    with catalog(Actor.anonymous()) as ctx:
        for q in ['"', "AND OR NOT", "air*", "NEAR(a b)", "'; drop table datasets; --", "(", "é"]:
            names(ctx, q=q)  # no error, no crash
        with pytest.raises(QueryError):
            names(ctx, fq="colour:red")
        with pytest.raises(QueryError):
            names(ctx, sort="name; drop")


def test_parse_filters():
    filters, rest = parse_filters(
        'organization:camden -tags:"air quality" theme:(TRAN OR ENVI) hello'
    )
    assert rest == "hello"
    assert [(f.field, f.values, f.negate) for f in filters] == [
        ("organization", ["camden"], False),
        ("tags", ["air quality"], True),
        ("theme", ["TRAN", "ENVI"], False),
    ]


def test_spatial_search_with_ext_bbox(make_ctx, client):
    """ckanext-spatial's ``ext_bbox``: datasets whose coverage meets the box, on both backends."""
    from citydata.access.actors import Actor
    from citydata.catalog import datasets, organizations

    with make_ctx() as ctx:
        organizations.create_organization(ctx.session, Actor.system(),
                                          {"name": "gla", "title": "GLA"})
        for name, bbox in (("camden-trees", [-0.2135, 51.5128, -0.1053, 51.5729]),
                           ("greenwich-trees", [-0.0249, 51.4199, 0.1387, 51.5067]),
                           ("london-trees", [-0.5103, 51.2868, 0.3340, 51.6919]),
                           ("trees-nowhere", None)):
            datasets.create_dataset(ctx, {"name": name, "owner_org": "gla", "bbox": bbox,
                                          "tags": [{"name": "trees"}]})
    def names(**params):  # type: ignore[no-untyped-def]
        r = client.get("/api/3/action/package_search", params={"rows": 10, **params})
        assert r.status_code == 200, r.text
        return sorted(d["name"] for d in r.json()["result"]["results"])

    kentish_town = "-0.15,51.54,-0.13,51.56"
    assert names(ext_bbox=kentish_town) == ["camden-trees", "london-trees"]
    assert names(ext_bbox="0.0,51.45,0.01,51.46", q="trees") == ["greenwich-trees",
                                                                 "london-trees"]
    assert names(ext_bbox="2.3,48.8,2.4,48.9") == []  # Paris
    assert len(names()) == 4
    r = client.get("/api/3/action/package_search",
                   params={"ext_bbox": kentish_town, "facet.field": '["tags"]'})
    assert r.json()["result"]["facets"]["tags"] == {"trees": 2}  # facets follow the filter
    for bad in ("1,2,3", "a,b,c,d", "0.1,51,-0.1,52", "0,95,1,96", "nan,0,1,1"):
        r = client.get("/api/3/action/package_search", params={"ext_bbox": bad})
        assert r.status_code == 400 and "ext_bbox" in r.json()["error"]["message"], bad

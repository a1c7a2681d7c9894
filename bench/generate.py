"""Generate a deterministic London catalog in memory (plain row tuples, no ORM objects).

Rows are built for the real tables (``organizations``, ``datasets``, ``dataset_tags``,
``dataset_themes``, ``dataset_boroughs``, ``resources``, ``dataset_search``) so the loaders in
:mod:`bench.load` can bulk-insert them. The ``dataset_search`` document is built exactly as
:func:`citydata.catalog.search.index_dataset` builds it; :func:`bench.load.verify_index` checks
that on a sample after loading, so a change to the indexer cannot silently skew the benchmark.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench import vocabulary as v

#: Bump when the generated rows change, so cached SQLite catalogs are rebuilt.
GENERATOR_VERSION = 1

ORG_COLS = ("id", "name", "title", "description", "kind", "gss_code", "url", "email", "state",
            "created", "modified")
DATASET_COLS = ("id", "name", "title", "notes", "owner_org", "license_id", "access_level", "url",
                "version", "author", "author_email", "maintainer", "maintainer_email",
                "contact_name", "contact_email", "frequency", "temporal_start", "temporal_end",
                "bbox_west", "bbox_south", "bbox_east", "bbox_north", "extras", "state",
                "creator_user_id", "created", "modified")
RESOURCE_COLS = ("id", "dataset_id", "position", "name", "description", "format", "mimetype",
                 "url", "url_type", "current_version", "created", "modified")
SEARCH_COLS = ("dataset_id", "name", "title", "notes", "tags", "organization")


@dataclass
class Catalog:
    """Rows per table, in the column order of the ``*_COLS`` tuples above."""

    organizations: list[tuple] = field(default_factory=list)
    datasets: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)
    themes: list[tuple] = field(default_factory=list)
    boroughs: list[tuple] = field(default_factory=list)
    resources: list[tuple] = field(default_factory=list)
    search: list[tuple] = field(default_factory=list)
    #: names of active, non-private datasets (what an anonymous package_show may fetch)
    public_names: list[str] = field(default_factory=list)

    def tables(self) -> list[tuple[str, tuple[str, ...], list[tuple]]]:
        """(table, columns, rows) in foreign-key order."""
        return [
            ("organizations", ORG_COLS, self.organizations),
            ("datasets", DATASET_COLS, self.datasets),
            ("dataset_tags", ("dataset_id", "tag"), self.tags),
            ("dataset_themes", ("dataset_id", "theme"), self.themes),
            ("dataset_boroughs", ("dataset_id", "gss_code"), self.boroughs),
            ("resources", RESOURCE_COLS, self.resources),
            ("dataset_search", SEARCH_COLS, self.search),
        ]


def slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _council_title(name: str) -> str:
    if name == "City of London":
        return "City of London Corporation"
    if name == "Westminster":
        return "Westminster City Council"
    if name in ("Greenwich", "Kensington and Chelsea", "Kingston upon Thames"):
        return f"Royal Borough of {name}"
    return f"London Borough of {name}"


def _organizations(rng: random.Random, epoch: datetime) -> list[dict[str, Any]]:
    orgs: list[dict[str, Any]] = []
    for gss, borough in v.BOROUGHS.items():
        orgs.append({"name": slug(borough), "title": _council_title(borough), "kind": "borough",
                     "gss_code": gss, "place": borough})
    for name, title, kind in v.OTHER_PUBLISHERS:
        orgs.append({"name": name, "title": title, "kind": kind, "gss_code": None,
                     "place": None})
    for org in orgs:
        org["id"] = _uuid(rng)
        org["row"] = (org["id"], org["name"], org["title"], f"Open data from {org['title']}.",
                      org["kind"], org["gss_code"], f"https://{org['name']}.example.org",
                      f"data@{org['name']}.example.org", "active", epoch, epoch)
    return orgs


def generate(count: int, seed: int = 20240601) -> Catalog:
    """``count`` datasets from ``seed``; the same arguments always give the same rows."""
    rng = random.Random(seed)
    epoch = datetime(2012, 1, 1)
    span_days = (datetime(2025, 12, 31) - epoch).days
    cat = Catalog()
    orgs = _organizations(rng, epoch)
    cat.organizations = [o["row"] for o in orgs]
    by_topic = [[o for o in orgs if o["kind"] in t.kinds] for t in v.TOPICS]
    topic_weights = [1 / (rank + 1) ** 0.8 for rank in range(len(v.TOPICS))]
    formats, format_w = zip(*v.FORMATS, strict=True)
    licences, licence_w = zip(*v.LICENSES, strict=True)
    levels, level_w = zip(*v.ACCESS, strict=True)
    gss_codes = list(v.BOROUGHS)
    places = ["London", "Greater London", "Inner London", "Outer London"]
    for i in range(count):
        ti = rng.choices(range(len(v.TOPICS)), topic_weights)[0]
        topic = v.TOPICS[ti]
        org = rng.choice(by_topic[ti])
        place = org["place"] or rng.choice(places + list(v.BOROUGHS.values())[:8])
        year = rng.randint(2010, 2025)
        title = f"{place} {topic.phrase} {rng.choice(v.QUALIFIERS)} {year}"
        name = f"{slug(title)[:88]}-{i:06d}"
        lic = rng.choices(licences, licence_w)[0]
        freq = rng.choice(v.FREQUENCIES)
        w1, w2, w3 = rng.sample(topic.words, 3) if len(topic.words) >= 3 else (topic.words * 3)[:3]
        fill = {"org": org["title"], "lic": lic, "place": place, "freq": freq,
                "phrase": topic.phrase, "w1": w1, "w2": w2, "w3": w3}
        notes = " ".join(s.format(**fill) for s in rng.sample(v.SENTENCES, rng.randint(3, 5)))
        tags = sorted(set(rng.sample(topic.tags, rng.randint(2, len(topic.tags)))
                          + rng.sample(v.GENERIC_TAGS, rng.randint(0, 2))))
        themes = sorted(set(topic.themes[: rng.randint(1, len(topic.themes))]))
        if org["gss_code"]:
            boroughs = [org["gss_code"]]
        else:
            boroughs = sorted(rng.sample(gss_codes, rng.choice([0, 0, 1, 2, 3])))
        created = epoch + timedelta(days=rng.randrange(span_days), seconds=rng.randrange(86400))
        modified = created + timedelta(days=rng.randrange(400), seconds=rng.randrange(86400))
        level = rng.choices(levels, level_w)[0]
        state = "deleted" if rng.random() < 0.01 else "active"
        bbox: tuple[float | None, ...] = (None,) * 4
        if rng.random() < 0.4:
            w, s = -0.5 + rng.random() * 0.6, 51.3 + rng.random() * 0.3
            bbox = (round(w, 4), round(s, 4), round(w + 0.1, 4), round(s + 0.08, 4))
        ds_id = _uuid(rng)
        cat.datasets.append((
            ds_id, name, title, notes, org["id"], lic, level, "", str(year), org["title"],
            f"data@{org['name']}.example.org", "Open Data Team", "", "", "", freq,
            f"{year}-01-01", f"{year}-12-31", *bbox, "[]", state, None, created, modified,
        ))
        cat.tags.extend((ds_id, t) for t in tags)
        cat.themes.extend((ds_id, t) for t in themes)
        cat.boroughs.extend((ds_id, g) for g in boroughs)
        for pos in range(rng.choices([1, 2, 3, 4], [45, 30, 15, 10])[0]):
            fmt = rng.choices(formats, format_w)[0]
            cat.resources.append((
                _uuid(rng), ds_id, pos, f"{title} ({fmt})", "", fmt,
                v.MIMETYPES.get(fmt, ""), f"https://{org['name']}.example.org/{name}/{pos}",
                "", 0, created, modified,
            ))
        if state == "active":
            # The document citydata.catalog.search.index_dataset writes for this dataset.
            cat.search.append((ds_id, name.replace("-", " ").replace("_", " "), title, notes,
                               " ".join(tags), f"{org['title']} {org['name']}"))
            if level != "private":
                cat.public_names.append(name)
    return cat

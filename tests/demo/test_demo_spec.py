"""The demo catalog as data: size, names, vocabularies and determinism."""

import re
from collections import Counter

from citydata.catalog.licenses import get_license
from citydata.catalog.organizations import ORG_KINDS
from citydata.catalog.themes import FREQUENCIES, THEMES
from citydata.demo.spec import build_spec, spec_hash
from citydata.geo.london import BOROUGHS

NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
TAG = re.compile(r"^[\w \-.]{1,100}$")
ACCESS = {"open", "registered", "shared", "restricted", "private"}


def test_size_and_publishers(spec):
    assert len(spec.datasets) >= 300
    assert len(spec.publishers) >= 40
    kinds = Counter(p.kind for p in spec.publishers)
    assert kinds["borough"] == 33
    assert {
        "gla",
        "transport",
        "utility",
        "emergency",
        "health",
        "development",
        "environment",
        "heritage",
        "private",
    } <= set(kinds)
    assert set(kinds) <= set(ORG_KINDS)
    assert {p.gss_code for p in spec.publishers if p.kind == "borough"} == set(BOROUGHS)
    owners = Counter(d.package["owner_org"] for d in spec.datasets)
    assert set(owners) == {p.name for p in spec.publishers}  # everyone publishes something


def test_names_are_valid_and_unique(spec):
    names = [d.name for d in spec.datasets] + [p.name for p in spec.publishers]
    assert all(NAME.match(n) for n in names)
    assert len({d.name for d in spec.datasets}) == len(spec.datasets)
    assert len({p.name for p in spec.publishers}) == len(spec.publishers)


def test_metadata_uses_the_vocabularies(spec):
    for d in spec.datasets:
        p = d.package
        assert p["title"] and "lorem" not in p["notes"].lower()
        assert p["access_level"] in ACCESS
        assert get_license(p["license_id"]) is not None
        assert (p["license_id"] == "other-closed") == (p["access_level"] != "open")
        assert p["themes"] and set(p["themes"]) <= set(THEMES)
        assert p["frequency"] in FREQUENCIES
        assert all(TAG.match(t["name"]) for t in p["tags"])
        assert p["boroughs"] and set(p["boroughs"]) <= set(BOROUGHS)
        w, s, e, n = p["bbox"]
        assert -0.52 < w < e < 0.34 and 51.28 < s < n < 51.70
        assert p["temporal_start"] and (
            not p["temporal_end"] or p["temporal_start"] <= p["temporal_end"]
        )
        assert "@" in p["contact_email"] and p["contact_name"]
        assert p["resources"] or d.files  # every dataset has something to download or link
    levels = Counter(d.package["access_level"] for d in spec.datasets)
    assert set(levels) == ACCESS
    assert levels["open"] > len(spec.datasets) * 0.7  # mostly open


def test_every_borough_has_its_reference_datasets(spec):
    by_name = {d.name: d for d in spec.datasets}
    for gss, borough in BOROUGHS.items():
        place = borough.lower().replace(" ", "-")
        boundary = by_name[f"{place}-boundary"]
        assert boundary.package["boroughs"] == [gss]
        assert [f.generator for f in boundary.files] == ["borough_boundary"]
        assert f"{place}-lsoas" in by_name and f"{place}-postcodes-by-ward" in by_name


def test_deterministic(spec, reference_settings):
    again = build_spec(reference_settings)
    assert [d.package for d in again.datasets] == [d.package for d in spec.datasets]
    assert spec_hash(again) == spec_hash(spec)

"""The demo catalog as data: publishers, users and dataset specs, built deterministically.

Nothing here touches the database: ``build_spec`` returns plain dicts (the inputs of the
catalog service) plus the list of files to generate, and ``spec_hash`` fingerprints it so
an unchanged demo is skipped in one query.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from citydata.demo.borough_templates import REFERENCE_TEMPLATES, SERVICE_TEMPLATES
from citydata.demo.city_templates import CITY_TEMPLATES
from citydata.demo.publishers import COUNCILS, Publisher, borough_org_name, publishers, slug
from citydata.demo.templates import RESTRICTIONS, Template
from citydata.geo.london import BOROUGHS
from citydata.geo.reference import read_boroughs
from citydata.settings import Settings

#: Bump to make existing installations re-check the demo (new datasets are added).
DEMO_VERSION = "3"
SEED = "citydata-demo-1"
#: The showcase borough publishes every service template (its editor is a demo user).
SHOWCASE_BOROUGH = "E09000007"
#: The borough whose analyst asks the showcase borough for restricted data in the demo.
ANALYST_BOROUGH = "E09000012"

#: Publishers that cover part of London; the rest cover all 33 districts.
AREAS: dict[str, tuple[str, ...]] = {
    "metropolitan-police-service": tuple(g for g in BOROUGHS if g != "E09000001"),
    "nhs-north-central-london-icb": (
        "E09000003",
        "E09000007",
        "E09000010",
        "E09000014",
        "E09000019",
    ),
    "london-legacy-development-corporation": ("E09000012", "E09000025", "E09000030", "E09000031"),
    "old-oak-and-park-royal-development-corporation": ("E09000005", "E09000009", "E09000013"),
    "royal-parks": ("E09000007", "E09000011", "E09000020", "E09000027", "E09000033"),
    "canal-and-river-trust": (
        "E09000005",
        "E09000007",
        "E09000009",
        "E09000010",
        "E09000012",
        "E09000013",
        "E09000017",
        "E09000019",
        "E09000025",
        "E09000030",
        "E09000031",
        "E09000033",
    ),
}


@dataclass(frozen=True)
class GeneratedFile:
    """A resource file built from the reference data (see ``citydata.demo.files``)."""

    generator: str
    gss_code: str | None
    filename: str
    name: str
    description: str


@dataclass
class DatasetSpec:
    """``package`` is the ``create_dataset`` input (linked resources included);
    ``files`` are uploaded after it, in order."""

    package: dict[str, Any]
    files: list[GeneratedFile] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.package["name"])


@dataclass
class DemoSpec:
    publishers: list[Publisher]
    users: list[dict[str, Any]]
    datasets: list[DatasetSpec]


#: Demo users; the password comes from ``CITYDATA_DEMO_PASSWORD`` at load time.
USERS: list[dict[str, Any]] = [
    {
        "name": "admin",
        "email": "admin@citydata.example",
        "fullname": "Demo administrator",
        "sysadmin": True,
        "memberships": [],
    },
    {
        "name": "camden-editor",
        "email": "camden-editor@citydata.example",
        "fullname": "Camden open data editor",
        "sysadmin": False,
        "memberships": [(borough_org_name(SHOWCASE_BOROUGH), "editor")],
    },
    {
        "name": "camden-owner",
        "email": "camden-owner@citydata.example",
        "fullname": "Camden information governance officer (data owner)",
        "sysadmin": False,
        "memberships": [(borough_org_name(SHOWCASE_BOROUGH), "admin")],
    },
    {
        "name": "hackney-analyst",
        "email": "hackney-analyst@citydata.example",
        "fullname": "Hackney adult social care analyst",
        "sysadmin": False,
        "memberships": [(borough_org_name(ANALYST_BOROUGH), "member")],
    },
]

FILE_INFO: dict[str, tuple[str, str, str]] = {
    # generator: (filename pattern, resource name, description)
    "borough_boundary": (
        "{slug}-boundary.geojson",
        "Boundary (GeoJSON)",
        "The borough boundary as one GeoJSON feature (WGS84).",
    ),
    "borough_lsoas_csv": (
        "{slug}-lsoas.csv",
        "LSOAs (CSV)",
        "One row per LSOA: code, name, borough and centre point.",
    ),
    "borough_lsoas_geojson": (
        "{slug}-lsoas.geojson",
        "LSOA boundaries (GeoJSON)",
        "LSOA boundaries in WGS84.",
    ),
    "borough_postcodes_by_ward": (
        "{slug}-postcodes-by-ward.csv",
        "Postcodes by ward (CSV)",
        "Number of postcodes per ward with their mean position.",
    ),
    "london_boroughs_geojson": (
        "london-boroughs.geojson",
        "Borough boundaries (GeoJSON)",
        "All 33 boundaries, one feature each (WGS84).",
    ),
    "london_boroughs_summary": (
        "london-boroughs.csv",
        "Borough summary (CSV)",
        "GSS code, name, bounding box, LSOA and postcode counts.",
    ),
    "lsoa_borough_lookup": (
        "lsoa-borough-lookup.csv",
        "LSOA to borough lookup (CSV)",
        "LSOA code and name, borough GSS code and name, centre point.",
    ),
    "london_lsoas_geojson": (
        "london-lsoas.geojson",
        "LSOA boundaries (GeoJSON)",
        "All 4,835 London LSOAs (WGS84).",
    ),
    "postcodes_per_borough": (
        "postcodes-per-borough.csv",
        "Postcodes per borough (CSV)",
        "GSS code, borough name and number of postcodes.",
    ),
    "council_services": (
        "london-council-services.csv",
        "Council service directory (CSV)",
        "Borough GSS code, service code, title and the page on the council's site.",
    ),
    "care_packages": (
        "{slug}-care-packages.csv",
        "Care packages (CSV)",
        "One row per care package: ward, age band, type of support, weekly hours and cost. "
        "Demonstration data: generated for this demo, not real care records.",
    ),
}


def _bbox(boxes: list[tuple[float, float, float, float]]) -> list[float]:
    return [
        round(min(b[0] for b in boxes), 5),
        round(min(b[1] for b in boxes), 5),
        round(max(b[2] for b in boxes), 5),
        round(max(b[3] for b in boxes), 5),
    ]


def _package(
    t: Template,
    pub: Publisher,
    name: str,
    values: dict[str, str],
    area: tuple[str, ...],
    boxes: dict[str, tuple[float, float, float, float]],
    extra_tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    landing = f"{pub.url}/open-data/{t.slug}"
    reason, discovery = RESTRICTIONS.get(t.slug, ("", ""))
    return {
        "name": name,
        "title": t.title.format(**values),
        "notes": t.notes(**values),
        "owner_org": pub.name,
        "license_id": t.licence_id,
        "access_level": t.access,
        "restriction_reason": reason if t.access in ("shared", "restricted") else "",
        "restriction_note": t.access_note.format(**values) if t.access_note else "",
        "discovery": discovery if t.access in ("shared", "restricted") else "",
        "conforms_to": t.standard,
        "url": landing,
        "tags": [{"name": tag} for tag in sorted({*t.tags, *extra_tags, "london"})],
        "themes": list(t.themes),
        "frequency": t.frequency,
        "temporal_start": t.start,
        "temporal_end": t.end,
        "boroughs": list(area),
        "bbox": _bbox([boxes[g] for g in area]),
        "contact_name": f"{pub.title} data team",
        "contact_email": pub.email,
        "extras": [{"key": "demo", "value": "true"}],
        "resources": [
            {"name": link.name, "description": link.description, "url": f"{landing}/{link.path}"}
            for link in t.links
        ],
    }


def _files(t: Template, gss: str | None, file_slug: str) -> list[GeneratedFile]:
    out = []
    for key in t.generated:
        pattern, name, description = FILE_INFO[key]
        out.append(GeneratedFile(key, gss, pattern.format(slug=file_slug), name, description))
    return out


def build_spec(settings: Settings) -> DemoSpec:
    """The whole demo catalog. Deterministic: the same inputs always give the same spec."""
    boxes = {
        b["gss_code"]: (b["west"], b["south"], b["east"], b["north"])
        for b in read_boroughs(settings)
    }
    pubs = publishers()
    by_name = {p.name: p for p in pubs}
    datasets: list[DatasetSpec] = []
    for gss, borough in BOROUGHS.items():
        pub = by_name[borough_org_name(gss)]
        place_slug = slug(borough)
        values = {"place": borough, "council": COUNCILS[gss][0], "gss": gss}
        for t in REFERENCE_TEMPLATES:
            name = f"{place_slug}-{t.slug}"
            package = _package(t, pub, name, values, (gss,), boxes, (borough.lower(),))
            datasets.append(DatasetSpec(package, _files(t, gss, place_slug)))
        for t in SERVICE_TEMPLATES:
            # One generator per (borough, template) so adding a template never reshuffles
            # which boroughs publish the others.
            chosen = random.Random(f"{SEED}:{gss}:{t.slug}").random() < t.coverage
            if gss != SHOWCASE_BOROUGH and not chosen:
                continue
            name = f"{place_slug}-{t.slug}"
            package = _package(t, pub, name, values, (gss,), boxes, (borough.lower(),))
            # Only the showcase borough has real files behind its service datasets.
            generated = _files(t, gss, place_slug) if gss == SHOWCASE_BOROUGH else []
            datasets.append(DatasetSpec(package, generated))
    for pub_name, templates in CITY_TEMPLATES.items():
        pub = by_name[pub_name]
        area = AREAS.get(pub_name, tuple(BOROUGHS))
        for t in templates:
            package = _package(t, pub, t.slug, {}, area, boxes)
            datasets.append(DatasetSpec(package, _files(t, None, t.slug)))
    return DemoSpec(pubs, USERS, datasets)


def spec_hash(spec: DemoSpec) -> str:
    """A fingerprint of everything the loader would create (passwords excluded)."""
    payload = {
        "version": DEMO_VERSION,
        "publishers": [asdict(p) for p in spec.publishers],
        "users": spec.users,
        "datasets": [
            {"package": d.package, "files": [asdict(f) for f in d.files]} for d in spec.datasets
        ],
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()

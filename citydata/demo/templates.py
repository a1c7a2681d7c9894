"""The building blocks of demo dataset descriptions: a template and a few helpers.

A template is written once in plain English (GOV.UK style) and expanded per publisher;
``{place}`` and ``{council}`` are filled in for borough templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Licence used for every dataset that is not open (anything but ``open``).
CLOSED_LICENCE = "other-closed"


@dataclass(frozen=True)
class Link:
    """An external resource (a file on the publisher's own site; never fetched)."""

    name: str
    path: str  # appended to the publisher's data URL; the extension gives the format
    description: str = ""


@dataclass(frozen=True)
class Template:
    """One kind of dataset. ``notes`` is Markdown; ``details`` become a bulleted list."""

    slug: str
    title: str
    summary: str
    details: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    frequency: str = "monthly"
    access: str = "open"
    licence: str = "OGL-UK-3.0"
    start: str = "2018-04-01"
    end: str = ""
    links: tuple[Link, ...] = ()
    #: Generated resources, by generator key (see ``citydata.demo.files``).
    generated: tuple[str, ...] = ()
    #: For borough templates: the share of boroughs (0–1) that publish it.
    coverage: float = 1.0
    #: Extra sentences for non-open data: why it is not open and how to ask for it.
    access_note: str = ""
    keywords: dict[str, str] = field(default_factory=dict)
    #: The data standard ("name@version") the dataset's files follow.
    standard: str = ""

    def notes(self, **values: str) -> str:
        """The Markdown description with placeholders filled in."""
        parts = [self.summary.format(**values)]
        if self.details:
            parts.append(
                "## What the data contains\n\n"
                + "\n".join(f"- {d.format(**values)}" for d in self.details)
            )
        if self.access != "open":
            parts.append(
                "## Access\n\n"
                + ACCESS_TEXT[self.access]
                + (" " + self.access_note.format(**values) if self.access_note else "")
            )
        return "\n\n".join(parts)

    @property
    def licence_id(self) -> str:
        return self.licence if self.access == "open" else CLOSED_LICENCE


ACCESS_TEXT = {
    "registered": "You need to sign in to download this data. Anyone can register.",
    "shared": (
        "This data is shared with named partner organisations under a data sharing "
        "agreement. Request access and say what you will use it for."
    ),
    "restricted": (
        "This data is restricted. Access is only given for a stated purpose with a "
        "lawful basis, and every use is recorded."
    ),
    "private": "This data is only visible to the publishing team while it is being prepared.",
}


#: Why each non-open demo dataset is not open, and what outsiders see of it (by slug).
RESTRICTIONS: dict[str, tuple[str, str]] = {
    "homelessness-assessments": ("personal-data", "schema"),
    "adult-social-care-packages": ("special-category-data", "sample"),
    "cctv-cameras": ("security", "existence"),
    "chain-case-records": ("special-category-data", "existence"),
    "oyster-journeys-sample": ("personal-data", "schema"),
    "high-rise-building-inspections": ("security", "schema"),
    "anpr-camera-locations": ("security", "existence"),
    "hospital-discharge-flows": ("special-category-data", "schema"),
    "gas-network-assets": ("security", "schema"),
    "telecoms-duct-network": ("commercial-confidentiality", "schema"),
    "kerbcharge-utilisation": ("commercial-confidentiality", "schema"),
    "hourly-footfall-counts": ("licence", "sample"),
}


def link(name: str, path: str, description: str = "") -> Link:
    return Link(name, path, description)


def csv(name: str = "Data (CSV)", path: str = "") -> Link:
    return Link(name, path or "data.csv")


def geojson(name: str = "Locations (GeoJSON)", path: str = "") -> Link:
    return Link(name, path or "data.geojson")

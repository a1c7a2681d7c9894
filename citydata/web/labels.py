"""Plain-language labels for codes the catalog stores (access levels, themes, boroughs, ...)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.catalog.licenses import get_license, licenses
from citydata.catalog.themes import FREQUENCIES, THEMES
from citydata.storage.models import Organization, RefBorough

#: Access level → (short label, what it means for the reader, in plain words).
ACCESS_LEVELS: dict[str, tuple[str, str]] = {
    "open": ("Open", "Anyone can download and use this data under its licence."),
    "registered": ("Registered users", "Anyone can download this data after signing in."),
    "shared": ("Shared", "Available only to organisations with a data sharing agreement "
               "with the publisher."),
    "restricted": ("Restricted", "Available only under a data sharing agreement, with "
                   "extra conditions set by the publisher."),
    "private": ("Private", "Only members of the publishing organisation can see this "
                "dataset."),
}


def access_label(level: str) -> str:
    return ACCESS_LEVELS.get(level, (level, ""))[0]


def access_explanation(level: str) -> str:
    return ACCESS_LEVELS.get(level, ("", ""))[1]


def theme_label(code: str) -> str:
    return THEMES.get(code, code)


def frequency_label(code: str) -> str:
    return FREQUENCIES.get(code, code)


def license_title(license_id: str) -> str:
    lic = get_license(license_id)
    return str(lic["title"]) if lic else license_id


def license_options() -> list[tuple[str, str]]:
    """(id, title) for the licence select, in the register's order."""
    return [(str(lic["id"]), str(lic["title"])) for lic in licenses()]


def borough_names(session: Session) -> dict[str, str]:
    """GSS code → borough name from the reference table (empty if it is not loaded)."""
    return {code: name for code, name in session.execute(
        select(RefBorough.gss_code, RefBorough.name))}


def organization_titles(session: Session, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    rows = session.execute(
        select(Organization.name, Organization.title).where(Organization.name.in_(names)))
    return {n: (t or n) for n, t in rows}

"""Controlled vocabularies: EU data themes and update frequencies (DCAT-AP authority tables)."""

from __future__ import annotations

#: EU Publications Office data-theme codes with plain-English labels.
THEMES: dict[str, str] = {
    "AGRI": "Agriculture, fisheries, forestry and food",
    "ECON": "Economy and finance",
    "EDUC": "Education, culture and sport",
    "ENER": "Energy",
    "ENVI": "Environment",
    "GOVE": "Government and public sector",
    "HEAL": "Health",
    "INTR": "International issues",
    "JUST": "Justice, legal system and public safety",
    "OP_DATPRO": "Provisional data",
    "REGI": "Regions and cities",
    "SOCI": "Population and society",
    "TECH": "Science and technology",
    "TRAN": "Transport",
}

#: Update frequencies (lower-case EU frequency authority codes) with labels.
FREQUENCIES: dict[str, str] = {
    "continuous": "Continuously updated",
    "hourly": "Hourly",
    "daily": "Daily",
    "weekly": "Weekly",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
    "annual": "Annually",
    "irregular": "Irregularly",
    "never": "Never (one-off)",
}

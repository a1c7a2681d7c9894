"""The London planning application standard: one row per application, from any of London's
35 local planning authorities (the 32 boroughs, the City of London and the two development
corporations).

Names follow the Planning London Datahub's; where planning.data.gov.uk's
``planning-application`` dataset has the same thing, :data:`PLANNING_DATA_GOV_UK` says which
of its fields it is (docs/planning.md shows the mapping). Controlled lists are codes; feeds'
own words (``Refusal (P)``, ``ALL DECISIONS ISSUED``) are mapped to them by explicit rules at
ingest, never guessed.
"""

from __future__ import annotations

from typing import Any

from citydata.standards.core_standards import UK_POSTCODE

#: Application types (the kinds of consent asked for), as codes.
APPLICATION_TYPES: dict[str, str] = {
    "full": "Full planning permission",
    "outline": "Outline planning permission",
    "reserved_matters": "Approval of reserved matters",
    "householder": "Householder planning permission",
    "listed_building": "Listed building consent",
    "advertisement": "Advertisement consent",
    "prior_approval": "Prior approval (permitted development)",
    "lawful_development": "Lawful development certificate",
    "conditions": "Approval of details reserved by condition",
    "variation": "Variation or removal of conditions",
    "non_material_amendment": "Non-material amendment",
    "trees": "Works to protected trees or trees in a conservation area",
    "demolition": "Demolition in a conservation area (relevant demolition)",
    "hazardous_substances": "Hazardous substances consent",
    "other": "Other",
}

#: Where an application is in its life.
STATUSES: dict[str, str] = {
    "received": "Received, not yet validated",
    "validated": "Validated: a complete application",
    "under_consideration": "Under consideration",
    "decided": "Decided",
    "withdrawn": "Withdrawn by the applicant",
    "appealed": "Appealed against the decision (or non-determination)",
}

#: What was decided.
DECISIONS: dict[str, str] = {
    "approved": "Approved",
    "approved_with_conditions": "Approved with conditions",
    "refused": "Refused",
    "split_decision": "Split decision (part approved, part refused)",
    "prior_approval_not_required": "Prior approval not required",
    "prior_approval_refused": "Prior approval refused",
    "lawful": "Certificate granted: lawful",
    "not_lawful": "Certificate refused: not lawful",
    "no_objection": "No objection (e.g. trees, consultations)",
    "not_determined": "Not determined (disposed of, or declined to determine)",
}

#: Who decided it.
DECISION_AGENCIES: dict[str, str] = {
    "delegated": "Officers, under delegated powers",
    "committee": "The authority's planning committee",
    "mayor": "The Mayor of London (referable application)",
    "secretary_of_state": "The Secretary of State (called in)",
    "planning_inspectorate": "The Planning Inspectorate (appeal)",
}

APPEAL_STATUSES: dict[str, str] = {
    "lodged": "Appeal lodged",
    "in_progress": "Appeal in progress",
    "decided": "Appeal decided",
    "withdrawn": "Appeal withdrawn",
}
APPEAL_DECISIONS: dict[str, str] = {
    "allowed": "Appeal allowed",
    "dismissed": "Appeal dismissed",
    "split": "Split decision",
}


def _enum(name: str, codes: dict[str, str], *, required: bool = False,
          title: str = "") -> dict[str, Any]:
    constraints: dict[str, Any] = {"enum": list(codes)}
    if required:
        constraints["required"] = True
    return {"name": name, "type": "string", "title": title or name.replace("_", " "),
            "constraints": constraints}


def _date(name: str, title: str, *, required: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": "date", "title": title}
    if required:
        field["constraints"] = {"required": True}
    return field


def _count(name: str, title: str) -> dict[str, Any]:
    return {"name": name, "type": "integer", "title": title,
            "constraints": {"minimum": 0, "maximum": 100_000}}


PLANNING_APPLICATIONS: dict[str, Any] = {
    "name": "london-planning-applications",
    "version": "1.0.0",
    "title": "London planning applications",
    "description": "One row per planning application to a London local planning authority, "
    "normalised from the authorities' own systems: who it is with, where, what is proposed, "
    "and what became of it. Codes for type, status and decision; dates as YYYY-MM-DD; "
    "geometry as WKT in WGS 84 (longitude latitude).",
    "fields": [
        {"name": "id", "type": "string", "title": "Application id",
         "description": "The authority's name and its own reference, e.g. Hackney-2021_2491.",
         "constraints": {"required": True, "unique": True,
                         "pattern": r"[A-Za-z][A-Za-z_]*-\S+"}},
        {"name": "lpa_code", "type": "string", "title": "Authority GSS code",
         "constraints": {"required": True, "pattern": r"E[0-9]{8}"}},
        {"name": "lpa_name", "type": "string", "title": "Local planning authority",
         "constraints": {"required": True}},
        {"name": "lpa_app_no", "type": "string", "title": "The authority's reference",
         "constraints": {"required": True}},
        {"name": "ward", "type": "string", "title": "Ward (name or GSS code)"},
        {"name": "uprn", "type": "string", "title": "UPRN",
         "description": "Unique Property Reference Number, as text (leading zeros kept).",
         "constraints": {"pattern": "[0-9]{1,12}"}},
        {"name": "site_name", "type": "string", "title": "Site name or number"},
        {"name": "street_name", "type": "string", "title": "Street"},
        {"name": "postcode", "type": "string", "constraints": {"pattern": UK_POSTCODE}},
        {"name": "site_geometry", "type": "string", "title": "Site boundary (WKT polygon)",
         "constraints": {"pattern": r"\s*(MULTI)?POLYGON\s*\(.*"}},
        {"name": "centroid", "type": "string", "title": "Site centre (WKT point)",
         "constraints": {"pattern": r"\s*POINT\s*\(\s*-?[0-9.]+\s+-?[0-9.]+\s*\)\s*"}},
        {"name": "description", "type": "string", "title": "Description of the proposal",
         "constraints": {"required": True}},
        _enum("application_type", APPLICATION_TYPES, required=True),
        {"name": "development_type", "type": "string", "title": "Development type",
         "description": "The authority's classification of the development (e.g. minor "
                        "dwellings, major offices), as it gives it."},
        _enum("status", STATUSES, required=True),
        _enum("decision", DECISIONS),
        _enum("decision_agency", DECISION_AGENCIES),
        _date("received_date", "Date received", required=True),
        _date("valid_date", "Date validated"),
        _date("decision_date", "Date decided"),
        _enum("appeal_status", APPEAL_STATUSES),
        _enum("appeal_decision", APPEAL_DECISIONS),
        _count("proposed_residential_units", "Residential units proposed"),
        _count("existing_residential_units", "Residential units existing"),
        {"name": "site_area_ha", "type": "number", "title": "Site area (hectares)",
         "constraints": {"minimum": 0, "maximum": 10_000}},
        {"name": "url", "type": "string", "format": "uri",
         "title": "The application on the authority's site"},
        {"name": "last_updated", "type": "datetime", "title": "Last changed at the source",
         "constraints": {"required": True}},
    ],
    "primaryKey": ["id"],
}

#: Our field -> planning.data.gov.uk ``planning-application`` field, where they mean the
#: same thing (or the note on how they differ).
PLANNING_DATA_GOV_UK: dict[str, str] = {
    "id": "reference, prefixed by the authority (theirs: entity, a number)",
    "lpa_code": "organisation (theirs: local-authority:<code>)",
    "lpa_app_no": "reference",
    "uprn": "uprn",
    "site_name": "address-text (with street_name and postcode)",
    "street_name": "address-text",
    "postcode": "address-text",
    "site_geometry": "geometry",
    "centroid": "point",
    "description": "description",
    "application_type": "planning-application-type",
    "development_type": "development-classification",
    "status": "planning-application-status",
    "decision": "planning-decision",
    "decision_agency": "planning-decision-type",
    "received_date": "start-date",
    "decision_date": "decision-date",
    "url": "documentation-url",
    "last_updated": "entry-date",
}

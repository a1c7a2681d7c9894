"""An agreement as an ODRL 2.2 policy (JSON-LD), so machines can read its terms.

The policy is an ``odrl:Agreement``: the provider is the assigner, the recipients are
assignees, every covered dataset (or resource) is a target, with the same IRIs the DCAT-AP
feed uses. Each permitted action is a permission constrained by the purpose and the dates;
"no onward sharing" is a prohibition of ``distribute``; retention is a ``delete`` duty. What
ODRL's core vocabulary has no term for — allowed columns, a minimum cell count, the lawful
basis, the DPIA — is said with the citydata profile's terms (``cd:``), declared in
``profile`` as ODRL requires.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from citydata.access.agreements import effective_status
from citydata.catalog.context import Ctx
from citydata.storage.models import Dataset, Organization
from citydata.storage.models_access import Agreement

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
#: citydata actions -> ODRL actions.
ODRL_ACTIONS = {"read": "read", "query": "use", "download": "reproduce", "aggregate": "aggregate"}
LAWFUL_BASIS_IRI = "https://www.legislation.gov.uk/eur/2016/679/article/"


def profile_iri(site: str) -> str:
    return f"{site}/ns/odrl"


def _datetime(value: Any) -> dict[str, str]:
    return {"@value": value.isoformat(timespec="seconds"), "@type": "xsd:dateTime"}


def to_odrl(ctx: Ctx, ag: Agreement) -> dict[str, Any]:
    site = ctx.site_url
    session = ctx.session
    profile = profile_iri(site)
    provider = session.get(Organization, ag.provider_org_id)
    assigner = {
        "@type": "Party",
        "uid": f"{site}/organization/{quote(provider.name if provider else ag.provider_org_id)}",
        "dct:title": provider.title if provider else "",
    }
    assignees = []
    for n, r in enumerate(ag.recipients, start=1):
        org = session.get(Organization, r.org_id) if r.org_id else None
        party: dict[str, Any] = {"@type": "Party"}
        if org is not None and r.user_id is None:
            party["uid"] = f"{site}/organization/{quote(org.name)}"
            party["dct:title"] = org.title
        else:  # people are parties too, but the policy never names them
            party["uid"] = f"{site}/agreements/{ag.reference}#recipient-{n}"
            party["dct:description"] = "A named individual" + (
                f" acting for {org.title}" if org else ""
            )
            if org is not None:
                party["partOf"] = f"{site}/organization/{quote(org.name)}"
        assignees.append(party)
    targets = []
    for item in ag.datasets:
        ds = session.get(Dataset, item.dataset_id)
        if ds is None:
            continue
        iri = f"{site}/dataset/{quote(ds.id, safe='')}"
        targets.append(
            f"{iri}/resource/{quote(item.resource_id, safe='')}" if item.resource_id else iri
        )
    constraints: list[dict[str, Any]] = [
        {
            "leftOperand": "purpose",
            "operator": "eq",
            "rightOperand": {"@id": f"{profile}#purpose-{ag.purpose}"},
        }
    ]
    if ag.start_at:
        constraints.append(
            {"leftOperand": "dateTime", "operator": "gteq", "rightOperand": _datetime(ag.start_at)}
        )
    if ag.end_at:
        constraints.append(
            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": _datetime(ag.end_at)}
        )
    columns = json.loads(ag.allowed_columns) if ag.allowed_columns else None
    if columns:
        constraints.append(
            {"leftOperand": "cd:column", "operator": "isAnyOf", "rightOperand": columns}
        )
    duties = []
    if ag.retention_days:
        duties.append(
            {
                "action": "delete",
                "constraint": [
                    {
                        "leftOperand": "elapsedTime",
                        "operator": "lteq",
                        "rightOperand": {
                            "@value": f"P{ag.retention_days}D",
                            "@type": "xsd:duration",
                        },
                    }
                ],
            }
        )
    permissions = []
    for action in json.loads(ag.actions or "[]"):
        permission: dict[str, Any] = {
            "target": targets if len(targets) != 1 else targets[0],
            "assigner": assigner["uid"],
            "action": ODRL_ACTIONS.get(action, "use"),
            "constraint": constraints,
        }
        if action == "aggregate" and ag.min_cell_count:
            permission["action"] = {
                "rdf:value": {"@id": "odrl:aggregate"},
                "refinement": [
                    {
                        "leftOperand": "cd:minimumCellCount",
                        "operator": "gteq",
                        "rightOperand": {"@value": ag.min_cell_count, "@type": "xsd:integer"},
                    }
                ],
            }
        if duties:
            permission["duty"] = duties
        permissions.append(permission)
    policy: dict[str, Any] = {
        "@context": [ODRL_CONTEXT, {"cd": f"{profile}#", "dct": "http://purl.org/dc/terms/"}],
        "@type": "Agreement",
        "uid": f"{site}/agreements/{ag.reference}",
        "profile": profile,
        "dct:identifier": ag.reference,
        "dct:title": ag.title,
        "dct:description": ag.purpose_detail,
        "cd:status": effective_status(ag),
        "cd:lawfulBasis": {"@id": _basis_iri(ag.lawful_basis, profile)},
        "assigner": assigner,
        "assignee": assignees if len(assignees) != 1 else assignees[0],
        "permission": permissions,
    }
    if ag.special_category_condition:
        policy["cd:specialCategoryCondition"] = {
            "@id": _basis_iri(ag.special_category_condition, profile)
        }
    if ag.dpia_reference:
        policy["cd:dpiaReference"] = ag.dpia_reference
    if ag.no_onward_sharing:
        policy["prohibition"] = [
            {
                "target": targets if len(targets) != 1 else targets[0],
                "assigner": assigner["uid"],
                "action": "distribute",
            }
        ]
    return policy


def _basis_iri(code: str, profile: str) -> str:
    """``art6-1-e`` → the legislation.gov.uk page of UK GDPR Article 6 (with a fragment)."""
    parts = code.split("-")
    if len(parts) == 3 and parts[0].startswith("art"):
        return f"{LAWFUL_BASIS_IRI}{parts[0][3:]}#{parts[1]}-{parts[2]}"
    return f"{profile}#basis-{code}"

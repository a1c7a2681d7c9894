"""The controlled vocabularies of governed sharing, with plain-English labels.

Codes are stable (they are stored, exported in ODRL and used in ``X-Citydata-Purpose``);
labels may be reworded.
"""

from __future__ import annotations

#: Why data is shared: the purposes London's information sharing agreements name most often.
PURPOSES: dict[str, str] = {
    "service-planning": "Planning and improving public services",
    "service-delivery": "Delivering a public service to the people it concerns",
    "safeguarding": "Safeguarding children and adults at risk",
    "public-health": "Protecting and improving public health",
    "emergency-response": "Emergency planning and response",
    "crime-prevention": "Preventing and detecting crime and disorder",
    "fraud-prevention": "Preventing and detecting fraud",
    "infrastructure-coordination": "Coordinating infrastructure and street works",
    "regulation-enforcement": "Regulation, licensing and enforcement",
    "policy-evaluation": "Developing and evaluating policy",
    "research-statistics": "Research and official statistics",
    "product-development": "Developing a product or service (private sector)",
}

#: UK GDPR Article 6(1) lawful bases, plus "no personal data" for data GDPR does not cover.
LAWFUL_BASES: dict[str, str] = {
    "art6-1-a": "Art. 6(1)(a) consent",
    "art6-1-b": "Art. 6(1)(b) contract",
    "art6-1-c": "Art. 6(1)(c) legal obligation",
    "art6-1-d": "Art. 6(1)(d) vital interests",
    "art6-1-e": "Art. 6(1)(e) public task",
    "art6-1-f": "Art. 6(1)(f) legitimate interests",
    "not-personal-data": "Not personal data (UK GDPR does not apply)",
}

#: UK GDPR Article 9(2) conditions for special category data.
SPECIAL_CATEGORY_CONDITIONS: dict[str, str] = {
    "art9-2-a": "Art. 9(2)(a) explicit consent",
    "art9-2-b": "Art. 9(2)(b) employment, social security and social protection",
    "art9-2-c": "Art. 9(2)(c) vital interests",
    "art9-2-d": "Art. 9(2)(d) not-for-profit bodies",
    "art9-2-e": "Art. 9(2)(e) made public by the data subject",
    "art9-2-f": "Art. 9(2)(f) legal claims or judicial acts",
    "art9-2-g": "Art. 9(2)(g) substantial public interest",
    "art9-2-h": "Art. 9(2)(h) health or social care",
    "art9-2-i": "Art. 9(2)(i) public health",
    "art9-2-j": "Art. 9(2)(j) archiving, research or statistics",
}

#: Why a dataset is not open (required for ``restricted``, optional for ``shared``).
REASONS: dict[str, str] = {
    "personal-data": "It contains personal data",
    "special-category-data": "It contains special category personal data (e.g. health)",
    "commercial-confidentiality": "It is commercially confidential",
    "security": "Publishing it would put people or infrastructure at risk",
    "licence": "The licence it was obtained under does not allow publication",
}
PERSONAL_REASONS = ("personal-data", "special-category-data")

#: What outsiders see of a shared or restricted dataset (they never see its data).
DISCOVERY: dict[str, str] = {
    "existence": "Only that the dataset exists: title, publisher, description",
    "schema": "Also its files and their columns",
    "sample": "Also a synthetic sample: made-up rows with the same columns",
}
DEFAULT_DISCOVERY = {"shared": "schema", "restricted": "existence"}

#: What an agreement may permit. ``aggregate`` stands alone: aggregate-only access.
ACTIONS: dict[str, str] = {
    "read": "View and filter rows (rows API, datastore_search, the explorer)",
    "query": "Run SQL over the data (datastore_search_sql)",
    "download": "Download files and whole exports",
    "aggregate": "Aggregate queries only: grouped counts, small groups suppressed",
}
DEFAULT_MIN_CELL_COUNT = 10

#: The lifecycle: draft → requested → approved → active → expired | revoked | refused.
STATUSES: dict[str, str] = {
    "draft": "Draft",
    "requested": "Waiting for a decision",
    "approved": "Approved, not yet started",
    "active": "Active",
    "expired": "Expired",
    "revoked": "Revoked",
    "refused": "Refused",
}
#: Statuses the public transparency register lists (never drafts, requests or refusals).
REGISTER_STATUSES = ("approved", "active", "expired", "revoked")

#: Governed data is only ever shared at these levels.
AGREEMENT_LEVELS = ("shared", "restricted")


def label(vocabulary: dict[str, str], code: str) -> str:
    return vocabulary.get(code, code)

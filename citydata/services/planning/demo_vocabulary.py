"""What the demo feeds' sources say: each source system's vocabulary, the phrases of
application descriptions, the street and building names, and each authority's habits (its
reference format, mix of application types, speed and publication lag).

:mod:`~citydata.services.planning.demo_simulation` draws applications from these and
:mod:`~citydata.services.planning.demo_rendering` writes them in these words.
"""

from __future__ import annotations

import itertools
import math
import string
import zlib
from typing import TYPE_CHECKING, Any, NamedTuple

from citydata.services.planning.mappings import Authority

if TYPE_CHECKING:
    from citydata.services.planning.demo_simulation import Application, DemoRandom

_TYPES = ("full", "outline", "reserved_matters", "householder", "listed_building",
          "advertisement", "prior_approval", "lawful_development", "conditions", "variation",
          "non_material_amendment", "trees", "demolition", "hazardous_substances", "other")
_DECISIONS = ("approved", "approved_with_conditions", "refused", "split_decision",
              "prior_approval_not_required", "prior_approval_refused", "lawful", "not_lawful",
              "no_objection", "not_determined")
_AGENCIES = ("delegated", "committee", "mayor", "secretary_of_state", "planning_inspectorate")
_STATUSES = ("received", "validated", "under_consideration", "decided", "withdrawn",
             "appealed")
_APPEALS = ("lodged", "in_progress", "decided", "withdrawn")
_APPEAL_DECISIONS = ("allowed", "dismissed", "split")


def _by(keys: tuple[str, ...], *words: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {k: w if isinstance(w, tuple) else (w,) for k, w in zip(keys, words, strict=True)}


_APPEAL_KEYS = tuple(f"appealed:{a}" for a in _APPEALS)
_OCELLA_DECIDED = _by(
    tuple(f"decided:{d}" for d in _DECISIONS), "Approved",
    ("Conditional Approval (P)", "Approved subject to conditions"), ("Refusal (P)", "Refused"),
    "Split Decision", "Prior Approval Not Required", "Prior Approval Refused",
    "Certificate Granted", "Certificate Refused", "No Objection", "Declined to Determine")
#: shape → target → code (or status state, see :func:`meaning`) → the words it writes.
VOCABULARY: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "idox-csv": {
        "application_type": _by(
            _TYPES, "Full Planning Permission", "Outline Planning Permission",
            "Reserved Matters", "Householder Application", "Listed Building Consent",
            "Advertisement Consent", "Prior Approval", "Lawful Development Certificate",
            "Approval of Details Reserved by Condition", "Variation of Condition",
            "Non-Material Amendment", ("Tree Preservation Order", "Trees in a Conservation Area"),
            "Relevant Demolition in a Conservation Area", "Hazardous Substances Consent",
            "Other"),
        "status_text": {**_by(("received", "validated", "under_consideration", "decided",
                               "withdrawn"), "Received", "Registered",
                              ("Pending Consideration", "Under Consultation"), "Decided",
                              "Withdrawn"),
                        **_by(_APPEAL_KEYS, "Appeal Lodged", "Appeal In Progress",
                              "Appeal Decided", "Appeal Withdrawn")},
        "decision_text": _by(
            _DECISIONS, "Grant Permission", "Grant Permission subject to Conditions",
            "Refuse Permission", "Split Decision", "Prior Approval Not Required",
            "Prior Approval Refused", "Certificate of Lawfulness Granted",
            "Certificate of Lawfulness Refused", "Raise No Objection", "Declined to Determine"),
        "decision_agency": _by(_AGENCIES, "Delegated", "Committee", "Mayor of London",
                               "Secretary of State", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Lodged", "In Progress", "Decided", "Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Allowed", "Dismissed", "Split Decision"),
    },
    "northgate-csv": {
        "application_type": _by(_TYPES, "FUL", "OUT", "RES", "HSE", "LBC", "ADV", "PA",
                                ("CLP", "CLE"), "DET", "VAR", "NMA", ("TPO", "TCA"), "CAC",
                                "HAZ", "OTH"),
        "status": _by(_STATUSES, "NEW", "REGISTERED", ("IN PROGRESS", "CONSULTATION"),
                      "DECIDED", "WITHDRAWN", "APPEAL"),
        "decision": _by(_DECISIONS, "APPRV", "APCON", "REF", "SPLIT", "PANR", "PAREF", "CLG",
                        "CLR", "NOOBJ", "NODET"),
        "decision_agency": _by(_AGENCIES, "DEL", "COM", "GLA", "SOS", "PINS"),
        "appeal_status": _by(_APPEALS, "LODGED", "IN PROGRESS", "DECIDED", "WITHDRAWN"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "ALLOWED", "DISMISSED", "SPLIT"),
    },
    "agile-json": {
        "application_type": _by(
            _TYPES, "Full", "Outline", "Reserved Matters", "Householder", "Listed Building",
            "Advertisement", "Prior Approval", "Lawful Development Certificate",
            "Discharge of Conditions", "Variation of Conditions (S73)",
            "Non-Material Amendment (S96A)", "Trees", "Demolition in a Conservation Area",
            "Hazardous Substances", "Other"),
        "status": _by(_STATUSES, "Received", "Valid", "Under Consideration", "Decided",
                      "Withdrawn", "Appealed"),
        "decision": _by(_DECISIONS, "Approved", "Approved with Conditions", "Refused",
                        "Split Decision", "Prior Approval Not Required",
                        "Prior Approval Refused", "Lawful", "Not Lawful", "No Objection",
                        "Not Determined"),
        "decision_agency": _by(_AGENCIES, "Delegated", "Committee", "Mayor",
                               "Secretary of State", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Lodged", "In Progress", "Decided", "Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Allowed", "Dismissed", "Part Allowed"),
    },
    "arcus-json-paged": {
        "application_type": _by(
            _TYPES, "Full Planning", "Outline Planning", "Approval of Reserved Matters",
            "Householder Planning", "Listed Building Consent", "Advertisement Consent",
            "Prior Approval", "Certificate of Lawfulness", "Approval of Conditions",
            "Removal/Variation of Conditions", "Non Material Amendment", "Tree Works",
            "Relevant Demolition", "Hazardous Substances Consent", "Miscellaneous"),
        "status": _by(_STATUSES, "Submitted", "Validated", "Under Assessment", "Determined",
                      "Withdrawn", "Appealed"),
        "decision": _by(_DECISIONS, "Granted", "Granted subject to conditions", "Refused",
                        "Split decision", "Prior approval not required",
                        "Prior approval required and refused", "Certificate issued",
                        "Certificate refused", "No objections raised", "Declined to determine"),
        "decision_agency": _by(_AGENCIES, "Delegated Decision", "Planning Committee",
                               "Mayor of London", "Called In", "Planning Inspectorate"),
        "appeal_status": _by(_APPEALS, "Appeal Lodged", "Appeal Started", "Appeal Decided",
                             "Appeal Withdrawn"),
        "appeal_decision": _by(_APPEAL_DECISIONS, "Appeal Allowed", "Appeal Dismissed",
                               "Appeal Split Decision"),
    },
    "ocella-csv": {
        "application_type": _by(
            _TYPES, "Full Application", "Outline Application", "Reserved Matters Application",
            "Householder Application", "Listed Building Consent", "Advertisement Consent",
            "Prior Approval", "Certificate of Lawful Development",
            "Details Pursuant to Condition", "Section 73 Variation", "Non Material Amendment",
            "Tree Works", "Conservation Area Consent", "Hazardous Substances", "Miscellaneous"),
        "status_text": {
            **_by(("received", "validated", "under_consideration", "withdrawn"), "Received",
                  "Registered", "Pending Consideration", "Withdrawn"),
            **_OCELLA_DECIDED,
            **_by(("appealed:lodged", "appealed:in_progress", "appealed:decided:allowed",
                   "appealed:decided:dismissed", "appealed:decided:split",
                   "appealed:withdrawn"), "Appeal Lodged", "Appeal In Progress",
                  "Appeal Allowed", "Appeal Dismissed", "Appeal Split Decision",
                  "Appeal Withdrawn")},
        "decision_agency": _by(_AGENCIES, "DEL", "COM", "GLA", "SOS", "PINS"),
    },
}
UPPER_CASE_SHAPES = frozenset({"northgate-csv"})


def vocabulary(authority: Authority) -> dict[str, dict[str, tuple[str, ...]]]:
    """The words the authority's demo feed uses: ``{target: {key: words}}``. The key is a
    code, or for ``status_text`` a state such as ``decided:refused`` (see :func:`meaning`).
    The authority's own value rules replace its system's words for the codes they cover."""
    words = {t: dict(v) for t, v in VOCABULARY[authority.shape].items()}
    upper = authority.shape in UPPER_CASE_SHAPES
    for target, rules in authority.overrides.get("values", {}).items():
        taken: set[str] = set()
        for word, code in rules.items():
            for key in words.get(target, {}):
                if meaning(target, key) == code:
                    shown = word.upper() if upper else word.title()
                    old = () if key not in taken else words[target][key]
                    words[target][key] = (*old, shown)
                    taken.add(key)
    return words


def meaning(target: str, key: str) -> Any:
    """What a vocabulary key means in value rules: a code, or for ``status_text`` a dict."""
    if target != "status_text":
        return key
    parts = key.split(":")
    out = {"status": parts[0]}
    if parts[0] == "decided" and len(parts) > 1:
        out["decision"] = parts[1]
    elif parts[0] == "appealed" and len(parts) > 1:
        out["appeal_status"] = parts[1]
        if len(parts) > 2:
            out["appeal_decision"] = parts[2]
    return out


#: Where each system's public register shows an application (made-up example domains).
URLS = {
    "idox-csv": "https://publicaccess.{slug}.example.gov.uk/{ref_q}",
    "northgate-csv": "https://planningregister.{slug}.example.gov.uk/Planning/Display/{ref}",
    "agile-json": "https://planning.agileapplications.example/{slug}/application-details/"
                  "{number}",
    "arcus-json-paged": "https://{slug}.example.gov.uk/planning/s/planning-application/{sfid}",
    "ocella-csv": "https://planning.{slug}.example.gov.uk/OcellaWeb/planningDetails"
                  "?reference={ref_q}",
}
TYPE_SUFFIX = dict(zip(_TYPES, ("FUL", "OUT", "RES", "HSE", "LBC", "ADV", "PA", "LDC", "DET",
                                "VAR", "NMA", "TCA", "CAC", "HAZ", "OTH"), strict=True))
APPEAL_EVENTS = {"appeal_lodged": "lodged", "appeal_started": "in_progress",
                 "appeal_decided": "decided", "appeal_withdrawn": "withdrawn"}


class _Habits(NamedTuple):
    reference: str  # str.format template: yyyy, yy, n (number in the year), t (type suffix)
    profile: str  # outer, inner, central, corporation: the mix of application types
    speed: float = 1.0  # decision time multiplier (slow authorities)
    lag: int = 1  # typical days between a decision and its publication


AUTHORITY_DEMO: dict[str, _Habits] = {
    "city-of-london": _Habits("{yy}/{n:05d}/{t}", "central"),
    "barking-and-dagenham": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "barnet": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "bexley": _Habits("{yy}/{n:05d}/{t}", "outer", 1.1, 10),
    "brent": _Habits("{yy}/{n:04d}", "outer", 1.0, 21),
    "bromley": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "camden": _Habits("{yyyy}/{n:04d}/P", "inner"),
    "croydon": _Habits("{yy}/{n:05d}/{t}", "outer", 1.35),
    "ealing": _Habits("{yy}{n:04d}{t}", "outer"),
    "enfield": _Habits("{yy}/{n:05d}/{t}", "outer", 1.25),
    "greenwich": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "hackney": _Habits("{yyyy}/{n:04d}", "inner"),
    "hammersmith-and-fulham": _Habits("{yyyy}/{n:05d}/{t}", "inner"),
    "haringey": _Habits("HGY/{yyyy}/{n:04d}", "inner", 1.45, 28),
    "harrow": _Habits("P/{n:04d}/{yy}", "outer"),
    "havering": _Habits("P{n:04d}.{yy}", "outer", 1.1, 35),
    "hillingdon": _Habits("{yyyy}/{n:04d}/{t}", "outer", 1.0, 7),
    "hounslow": _Habits("P/{yyyy}/{n:04d}", "outer"),
    "islington": _Habits("P{yyyy}/{n:04d}/{t}", "inner"),
    "kensington-and-chelsea": _Habits("PP/{yy}/{n:05d}", "inner"),
    "kingston-upon-thames": _Habits("{yy}/{n:05d}/{t}", "outer"),
    "lambeth": _Habits("{yy}/{n:05d}/{t}", "inner", 1.3),
    "lewisham": _Habits("DC/{yy}/{n:06d}", "inner", 1.0, 10),
    "merton": _Habits("{yy}/P{n:04d}", "outer"),
    "newham": _Habits("{yy}/{n:05d}/{t}", "inner", 1.3, 14),
    "redbridge": _Habits("{n:04d}/{yy}", "outer", 1.0, 14),
    "richmond-upon-thames": _Habits("{yy}/{n:04d}/{t}", "outer"),
    "southwark": _Habits("{yy}/AP/{n:04d}", "inner"),
    "sutton": _Habits("DM{yyyy}/{n:05d}", "outer"),
    "tower-hamlets": _Habits("PA/{yy}/{n:05d}", "inner", 1.4),
    "waltham-forest": _Habits("{yy}{n:04d}", "outer"),
    "wandsworth": _Habits("{yyyy}/{n:04d}", "inner"),
    "westminster": _Habits("{yy}/{n:05d}/{t}", "central"),
    "lldc": _Habits("{yy}/{n:05d}/{t}", "corporation", 1.2),
    "opdc": _Habits("{yy}/{n:04d}/{t}OPDC", "corporation"),
}
REPLAY_WEIGHTS = {"outer": 1.0, "inner": 1.0, "central": 0.6, "corporation": 0.1}
TYPE_WEIGHTS: dict[str, dict[str, float]] = {
    profile: dict(zip(_TYPES, weights, strict=True)) for profile, weights in {
        #        ful out res  hse  lbc adv pa  ldc det  var nma tre dem haz  oth
        "outer": (14, .3, .4, 40, 1, 3, 8, 8, 9, 3, 3, 8, .3, .05, .5),
        "inner": (20, .2, .4, 28, 6, 4, 6, 7, 12, 3, 3, 9, .6, .03, .6),
        "central": (25, .1, .5, 6, 18, 12, 3, 4, 16, 5, 4, 3, .5, .02, 1),
        "corporation": (20, 2, 6, 5, 1, 8, 3, 3, 30, 8, 10, 4, .5, .02, 1),
    }.items()}
FOLLOW_UPS = frozenset({"conditions", "variation", "non_material_amendment",
                        "reserved_matters"})
SMALL_SITE_KINDS = frozenset({"full", "advertisement", "other", "hazardous_substances"})
SITE_SIZES = {"house": ((5, 12), (15, 45)), "small": ((8, 35), (12, 50)),
              "large": ((40, 220), (40, 220))}
UPRN_SHARE = {"house": 0.97, "small": 0.85, "large": 0.3}
REFUSALS = frozenset({"refused", "prior_approval_refused", "not_lawful"})

# A phrase is (template, units): units says what the numbers mean — "new" homes, a
# "conversion" of one house, "existing" flats, "major" and "outline" schemes, or none.
_PHRASES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "householder": tuple((p, None) for p in (
        "Erection of a single storey rear extension",
        "Erection of a part single, part two storey rear extension",
        "Erection of a two storey side extension and a single storey rear extension",
        "Erection of a single storey side infill extension",
        "Loft conversion with a rear dormer roof extension and front rooflights",
        "Hip to gable roof extension and rear dormer",
        "Erection of a front porch",
        "Erection of an outbuilding in the rear garden ancillary to the dwellinghouse",
        "Replacement of the single glazed timber windows with double glazed timber windows",
        "Installation of solar panels on the rear roof slope",
        "Formation of a vehicle crossover and hardstanding in the front garden",
        "Excavation of a basement beneath the house and rear garden with a front lightwell",
        "Installation of an air source heat pump in the rear garden",
        "Conversion of the garage into a habitable room and replacement of the garage door")),
    "full": tuple((p, None) for p in (
        "Change of use of the ground floor from Class E to a hot food takeaway (Sui Generis) "
        "and installation of an extract duct",
        "Installation of a replacement shopfront",
        "Installation of rooftop telecommunications equipment and associated cabinets",
        "Erection of a single storey rear extension to the ground floor commercial unit",
        "Installation of plant on the roof with acoustic screening",
        "Change of use from office (Class E) to a place of worship (Class F1)",
        "Erection of a cycle store and bin store in the front forecourt")),
    "full_homes": (
        ("Change of use from Class E to residential (Class C3) to create {n} self-contained "
         "flats", "new"),
        ("Conversion of a single dwellinghouse into {n} self-contained flats", "conversion"),
        ("Erection of a mansard roof extension to create {n} additional self-contained flats",
         "new"),
        ("Demolition of the existing garages and erection of a {s} storey building comprising "
         "{n} residential units (Class C3) with cycle and refuse storage", "new"),
        ("Erection of {n} dwellinghouses on land to the rear with associated landscaping and "
         "parking", "new")),
    "full_major": (
        ("Demolition of the existing buildings and redevelopment of the site to provide {n} "
         "residential units (Class C3) and {m} sqm of commercial floorspace (Class E) in "
         "buildings of up to {s} storeys, with landscaping, cycle parking and public realm "
         "improvements", "major"),
        ("Redevelopment of the estate to provide {n} homes in {b} buildings of between 4 and "
         "{s} storeys, with a community centre and public open space", "major")),
    "prior_approval": (
        ("Prior approval for a single storey rear extension extending {x}m beyond the rear "
         "wall, with a maximum height of {h}m and an eaves height of 2.9m", None),
        ("Prior approval for the change of use from Class E (commercial) to Class C3 "
         "(residential) to create {n} self-contained flats", "new"),
        ("Prior approval for the construction of {k} additional storeys to create {n} "
         "self-contained flats", "new"),
        ("Prior approval for a {t}m telecommunications monopole and associated equipment "
         "cabinets", None),
        ("Prior approval for the demolition of the existing building", None)),
    "listed_building": tuple((p, None) for p in (
        "Internal alterations including removal of non-original partitions and refurbishment "
        "of the kitchen and bathrooms",
        "Replacement of the front sash windows like-for-like in timber",
        "Repair and redecoration of the front railings and steps",
        "Installation of secondary glazing to the front windows",
        "Replacement of the roof slates and repair of the chimney stacks")),
    "advertisement": tuple((p, None) for p in (
        "Display of an internally illuminated fascia sign and projecting sign",
        "Display of a non-illuminated fascia sign",
        "Display of a digital advertising screen on the flank wall",
        "Display of 2 externally illuminated hoarding signs")),
    "lawful_development": (
        ("Certificate of lawfulness (proposed) for a rear dormer roof extension and front "
         "rooflights", None),
        ("Certificate of lawfulness (proposed) for a single storey rear extension", None),
        ("Certificate of lawfulness (existing) for the use of the property as {n} "
         "self-contained flats", "existing"),
        ("Certificate of lawfulness (existing) for the use of the outbuilding as a home "
         "office", None)),
    "conditions": tuple((p, None) for p in (
        "Details pursuant to condition {c} (materials) of planning permission {ref}",
        "Details pursuant to conditions {c} (construction management plan) and {c2} "
        "(landscaping) of planning permission {ref}",
        "Approval of details required by condition {c} (cycle storage) of planning "
        "permission {ref}",
        "Details of a sustainable drainage strategy pursuant to condition {c} of planning "
        "permission {ref}")),
    "variation": tuple((p, None) for p in (
        "Variation of condition {c} (approved drawings) of planning permission {ref} to allow "
        "changes to the rear elevation",
        "Removal of condition {c} of planning permission {ref} to allow the premises to open "
        "outside the approved hours",
        "Variation of condition {c} of planning permission {ref} to amend the internal layout "
        "and unit mix")),
    "non_material_amendment": tuple((p, None) for p in (
        "Non-material amendment to planning permission {ref} to alter the position of the "
        "rear windows",
        "Non-material amendment to planning permission {ref} to change the external materials",
        "Non-material amendment to planning permission {ref} to amend the wording of "
        "condition {c}")),
    "trees": tuple((p, None) for p in (
        "T1 Sycamore - reduce the crown by 2m and crown lift to 5m (Tree Preservation Order)",
        "T1 London Plane - pollard to previous points (works to trees in a conservation area)",
        "T1 Ash - fell due to ash dieback (works to trees in a conservation area)",
        "T1-T3 Leyland Cypress - reduce height by 3m and T4 Oak - remove deadwood (Tree "
        "Preservation Order)",
        "G1 group of Hawthorn - clear to ground level (works to trees in a conservation "
        "area)")),
    "outline": (
        ("Outline application for the demolition of the existing buildings and erection of up "
         "to {n} homes (Class C3), with all matters reserved except access", "outline"),
        ("Outline application for a mixed-use development of up to {n} residential units and "
         "{m} sqm of commercial floorspace, with all matters reserved", "outline")),
    "reserved_matters": (
        ("Approval of reserved matters (appearance, landscaping, layout and scale) for Phase "
         "{p} comprising {n} residential units pursuant to outline planning permission {ref}",
         "reserved"),),
    "demolition": tuple((p, None) for p in (
        "Demolition of the existing garage in a conservation area",
        "Demolition of the front boundary wall in a conservation area")),
    "hazardous_substances": tuple((p, None) for p in (
        "Hazardous substances consent for the storage of liquefied petroleum gas",
        "Hazardous substances consent for the storage of chlorine at the water treatment "
        "works")),
    "other": tuple((p, None) for p in (
        "Consultation from a neighbouring authority on a proposed development",
        "Notification under Regulation 3 of works to a council-owned building",
        "Application for a certificate of appropriate alternative development")),
}


_UNIT_RANGES = {"new": (2, 9), "conversion": (2, 6), "existing": (2, 4), "outline": (50, 1500),
                "reserved": (40, 400)}
_NUMBERS: dict[str, Any] = {
    "s": lambda r: r.randint(3, 12), "m": lambda r: r.randrange(200, 5000, 50),
    "b": lambda r: r.randint(2, 6), "x": lambda r: r.choice(("4.0", "5.5", "6.0", "8.0")),
    "h": lambda r: r.choice(("3.0", "3.5", "4.0")), "t": lambda r: r.choice((15, 17.5, 20)),
    "k": lambda r: r.choice((1, 2)), "c": lambda r: r.randint(3, 24),
    "c2": lambda r: r.randint(1, 6), "p": lambda r: r.randint(1, 6)}
_FIELDS = {template: [name for _, name, _, _ in string.Formatter().parse(template) if name]
           for group in _PHRASES.values() for template, _ in group}


def describe(rng: DemoRandom, kind: str, ref: str, major_share: float
             ) -> tuple[str, int | None, int | None, bool]:
    """A description for an application of ``kind``: ``(text, proposed units, existing
    units, major)``; ``ref`` is the earlier permission a follow-up application refers to."""
    group = kind
    if kind == "full":
        draw = rng.random()
        group = "full_major" if draw < major_share else (
            "full_homes" if draw < major_share + 0.25 else "full")
    template, units = rng.choice(_PHRASES[group])
    lo, hi = _UNIT_RANGES.get(units or "", (0, 0))
    if kind == "prior_approval" and units:
        lo, hi = 2, 25
    n = int(10 * math.exp(rng.random() * 3.8)) if units == "major" else rng.randint(lo, hi)
    text = template
    if "{" in template:  # draw only the numbers the phrase uses
        values: dict[str, Any] = {"n": n, "ref": ref}
        for name in _FIELDS[template]:
            if name not in values:
                values[name] = _NUMBERS[name](rng)
        if "c2" in values:
            values["c2"] = values.setdefault("c", 3) + values["c2"]
        if units == "major":
            values["s"] = values.get("s", 0) + 6
        text = template.format(**values)
    proposed = None if units in (None, "existing") else n
    existing = {"existing": n, "conversion": 1, "new": 0}.get(units or "")
    major = units in ("major", "outline") or (units == "reserved" and n >= 10)
    return text, proposed, existing, major


def development_type(kind: str, text: str, units: int | None, area_ha: float) -> str:
    """The authority's own classification of the development (free text, as given)."""
    fixed = {"householder": "Householder", "trees": "Trees", "advertisement": "Advertisements",
             "listed_building": "Listed Building Consent", "prior_approval": "Prior Approval",
             "lawful_development": "Certificate of Lawfulness"}
    if kind in fixed:
        return fixed[kind]
    if units:
        return "Major Dwellings" if units >= 10 else "Minor Dwellings"
    if kind in ("full", "outline"):
        return "Major Other" if area_ha >= 1 else (
            "Change of Use" if text.startswith("Change of use") else "Minor Other")
    return "Other"


_OUTCOMES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "householder": (("approved_with_conditions", "approved", "refused"), (.86, .02, .12)),
    "full": (("approved_with_conditions", "approved", "refused", "split_decision"),
             (.78, .02, .18, .02)),
    "prior_approval": (("prior_approval_not_required", "approved", "prior_approval_refused"),
                       (.65, .1, .25)),
    "lawful_development": (("lawful", "not_lawful"), (.8, .2)),
    "conditions": (("approved", "refused", "split_decision"), (.93, .05, .02)),
    "non_material_amendment": (("approved", "refused"), (.9, .1)),
    "trees": (("no_objection", "approved", "refused"), (.7, .2, .1)),
    "advertisement": (("approved_with_conditions", "approved", "refused"), (.8, .1, .1)),
    "other": (("no_objection", "approved", "not_determined"), (.6, .3, .1)),
}
_OTHER_OUTCOMES = (("approved_with_conditions", "refused"), (.86, .14))
_OUTCOME_DRAWS = {kind: (list(codes), list(itertools.accumulate(weights)))
                  for kind, (codes, weights) in {**_OUTCOMES, "": _OTHER_OUTCOMES}.items()}


def outcome(rng: DemoRandom, kind: str) -> str:
    """What the authority decides on an application of ``kind`` (about 87 % approvals)."""
    return str(rng.pick(*_OUTCOME_DRAWS.get(kind, _OUTCOME_DRAWS[""])))


def agency(rng: DemoRandom, kind: str, major: bool) -> str:
    draw = rng.random()
    if major:
        return "committee" if draw < 0.65 else "mayor" if draw < 0.67 else (
            "secretary_of_state" if draw < 0.675 else "delegated")
    return "committee" if draw < (0.01 if kind == "householder" else 0.03) else "delegated"


def appeal_outcome(rng: DemoRandom) -> str:
    return rng.pick(list(_APPEAL_DECISIONS), [0.3, 0.97, 1.0])


_STREET_STEMS = (
    "Albert", "Victoria", "Church", "Station", "Park", "Queens", "Kings", "Mill", "Manor",
    "Elm", "Grove", "Chestnut", "Windsor", "Cambridge", "Stanley", "Richmond", "Princes",
    "Highfield", "Springfield", "Beech", "Oak", "Cedar", "Clarence", "Warwick", "York",
    "Denmark", "Salisbury", "Chatsworth", "Lansdowne", "Cromwell", "Nelson", "Wellington",
    "Hampton", "Sydney", "Milton", "Belmont", "Harrow", "Ashburnham", "Leyton", "Tottenham",
    "Balfour", "Brunswick", "Eversley", "Fernhill", "Glenthorne", "Holloway", "Ivydale",
    "St John's", "St Mary's", "Lordship", "Mount Pleasant", "Northcote", "Osborne", "Ravenscourt")
_STREET_SUFFIXES = ("Road", "Street", "Avenue", "Gardens", "Close", "Lane", "Terrace", "Grove",
                    "Crescent", "Place", "Way", "Rise", "Hill", "Walk", "Square", "Mews")
_BUILDINGS = {"small": ("Unit 3", "The Old Dairy", "Phoenix House", "Land rear of 24",
                        "Former Garage Site", "Rose Court", "Albion Works", "Victoria House",
                        "Ground Floor Shop"),
              "large": ("Former Gasworks Site", "Land at the rear of the station",
                        "Former Bus Depot", "Estate Regeneration Site", "Former Retail Park",
                        "Industrial Estate Site")}


def street_for(postcode: str) -> str:
    """A made-up but stable street name for a postcode (Code-Point Open has no streets)."""
    key = zlib.crc32(postcode.encode())
    stem = _STREET_STEMS[key % len(_STREET_STEMS)]
    return f"{stem} {_STREET_SUFFIXES[(key >> 8) % len(_STREET_SUFFIXES)]}"


def site_name(rng: DemoRandom, size: str) -> str:
    if size == "house" or (size == "small" and rng.random() < 0.6):
        return f"{rng.randint(1, 220)}{'A' if rng.random() < 0.04 else ''}"
    return rng.choice(_BUILDINGS[size])


def salesforce_id(number: int) -> str:
    return f"a0P8d0000{number:09d}"


_TEAMS = ("Planning Team North", "Planning Team South", "Major Projects", "Householder Team",
          "Trees and Landscape", "Conservation and Design")


def filler(column: str, app: Application) -> Any:
    """Values for the columns a configuration ignores (stable per application)."""
    if column in ("CASE_OFFICER", "Case Officer"):
        return _TEAMS[app.number % len(_TEAMS)]
    if column == "Alternative Reference":
        return f"PP-{app.number * 37 % 10**8:08d}" if app.number % 3 else None
    if column == "id":
        return app.number
    if column == "Id":
        return salesforce_id(app.number)
    if column == "attributes.type":
        return "arcusbuiltenv__Planning_Application__c"
    if column == "attributes.url":
        return ("/services/data/v58.0/sobjects/arcusbuiltenv__Planning_Application__c/"
                + salesforce_id(app.number))
    return None

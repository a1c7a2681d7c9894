"""The 33 London local authority districts (32 boroughs and the City) with their GSS codes.

The codes are the official ONS ones (E09000001 … E09000033); the names are spelled exactly as the
London Datastore statistical boundary files spell them, which is what the reference sources use.
"""

from __future__ import annotations

#: GSS code → borough name, in code order.
BOROUGHS: dict[str, str] = {
    "E09000001": "City of London",
    "E09000002": "Barking and Dagenham",
    "E09000003": "Barnet",
    "E09000004": "Bexley",
    "E09000005": "Brent",
    "E09000006": "Bromley",
    "E09000007": "Camden",
    "E09000008": "Croydon",
    "E09000009": "Ealing",
    "E09000010": "Enfield",
    "E09000011": "Greenwich",
    "E09000012": "Hackney",
    "E09000013": "Hammersmith and Fulham",
    "E09000014": "Haringey",
    "E09000015": "Harrow",
    "E09000016": "Havering",
    "E09000017": "Hillingdon",
    "E09000018": "Hounslow",
    "E09000019": "Islington",
    "E09000020": "Kensington and Chelsea",
    "E09000021": "Kingston upon Thames",
    "E09000022": "Lambeth",
    "E09000023": "Lewisham",
    "E09000024": "Merton",
    "E09000025": "Newham",
    "E09000026": "Redbridge",
    "E09000027": "Richmond upon Thames",
    "E09000028": "Southwark",
    "E09000029": "Sutton",
    "E09000030": "Tower Hamlets",
    "E09000031": "Waltham Forest",
    "E09000032": "Wandsworth",
    "E09000033": "Westminster",
}

#: Borough name → GSS code.
GSS_BY_NAME: dict[str, str] = {name: gss for gss, name in BOROUGHS.items()}

#: Greater London's bounding box (west, south, east, north) in WGS84, slightly padded.
LONDON_BBOX: tuple[float, float, float, float] = (-0.52, 51.28, 0.34, 51.70)


class UnknownBoroughError(ValueError):
    """A reference source names a borough we do not know: the source changed, so stop loudly."""


def gss_for_name(name: str) -> str:
    """The GSS code of a borough given its name; raises ``UnknownBoroughError`` if unknown."""
    try:
        return GSS_BY_NAME[name.strip()]
    except KeyError:
        raise UnknownBoroughError(f"unknown London borough name: {name!r}") from None


def is_london_district(gss_code: str) -> bool:
    """True for the 33 London district codes (E09…)."""
    return gss_code in BOROUGHS

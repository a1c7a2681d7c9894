"""The demo's publishers: the 33 London councils, the GLA, TfL and the city's other data owners.

Contact addresses and web sites follow each body's real domain so the catalog looks
familiar; nothing is ever sent to or fetched from them. The two private firms are fictional.
"""

from __future__ import annotations

from dataclasses import dataclass

from citydata.geo.london import BOROUGHS


@dataclass(frozen=True)
class Publisher:
    """An organisation in the demo catalog (the input of ``create_organization``)."""

    name: str
    title: str
    kind: str
    url: str
    email: str
    description: str
    gss_code: str | None = None

    def as_org(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "url": self.url,
            "email": self.email,
            "description": self.description,
            "gss_code": self.gss_code,
        }


#: GSS code → (council title, web domain). Royal boroughs and the two cities keep their styles.
COUNCILS: dict[str, tuple[str, str]] = {
    "E09000001": ("City of London Corporation", "cityoflondon.gov.uk"),
    "E09000002": ("London Borough of Barking and Dagenham", "lbbd.gov.uk"),
    "E09000003": ("London Borough of Barnet", "barnet.gov.uk"),
    "E09000004": ("London Borough of Bexley", "bexley.gov.uk"),
    "E09000005": ("London Borough of Brent", "brent.gov.uk"),
    "E09000006": ("London Borough of Bromley", "bromley.gov.uk"),
    "E09000007": ("London Borough of Camden", "camden.gov.uk"),
    "E09000008": ("London Borough of Croydon", "croydon.gov.uk"),
    "E09000009": ("London Borough of Ealing", "ealing.gov.uk"),
    "E09000010": ("London Borough of Enfield", "enfield.gov.uk"),
    "E09000011": ("Royal Borough of Greenwich", "royalgreenwich.gov.uk"),
    "E09000012": ("London Borough of Hackney", "hackney.gov.uk"),
    "E09000013": ("London Borough of Hammersmith and Fulham", "lbhf.gov.uk"),
    "E09000014": ("London Borough of Haringey", "haringey.gov.uk"),
    "E09000015": ("London Borough of Harrow", "harrow.gov.uk"),
    "E09000016": ("London Borough of Havering", "havering.gov.uk"),
    "E09000017": ("London Borough of Hillingdon", "hillingdon.gov.uk"),
    "E09000018": ("London Borough of Hounslow", "hounslow.gov.uk"),
    "E09000019": ("London Borough of Islington", "islington.gov.uk"),
    "E09000020": ("Royal Borough of Kensington and Chelsea", "rbkc.gov.uk"),
    "E09000021": ("Royal Borough of Kingston upon Thames", "kingston.gov.uk"),
    "E09000022": ("London Borough of Lambeth", "lambeth.gov.uk"),
    "E09000023": ("London Borough of Lewisham", "lewisham.gov.uk"),
    "E09000024": ("London Borough of Merton", "merton.gov.uk"),
    "E09000025": ("London Borough of Newham", "newham.gov.uk"),
    "E09000026": ("London Borough of Redbridge", "redbridge.gov.uk"),
    "E09000027": ("London Borough of Richmond upon Thames", "richmond.gov.uk"),
    "E09000028": ("London Borough of Southwark", "southwark.gov.uk"),
    "E09000029": ("London Borough of Sutton", "sutton.gov.uk"),
    "E09000030": ("London Borough of Tower Hamlets", "towerhamlets.gov.uk"),
    "E09000031": ("London Borough of Waltham Forest", "walthamforest.gov.uk"),
    "E09000032": ("London Borough of Wandsworth", "wandsworth.gov.uk"),
    "E09000033": ("Westminster City Council", "westminster.gov.uk"),
}


def slug(text: str) -> str:
    """A CKAN-style name fragment: lower case, words joined by hyphens."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    return "-".join(part for part in out.split("-") if part)


def borough_org_name(gss_code: str) -> str:
    """The organisation name of a borough council, e.g. ``camden-council``."""
    if gss_code == "E09000001":
        return "city-of-london-corporation"
    return f"{slug(BOROUGHS[gss_code])}-council"


def _borough_publishers() -> list[Publisher]:
    out = []
    for gss, (title, domain) in COUNCILS.items():
        borough = BOROUGHS[gss]
        out.append(
            Publisher(
                name=borough_org_name(gss),
                title=title,
                kind="borough",
                url=f"https://www.{domain}",
                email=f"opendata@{domain}",
                description=(
                    f"{title} is the local authority for {borough}. It publishes data about "
                    f"the services it runs: planning, streets, housing, waste, parking, "
                    f"licensing and its own spending."
                ),
                gss_code=gss,
            )
        )
    return out


def _p(name: str, title: str, kind: str, domain: str, description: str) -> Publisher:
    return Publisher(name, title, kind, f"https://www.{domain}", f"data@{domain}", description)


OTHER_PUBLISHERS: list[Publisher] = [
    _p(
        "greater-london-authority",
        "Greater London Authority",
        "gla",
        "london.gov.uk",
        "The Greater London Authority (GLA) is the city-wide government for London: the "
        "Mayor of London and the London Assembly. It runs the London Datastore.",
    ),
    _p(
        "transport-for-london",
        "Transport for London",
        "transport",
        "tfl.gov.uk",
        "Transport for London (TfL) runs the Underground, buses, Overground, Elizabeth line, "
        "trams, DLR, river services, cycle hire and the red routes.",
    ),
    _p(
        "london-fire-brigade",
        "London Fire Brigade",
        "emergency",
        "london-fire.gov.uk",
        "London Fire Brigade is the fire and rescue service for Greater London.",
    ),
    _p(
        "metropolitan-police-service",
        "Metropolitan Police Service",
        "emergency",
        "met.police.uk",
        "The Metropolitan Police Service polices the 32 London boroughs outside the City "
        "of London.",
    ),
    _p(
        "london-ambulance-service",
        "London Ambulance Service NHS Trust",
        "health",
        "londonambulance.nhs.uk",
        "The London Ambulance Service answers 999 and 111 calls and provides emergency care "
        "across the capital.",
    ),
    _p(
        "nhs-north-central-london-icb",
        "NHS North Central London ICB",
        "health",
        "nclhealthandcare.org.uk",
        "The integrated care board that plans and pays for NHS services in Barnet, Camden, "
        "Enfield, Haringey and Islington.",
    ),
    _p(
        "thames-water",
        "Thames Water",
        "utility",
        "thameswater.co.uk",
        "Thames Water supplies drinking water and treats waste water for London and the "
        "Thames Valley.",
    ),
    _p(
        "uk-power-networks",
        "UK Power Networks",
        "utility",
        "ukpowernetworks.co.uk",
        "UK Power Networks owns and runs the electricity distribution network for London, "
        "the South East and the East of England.",
    ),
    _p(
        "cadent-gas",
        "Cadent Gas",
        "utility",
        "cadentgas.com",
        "Cadent runs the gas distribution network for North London.",
    ),
    _p(
        "openreach",
        "Openreach",
        "utility",
        "openreach.co.uk",
        "Openreach builds and maintains the fixed telecoms network used by broadband providers.",
    ),
    _p(
        "london-legacy-development-corporation",
        "London Legacy Development Corporation",
        "development",
        "queenelizabetholympicpark.co.uk",
        "The Mayoral development corporation responsible for Queen Elizabeth Olympic Park and "
        "the area around it.",
    ),
    _p(
        "old-oak-and-park-royal-development-corporation",
        "Old Oak and Park Royal Development Corporation",
        "development",
        "london.gov.uk",
        "The Mayoral development corporation that plans the regeneration of Old Oak and Park "
        "Royal in west London.",
    ),
    _p(
        "port-of-london-authority",
        "Port of London Authority",
        "transport",
        "pla.co.uk",
        "The Port of London Authority looks after navigation and safety on the tidal Thames.",
    ),
    _p(
        "royal-parks",
        "The Royal Parks",
        "environment",
        "royalparks.org.uk",
        "The Royal Parks manages eight of London's historic parks, including Hyde Park, "
        "Regent's Park and Richmond Park.",
    ),
    _p(
        "environment-agency-london",
        "Environment Agency (London)",
        "environment",
        "environment-agency.gov.uk",
        "The Environment Agency's London area: flood risk, river water quality and "
        "environmental permits.",
    ),
    _p(
        "historic-england-london",
        "Historic England (London and South East)",
        "heritage",
        "historicengland.org.uk",
        "Historic England's London and South East region: listed buildings, conservation "
        "and heritage at risk.",
    ),
    _p(
        "canal-and-river-trust",
        "Canal and River Trust",
        "environment",
        "canalrivertrust.org.uk",
        "The charity that cares for London's canals: the Regent's, Grand Union and Lee Navigation.",
    ),
    _p(
        "network-rail",
        "Network Rail",
        "transport",
        "networkrail.co.uk",
        "Network Rail owns and runs Britain's railway infrastructure, including London's "
        "main line stations.",
    ),
    _p(
        "imperial-college-erg",
        "Environmental Research Group, Imperial College London",
        "other",
        "imperial.ac.uk",
        "The research group that runs the London Air Quality Network and the Breathe London "
        "sensor network.",
    ),
    _p(
        "kerbcharge",
        "KerbCharge Ltd",
        "private",
        "kerbcharge.example",
        "KerbCharge is a (fictional) operator of on-street electric vehicle charge points, "
        "installed in lamp columns and bollards under borough concessions.",
    ),
    _p(
        "streetpulse-analytics",
        "StreetPulse Analytics Ltd",
        "private",
        "streetpulse.example",
        "StreetPulse is a (fictional) footfall analytics firm that counts visitors to high "
        "streets with anonymised sensor data.",
    ),
]


def publishers() -> list[Publisher]:
    """Every demo publisher: the 33 councils first (in GSS order), then the others."""
    return _borough_publishers() + OTHER_PUBLISHERS

"""London-flavoured vocabulary for generated datasets, so full-text queries have real selectivity.

Topics are drawn with Zipf-like weights (a few common subjects, a long tail), each with its own
title phrases, tags, EU themes and the kinds of publisher that release it. Nothing here is random
at import time: the generator draws from these lists with a seeded ``random.Random``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: GSS code -> borough name (the 33 London local authority districts).
BOROUGHS: dict[str, str] = {
    "E09000001": "City of London", "E09000002": "Barking and Dagenham", "E09000003": "Barnet",
    "E09000004": "Bexley", "E09000005": "Brent", "E09000006": "Bromley", "E09000007": "Camden",
    "E09000008": "Croydon", "E09000009": "Ealing", "E09000010": "Enfield",
    "E09000011": "Greenwich", "E09000012": "Hackney", "E09000013": "Hammersmith and Fulham",
    "E09000014": "Haringey", "E09000015": "Harrow", "E09000016": "Havering",
    "E09000017": "Hillingdon", "E09000018": "Hounslow", "E09000019": "Islington",
    "E09000020": "Kensington and Chelsea", "E09000021": "Kingston upon Thames",
    "E09000022": "Lambeth", "E09000023": "Lewisham", "E09000024": "Merton",
    "E09000025": "Newham", "E09000026": "Redbridge", "E09000027": "Richmond upon Thames",
    "E09000028": "Southwark", "E09000029": "Sutton", "E09000030": "Tower Hamlets",
    "E09000031": "Waltham Forest", "E09000032": "Wandsworth", "E09000033": "Westminster",
}

#: (name, title, kind) of the non-council publishers; 33 councils + these = 45 organisations.
OTHER_PUBLISHERS: list[tuple[str, str, str]] = [
    ("gla", "Greater London Authority", "gla"),
    ("tfl", "Transport for London", "transport"),
    ("met-police", "Metropolitan Police Service", "emergency"),
    ("london-fire-brigade", "London Fire Brigade", "emergency"),
    ("nhs-north-central-london", "NHS North Central London ICB", "health"),
    ("nhs-south-east-london", "NHS South East London ICB", "health"),
    ("thames-water", "Thames Water", "utility"),
    ("uk-power-networks", "UK Power Networks", "utility"),
    ("port-of-london-authority", "Port of London Authority", "transport"),
    ("london-legacy-development-corporation", "London Legacy Development Corporation", "gla"),
    ("royal-parks", "The Royal Parks", "other"),
    ("skyline-mobility-ltd", "Skyline Mobility Ltd", "private"),
]


@dataclass(frozen=True)
class Topic:
    phrase: str  # what the title is about
    tags: tuple[str, ...]
    themes: tuple[str, ...]
    kinds: tuple[str, ...]  # publisher kinds that release it
    words: tuple[str, ...]  # extra words the description uses


TOPICS: list[Topic] = [
    Topic("parking permits and controlled parking zones", ("parking", "permits", "cpz", "kerbside"),
          ("TRAN",), ("borough",), ("vehicles", "residents", "enforcement")),
    Topic("planning applications", ("planning", "development", "applications", "decisions"),
          ("REGI", "GOVE"), ("borough", "gla"), ("householder", "consent", "appeals")),
    Topic("air quality monitoring", ("air-quality", "no2", "pm2-5", "pollution", "ulez"),
          ("ENVI", "HEAL"), ("borough", "gla"), ("nitrogen", "dioxide", "diffusion", "tubes")),
    Topic("street trees", ("trees", "urban-forest", "canopy", "green-infrastructure"),
          ("ENVI",), ("borough", "gla", "other"), ("species", "planting", "canopy")),
    Topic("household waste and recycling collections",
          ("recycling", "waste", "bins", "fly-tipping"), ("ENVI", "GOVE"), ("borough",),
          ("collection", "tonnage", "landfill")),
    Topic("recorded crime by ward", ("crime", "police", "anti-social-behaviour", "safety"),
          ("JUST",), ("emergency", "borough"), ("offences", "burglary", "robbery")),
    Topic("school places and pupil numbers", ("schools", "education", "pupils", "admissions"),
          ("EDUC",), ("borough", "gla"), ("primary", "secondary", "nursery")),
    Topic("bus routes and stop usage", ("bus", "public-transport", "routes", "stops"),
          ("TRAN",), ("transport",), ("passengers", "boardings", "timetable")),
    Topic("cycle hire and cycle lanes", ("cycling", "cycle-hire", "active-travel", "bike"),
          ("TRAN", "HEAL"), ("transport", "borough", "private"), ("docking", "journeys", "lanes")),
    Topic("housing completions and affordable homes", ("housing", "affordable-housing", "homes"),
          ("SOCI", "REGI"), ("borough", "gla"), ("tenure", "completions", "social")),
    Topic("population estimates and projections", ("population", "census", "demography"),
          ("SOCI",), ("gla", "borough"), ("residents", "age", "ethnicity")),
    Topic("fire incidents and response times", ("fire", "incidents", "response-times"),
          ("JUST",), ("emergency",), ("appliances", "callouts", "rescues")),
    Topic("library visits and loans", ("libraries", "books", "culture"), ("EDUC",),
          ("borough",), ("loans", "visits", "members")),
    Topic("premises licensing register", ("licensing", "premises", "alcohol", "late-night"),
          ("GOVE", "ECON"), ("borough",), ("licences", "venues", "hours")),
    Topic("flood risk and surface water", ("flood", "surface-water", "drainage", "climate"),
          ("ENVI",), ("borough", "utility", "gla"), ("rainfall", "sewers", "rivers")),
    Topic("noise complaints", ("noise", "complaints", "nuisance"), ("ENVI", "HEAL"),
          ("borough",), ("construction", "music", "night")),
    Topic("electric vehicle charge points", ("ev-charging", "electric-vehicles", "charge-points"),
          ("TRAN", "ENER"), ("borough", "utility", "private", "transport"),
          ("chargers", "kerbside", "kilowatt")),
    Topic("council tax bands and collection", ("council-tax", "finance", "revenue"),
          ("ECON", "GOVE"), ("borough",), ("bands", "arrears", "discounts")),
    Topic("business rates", ("business-rates", "finance", "businesses"), ("ECON",),
          ("borough",), ("relief", "rateable", "hereditaments")),
    Topic("energy use in public buildings", ("energy", "carbon", "buildings", "net-zero"),
          ("ENER", "ENVI"), ("borough", "gla", "utility"), ("electricity", "gas", "emissions")),
    Topic("GP practices and patient registrations", ("health", "gp", "nhs", "patients"),
          ("HEAL",), ("health",), ("appointments", "registrations", "clinics")),
    Topic("road traffic collisions", ("road-safety", "collisions", "casualties"),
          ("TRAN", "JUST"), ("transport", "emergency", "borough"), ("injuries", "junctions")),
    Topic("tube station entries and exits", ("underground", "tube", "stations", "footfall"),
          ("TRAN",), ("transport",), ("entries", "exits", "lines")),
    Topic("parks and open spaces", ("parks", "open-space", "playgrounds", "biodiversity"),
          ("ENVI", "EDUC"), ("borough", "other", "gla"), ("allotments", "commons", "meadows")),
    Topic("water mains and leakage", ("water", "leakage", "mains"), ("ENVI",), ("utility",),
          ("pipes", "pressure", "bursts")),
    Topic("electricity substations and network capacity", ("electricity", "grid", "substations"),
          ("ENER",), ("utility",), ("capacity", "feeders", "demand")),
    Topic("river Thames tides and moorings", ("thames", "river", "tides", "moorings"),
          ("TRAN", "ENVI"), ("transport",), ("piers", "vessels", "wharves")),
    Topic("rough sleeping counts", ("homelessness", "rough-sleeping", "housing"), ("SOCI",),
          ("gla", "borough"), ("outreach", "shelters", "chain")),
    Topic("food hygiene inspections", ("food-hygiene", "inspections", "restaurants"),
          ("HEAL", "GOVE"), ("borough",), ("ratings", "takeaways", "premises")),
    Topic("adult social care", ("social-care", "adults", "care-homes"), ("HEAL", "SOCI"),
          ("borough", "health"), ("carers", "packages", "assessments")),
    Topic("spending over 500 pounds", ("spending", "transparency", "payments", "finance"),
          ("GOVE", "ECON"), ("borough", "gla", "transport", "emergency"),
          ("suppliers", "invoices", "expenditure")),
    Topic("street lighting assets", ("street-lighting", "highways", "assets"), ("TRAN", "ENER"),
          ("borough",), ("lanterns", "columns", "led")),
    Topic("olympic park venues and events", ("olympic-park", "events", "venues", "stratford"),
          ("EDUC", "REGI"), ("gla",), ("visitors", "stadium", "legacy")),
    Topic("electoral register and polling districts", ("elections", "voting", "polling"),
          ("GOVE",), ("borough",), ("electors", "turnout", "wards")),
    Topic("heritage listed buildings and conservation areas",
          ("heritage", "conservation-areas", "listed-buildings"), ("EDUC", "REGI"),
          ("borough", "gla"), ("architecture", "blue", "plaques")),
    Topic("potholes and highway defects", ("highways", "potholes", "roads"), ("TRAN",),
          ("borough", "transport"), ("repairs", "carriageway", "footway")),
    Topic("children looked after", ("children", "social-care", "fostering"), ("SOCI",),
          ("borough",), ("placements", "adoption", "leavers")),
    Topic("employment and jobs by sector", ("employment", "jobs", "economy", "labour-market"),
          ("ECON",), ("gla",), ("workforce", "earnings", "sectors")),
    Topic("scooter trials and micromobility", ("e-scooters", "micromobility", "trials"),
          ("TRAN",), ("transport", "private"), ("trips", "parking", "bays")),
    Topic("ambulance and hospital waiting times", ("nhs", "hospitals", "waiting-times"),
          ("HEAL",), ("health",), ("emergency", "admissions", "beds")),
]

QUALIFIERS = ["monthly", "annual", "quarterly", "weekly", "by ward", "by LSOA", "by borough",
              "historical", "register", "summary", "live feed", "statistics", "dashboard data"]
GENERIC_TAGS = ["open-data", "statistics", "ward-level", "lsoa", "gis", "time-series",
                "covid-19", "transparency", "annual-report", "monthly"]
SENTENCES = [
    "This dataset is published by {org} under the {lic} licence.",
    "It covers {place} and is updated {freq}.",
    "Figures for {phrase} are collected from operational systems and checked before release.",
    "Records include {w1}, {w2} and {w3} where available.",
    "Earlier years were revised in line with the latest methodology.",
    "Use it alongside the London Datastore ward profiles to compare neighbourhoods.",
    "Counts below five are suppressed to protect privacy.",
    "Geography follows the 2021 ward and LSOA boundaries.",
    "Contact the data team at {org} with questions about {w1} or {w2}.",
]
FORMATS = [("CSV", 40), ("XLSX", 14), ("JSON", 10), ("GeoJSON", 8), ("PDF", 8), ("ZIP", 4),
           ("API", 6), ("SHP", 3), ("KML", 2), ("XML", 3), ("ODS", 2)]
MIMETYPES = {"CSV": "text/csv", "JSON": "application/json", "GeoJSON": "application/geo+json",
             "PDF": "application/pdf", "ZIP": "application/zip", "XML": "application/xml"}
LICENSES = [("OGL-UK-3.0", 70), ("CC-BY-4.0", 10), ("OS-OpenData", 5), ("ODbL-1.0", 4),
            ("CC0-1.0", 3), ("OGL-UK-2.0", 3), ("other-closed", 3), ("notspecified", 2)]
ACCESS = [("open", 85), ("registered", 6), ("shared", 3), ("restricted", 2), ("private", 4)]
FREQUENCIES = ["daily", "weekly", "monthly", "quarterly", "annual", "irregular", "continuous"]

#: Query words the benchmark cycles through: common to rare subjects (stems match variants).
QUERY_WORDS = ["parking", "planning", "air", "trees", "recycling", "crime", "school", "cycling",
               "housing", "flood", "licensing", "noise", "library", "substations"]
#: A deliberately broad word (in most descriptions), measured separately as the worst case.
BROAD_WORD = "london"

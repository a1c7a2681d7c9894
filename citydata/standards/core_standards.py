"""The city's core data standards, written by us as Frictionless Table Schemas.

Each is the minimum a publisher's file must hold for the city's services to use it; extra
columns are allowed (and reported). Versions follow semantic versioning: a new required field
or a narrower enum is a major version.
"""

from __future__ import annotations

from typing import Any

#: A UK postcode, with or without its space (BS 7666 shapes; GIR 0AA included).
UK_POSTCODE = r"([A-Za-z][A-HJ-Ya-hj-y]?[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}|GIR ?0AA)"
LAT = {
    "name": "lat",
    "type": "number",
    "title": "Latitude (WGS 84)",
    "constraints": {"required": True, "minimum": 49.0, "maximum": 61.0},
}
LON = {
    "name": "lon",
    "type": "number",
    "title": "Longitude (WGS 84)",
    "constraints": {"required": True, "minimum": -9.0, "maximum": 2.5},
}

EV_CHARGE_POINTS: dict[str, Any] = {
    "name": "ev-charge-points",
    "version": "1.0.0",
    "title": "Electric vehicle charge points",
    "description": "Public charge points, one row per connector group; field meanings follow "
    "OCPI 2.2.1 Locations (ConnectorType, EVSE status).",
    "fields": [
        {
            "name": "id",
            "type": "string",
            "title": "Charge point identifier",
            "constraints": {"required": True, "unique": True},
        },
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {"name": "operator", "type": "string", "constraints": {"required": True}},
        {"name": "address", "type": "string"},
        {"name": "postcode", "type": "string", "constraints": {"pattern": UK_POSTCODE}},
        LAT,
        LON,
        {
            "name": "connector_type",
            "type": "string",
            "title": "OCPI ConnectorType",
            "constraints": {
                "required": True,
                "enum": [
                    "IEC_62196_T1",
                    "IEC_62196_T2",
                    "IEC_62196_T2_COMBO",
                    "IEC_62196_T1_COMBO",
                    "CHADEMO",
                    "DOMESTIC_G",
                    "TESLA_S",
                    "IEC_60309_2_single_16",
                    "IEC_60309_2_three_32",
                ],
            },
        },
        {"name": "power_kw", "type": "number", "constraints": {"required": True, "minimum": 0}},
        {
            "name": "status",
            "type": "string",
            "title": "OCPI EVSE status",
            "constraints": {
                "required": True,
                "enum": [
                    "AVAILABLE",
                    "BLOCKED",
                    "CHARGING",
                    "INOPERATIVE",
                    "OUTOFORDER",
                    "PLANNED",
                    "REMOVED",
                    "RESERVED",
                    "UNKNOWN",
                ],
            },
        },
        {"name": "last_updated", "type": "datetime", "constraints": {"required": True}},
    ],
    "primaryKey": ["id"],
}

AIR_QUALITY_READINGS: dict[str, Any] = {
    "name": "air-quality-readings",
    "version": "1.0.0",
    "title": "Air quality readings",
    "description": "Measurements from air quality monitoring sites, one row per site, pollutant "
    "and time (as published by the London Air Quality Network).",
    "fields": [
        {
            "name": "site_code",
            "type": "string",
            "constraints": {"required": True, "pattern": "[A-Z0-9]{2,6}"},
        },
        {
            "name": "pollutant",
            "type": "string",
            "constraints": {"required": True, "enum": ["NO2", "PM10", "PM2.5", "O3"]},
        },
        {"name": "value", "type": "number", "constraints": {"required": True, "minimum": 0}},
        {"name": "unit", "type": "string", "constraints": {"required": True, "enum": ["ug/m3"]}},
        {"name": "timestamp", "type": "datetime", "constraints": {"required": True}},
        LAT,
        LON,
    ],
    "primaryKey": ["site_code", "pollutant", "timestamp"],
}

CULTURAL_VENUES: dict[str, Any] = {
    "name": "cultural-venues",
    "version": "1.0.0",
    "title": "Cultural venues",
    "description": "Theatres, music venues, galleries, libraries and other cultural "
    "infrastructure (after the GLA Cultural Infrastructure Map).",
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True, "unique": True}},
        {"name": "name", "type": "string", "constraints": {"required": True}},
        {
            "name": "category",
            "type": "string",
            "constraints": {
                "required": True,
                "enum": [
                    "theatre",
                    "music_venue",
                    "cinema",
                    "gallery",
                    "museum",
                    "library",
                    "community_centre",
                    "studio",
                    "pub_with_music",
                    "other",
                ],
            },
        },
        {"name": "address", "type": "string"},
        {"name": "postcode", "type": "string", "constraints": {"pattern": UK_POSTCODE}},
        {
            "name": "borough_gss",
            "type": "string",
            "title": "Borough GSS code",
            "constraints": {"required": True, "pattern": "E090000(0[1-9]|[12][0-9]|3[0-3])"},
        },
        LAT,
        LON,
        {"name": "capacity", "type": "integer", "constraints": {"minimum": 0}},
        {"name": "website", "type": "string", "format": "uri"},
    ],
    "primaryKey": ["id"],
}

STREET_WORKS: dict[str, Any] = {
    "name": "street-works",
    "version": "1.0.0",
    "title": "Street works",
    "description": "Planned and live works on the highway, as noticed under the New Roads and "
    "Street Works Act 1991 (permit references as in Street Manager).",
    "fields": [
        {
            "name": "permit_reference",
            "type": "string",
            "constraints": {"required": True, "unique": True},
        },
        {"name": "promoter", "type": "string", "constraints": {"required": True}},
        {"name": "street_name", "type": "string", "constraints": {"required": True}},
        {
            "name": "usrn",
            "type": "integer",
            "title": "Unique Street Reference Number",
            "constraints": {"minimum": 1},
        },
        {
            "name": "borough_gss",
            "type": "string",
            "constraints": {"required": True, "pattern": "E090000(0[1-9]|[12][0-9]|3[0-3])"},
        },
        {
            "name": "category",
            "type": "string",
            "constraints": {
                "required": True,
                "enum": ["major", "standard", "minor", "immediate_urgent", "immediate_emergency"],
            },
        },
        {
            "name": "traffic_management",
            "type": "string",
            "constraints": {
                "enum": [
                    "none",
                    "give_and_take",
                    "stop_go_boards",
                    "two_way_signals",
                    "multi_way_signals",
                    "lane_closure",
                    "road_closure",
                    "contraflow",
                ]
            },
        },
        {"name": "start_date", "type": "date", "constraints": {"required": True}},
        {"name": "end_date", "type": "date", "constraints": {"required": True}},
        {
            "name": "status",
            "type": "string",
            "constraints": {
                "required": True,
                "enum": ["planned", "in_progress", "completed", "cancelled"],
            },
        },
        LAT,
        LON,
    ],
    "primaryKey": ["permit_reference"],
}

#: Everyday council services, so "Find my council" can answer "where do I report fly-tipping?".
COUNCIL_SERVICE_CODES = ["report-fly-tipping", "missed-bin-collection", "report-pothole",
                         "pay-council-tax", "parking-permit", "planning-applications",
                         "noise-complaint", "report-street-light", "bulky-waste-collection"]
COUNCIL_SERVICES: dict[str, Any] = {
    "name": "council-services",
    "version": "1.0.0",
    "title": "Council service directory",
    "description": "Where to do everyday things with a London council, one row per borough and "
    "service: the page on the council's own site.",
    "fields": [
        {
            "name": "borough_gss",
            "type": "string",
            "constraints": {"required": True, "pattern": "E090000(0[1-9]|[12][0-9]|3[0-3])"},
        },
        {"name": "service", "type": "string",
         "constraints": {"required": True, "enum": COUNCIL_SERVICE_CODES}},
        {"name": "title", "type": "string", "constraints": {"required": True}},
        {"name": "url", "type": "string", "format": "uri", "constraints": {"required": True}},
    ],
    "primaryKey": ["borough_gss", "service"],
}

CORE_STANDARDS = [EV_CHARGE_POINTS, AIR_QUALITY_READINGS, CULTURAL_VENUES, STREET_WORKS,
                  COUNCIL_SERVICES]

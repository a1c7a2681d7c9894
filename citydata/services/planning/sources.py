"""The authorities' feeds as sources: registering them (with their configuration, kept as data in
``feeds/`` and read by :mod:`~citydata.services.planning.mappings`), the common value rules
(:func:`load_value_rules`, from there too), and the gazetteer harmonise checks places against."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from citydata.services.planning.harmonise import Authority, Gazetteer, compile_area
from citydata.services.planning.mappings import load_value_rules
from citydata.storage.models import RefBorough, RefPostcode
from citydata.storage.models_planning import PlanningFeed

__all__ = ["gazetteer_for", "list_feeds", "load_value_rules", "london_postcodes", "register"]


def register(db: Any, authority: Any, config: Mapping[str, Any], location: str) -> bool:
    """Add or update one authority's feed. Returns True when something changed."""
    text = json.dumps(config, sort_keys=True)
    with db.session() as session:
        feed = session.get(PlanningFeed, authority.slug)
        if feed is None:
            session.add(PlanningFeed(slug=authority.slug, lpa_code=authority.lpa_code,
                                     lpa_name=authority.lpa_name,
                                     id_prefix=authority.id_prefix, location=location,
                                     config=text))
            return True
        if feed.config == text and feed.location == location:
            return False
        if feed.config != text:
            feed.last_good_hash = ""  # new rules: the same export must be read again
        feed.config, feed.location = text, location
        return True


def list_feeds(session: Any) -> list[PlanningFeed]:
    return list(session.scalars(select(PlanningFeed).order_by(PlanningFeed.lpa_name)))


def gazetteer_for(session: Any, authority: Authority,
                  postcodes: Mapping[str, tuple[float, float, str]] | None = None) -> Gazetteer:
    """The London postcodes (load once with :func:`london_postcodes` and pass them for many
    feeds) and the authority's area (a borough's boundary; the development corporations,
    which the reference data has no boundary for, are checked against Greater London)."""
    if postcodes is None:
        postcodes = london_postcodes(session)
    area = None
    borough = session.get(RefBorough, authority.lpa_code)
    if borough is not None:
        area = compile_area(json.loads(borough.geometry))
    return Gazetteer(postcodes=postcodes, area=area)


def london_postcodes(session: Any) -> dict[str, tuple[float, float, str]]:
    rows = session.execute(
        select(RefPostcode.postcode, RefPostcode.lon, RefPostcode.lat, RefPostcode.district_gss)
        .where(RefPostcode.district_gss.like("E09%"))
    )
    return {pc: (lon, lat, district) for pc, lon, lat, district in rows}

"""Datasets published by the GLA, TfL and London's other data owners, by publisher.

``generated`` templates carry real files built from the reference data; the others link
to files on the publisher's own site (never fetched).
"""

from __future__ import annotations

from citydata.demo import city_templates_gla_tfl, city_templates_places, city_templates_services
from citydata.demo.templates import Template

#: publisher name → its datasets, in catalog order.
CITY_TEMPLATES: dict[str, tuple[Template, ...]] = {
    **city_templates_gla_tfl.TEMPLATES,
    **city_templates_services.TEMPLATES,
    **city_templates_places.TEMPLATES,
}

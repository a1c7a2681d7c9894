"""The licence register (CKAN ``license_list`` shape). OGL-UK-3.0 is the default."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

DEFAULT_LICENSE = "OGL-UK-3.0"


@cache
def licenses() -> tuple[dict, ...]:
    text = resources.files("citydata.catalog").joinpath("licenses.json").read_text("utf-8")
    return tuple(json.loads(text))


def get_license(license_id: str) -> dict | None:
    for lic in licenses():
        if lic["id"] == license_id:
            return lic
    return None


def license_list() -> list[dict]:
    """CKAN's license_list result: every licence with its conformance flags."""
    out = []
    for lic in licenses():
        item = dict(lic)
        item["status"] = "active"
        item["maintainer"] = ""
        item["family"] = ""
        item["domain_content"] = False
        item["domain_data"] = True
        item["domain_software"] = False
        out.append(item)
    return out

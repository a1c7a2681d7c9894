"""The authorities' feed configurations, kept as data in ``feeds/``: who the authorities are
(``authorities.json``), how each source system's export is laid out (``shapes/*.json``, merged
with an authority's ``overrides``) and what the source values mean (``values.json``).

The ingestion pipeline reads these to parse a feed and the demo feeds read them to write one,
so this module is the one reader of the files. docs/planning-feeds.md describes the format.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

FEEDS_DIR = Path(__file__).with_name("feeds")


@dataclass(frozen=True)
class Authority:
    """One local planning authority and how its feed is configured (authorities.json)."""

    slug: str
    lpa_code: str
    lpa_name: str
    id_prefix: str
    shape: str
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)
    quirks: tuple[str, ...] = ()


def load_authorities() -> list[Authority]:
    """The 35 authorities of ``feeds/authorities.json``, in file order."""
    rows = json.loads((FEEDS_DIR / "authorities.json").read_text(encoding="utf-8"))
    return [Authority(slug=r["slug"], lpa_code=r["lpa_code"], lpa_name=r["lpa_name"],
                      id_prefix=r["id_prefix"], shape=r["shape"],
                      overrides=r.get("overrides", {}), quirks=tuple(r.get("quirks", [])))
            for r in rows]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``: dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def feed_config(authority: Authority) -> dict[str, Any]:
    """The authority's feed configuration: its shape deep-merged with its overrides."""
    path = FEEDS_DIR / "shapes" / f"{authority.shape}.json"
    return deep_merge(json.loads(path.read_text(encoding="utf-8")), authority.overrides)


def normalise_value(value: Any) -> str:
    """A source value as value rules key it: lowercased, whitespace collapsed, stripped."""
    return " ".join(str(value).split()).lower()


@lru_cache(maxsize=1)
def load_value_rules() -> dict[str, dict[str, Any]]:
    """The value rules every feed shares (``feeds/values.json``)."""
    return json.loads((FEEDS_DIR / "values.json").read_text(encoding="utf-8"))


def value_rules(authority: Authority) -> dict[str, dict[str, Any]]:
    """values.json with the authority's own ``values`` merged over it."""
    return deep_merge(load_value_rules(), feed_config(authority).get("values", {}))

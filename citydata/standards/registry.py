"""The standards registry: every plugin's Table Schemas by name and version, checked at load.

A malformed schema is refused when the registry is built (``MalformedStandard`` names the
standard and the problem) so a broken plugin is found at start-up, not at the first upload.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from citydata.errors import NotFound

#: Table Schema field types we know how to check (others are refused at load).
FIELD_TYPES = {
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "time",
    "year",
    "yearmonth",
    "duration",
    "geopoint",
    "geojson",
    "object",
    "array",
    "any",
}
CONSTRAINTS = {
    "required",
    "unique",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
}
FIELD_KEYS = {
    "name",
    "type",
    "format",
    "title",
    "description",
    "constraints",
    "example",
    "rdfType",
    "trueValues",
    "falseValues",
    "bareNumber",
    "groupChar",
    "decimalChar",
}
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


class MalformedStandard(ValueError):
    """A plugin returned a schema that is not a usable Table Schema; the message says why."""


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.0"`` sorts after ``"1.9.2"``."""
    return tuple(int(p) for p in version.split("."))


def normalise(schema: Any) -> dict[str, Any]:
    """Check ``schema`` and return a copy with constraints under ``constraints`` (Table Schema
    form); flat ``required``/``enum``/... keys on a field are accepted and moved there."""
    if not isinstance(schema, dict):
        raise MalformedStandard(f"A standard must be a dict, not {type(schema).__name__}")
    s = copy.deepcopy(schema)
    name, version = s.get("name"), s.get("version")
    label = f"{name}@{version}"
    if not isinstance(name, str) or not NAME.match(name):
        raise MalformedStandard(
            f"Standard {name!r}: 'name' must be lower-case letters, digits and hyphens"
        )
    if not isinstance(version, str) or not VERSION.match(version):
        raise MalformedStandard(f"Standard {name}: 'version' must look like 1.0.0, not {version!r}")

    def bad(msg: str) -> MalformedStandard:
        return MalformedStandard(f"Standard {label}: {msg}")

    s.setdefault("title", name)
    s.setdefault("description", "")
    fields = s.get("fields")
    if not isinstance(fields, list) or not fields:
        raise bad("'fields' must be a non-empty list")
    seen: set[str] = set()
    for i, f in enumerate(fields):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise bad(f"field {i + 1} needs a 'name'")
        fname = f["name"]
        if fname in seen:
            raise bad(f"field {fname!r} appears twice")
        seen.add(fname)
        f.setdefault("type", "string")
        if f["type"] not in FIELD_TYPES:
            raise bad(f"field {fname!r} has unknown type {f['type']!r}")
        cons = f.setdefault("constraints", {})
        if not isinstance(cons, dict):
            raise bad(f"field {fname!r}: 'constraints' must be a dict")
        for key in list(f):
            if key in CONSTRAINTS:
                cons[key] = f.pop(key)
            elif key not in FIELD_KEYS:
                raise bad(f"field {fname!r} has unknown property {key!r}")
        for key, value in cons.items():
            if key not in CONSTRAINTS:
                raise bad(f"field {fname!r} has unknown constraint {key!r}")
            if key in ("required", "unique") and not isinstance(value, bool):
                raise bad(f"field {fname!r}: {key} must be true or false")
            if key == "enum" and (not isinstance(value, list) or not value):
                raise bad(f"field {fname!r}: enum must be a non-empty list")
            if key == "pattern":
                try:
                    re.compile(value)
                except (re.error, TypeError) as exc:
                    raise bad(f"field {fname!r}: pattern does not compile ({exc})") from None
            if key in ("minLength", "maxLength") and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise bad(f"field {fname!r}: {key} must be a whole number")
            if key in ("minimum", "maximum"):
                if f["type"] in ("number", "integer") and (
                    not isinstance(value, (int, float)) or isinstance(value, bool)
                ):
                    raise bad(f"field {fname!r}: {key} must be a number")
                if f["type"] not in ("number", "integer", "date", "datetime", "year"):
                    raise bad(f"field {fname!r}: {key} does not apply to type {f['type']}")
    pk = s.get("primaryKey")
    if pk is not None:
        keys = [pk] if isinstance(pk, str) else pk
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise bad("'primaryKey' must be a field name or a list of them")
        for k in keys:
            if k not in seen:
                raise bad(f"primaryKey names {k!r}, which is not a field")
        s["primaryKey"] = keys
    return s


class Registry:
    """Standards by name, then version (newest last)."""

    def __init__(self, schemas: list[Any]) -> None:
        by_name: dict[str, dict[str, dict[str, Any]]] = {}
        for raw in schemas:
            s = normalise(raw)
            versions = by_name.setdefault(s["name"], {})
            if s["version"] in versions:
                raise MalformedStandard(f"Standard {s['name']}@{s['version']} is registered twice")
            versions[s["version"]] = s
        self.standards = {
            name: dict(sorted(vs.items(), key=lambda kv: version_key(kv[0])))
            for name, vs in sorted(by_name.items())
        }

    def get(self, name: str, version: str | None = None) -> dict[str, Any]:
        """One standard; ``version=None`` is the newest. Raises ``NotFound`` clearly."""
        versions = self.standards.get(name)
        if not versions:
            raise NotFound(f"There is no data standard called {name!r}")
        if version is None:
            return versions[next(reversed(versions))]
        if version not in versions:
            raise NotFound(
                f"Standard {name} has no version {version!r}; it has {', '.join(versions)}"
            )
        return versions[version]

    def resolve(self, conforms_to: str) -> dict[str, Any]:
        """The standard a ``conforms_to`` value ("name@version" or "name") names."""
        name, _, version = conforms_to.strip().partition("@")
        return self.get(name, version or None)

    def summaries(self) -> list[dict[str, Any]]:
        out = []
        for name, versions in self.standards.items():
            newest = versions[next(reversed(versions))]
            out.append(
                {
                    "name": name,
                    "title": newest["title"],
                    "description": newest["description"],
                    "latest": newest["version"],
                    "versions": list(versions),
                }
            )
        return out


def build_registry(plugins: Any) -> Registry:
    schemas: list[Any] = []
    for found in plugins.hook.citydata_standards():
        schemas.extend(found or [])
    return Registry(schemas)


def all_standards(plugins: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Every registered standard: ``{name: {version: schema}}``, versions oldest first."""
    return build_registry(plugins).standards


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of this process's plugins (built once; plugins do not change at run time)."""
    from citydata.plugins import get_plugin_manager

    return build_registry(get_plugin_manager())


def get_standard(name: str, version: str | None = None, *, plugins: Any = None) -> dict[str, Any]:
    """One standard by name (newest version unless ``version``); ``NotFound`` if unknown."""
    registry = build_registry(plugins) if plugins is not None else default_registry()
    return registry.get(name, version)


__all__ = [
    "MalformedStandard",
    "Registry",
    "all_standards",
    "build_registry",
    "default_registry",
    "get_standard",
    "normalise",
]

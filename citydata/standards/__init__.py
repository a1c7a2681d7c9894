"""City data standards: Frictionless Table Schemas that datasets declare with ``conforms_to``.

Standards come from plugins through the ``citydata_standards`` hook (the core's own ones in
:mod:`citydata.standards.core_standards`). :mod:`~citydata.standards.registry` gathers and checks
them; :mod:`~citydata.standards.validate` checks a Parquet snapshot against one, in DuckDB.
"""

from citydata.standards.registry import (
    MalformedStandard,
    Registry,
    all_standards,
    default_registry,
    get_standard,
)

__all__ = ["MalformedStandard", "Registry", "all_standards", "default_registry", "get_standard"]

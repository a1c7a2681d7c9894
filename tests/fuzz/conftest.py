"""Real data for the fuzzers, on both backends: the ``seeded`` users and organisations, a
published CSV (a tabular resource) and a GeoJSON layer (an OGC collection too)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.geo.conftest import libraries_geojson

SPEND_CSV = "id,borough,spend,opened\n" + "".join(
    f"{i},{b},{i * 7 % 50}.5,2024-01-{1 + i % 28:02d}\n"
    for i, b in enumerate(["Camden", "Hackney", "Islington", "Lambeth", "Southwark"] * 8))


@pytest.fixture
def fuzz_data(seeded: dict[str, str], make_ctx: Any, tmp_path: Path) -> dict[str, str]:
    """Publishes ``spend`` (CSV) and ``camden-libraries`` (GeoJSON points) through the real
    publish path; returns tokens, dataset names, resource ids and the collection id."""
    from citydata.catalog.publish import publish_file

    spend = tmp_path / "spend.csv"
    spend.write_text(SPEND_CSV)
    libraries = tmp_path / "libraries.geojson"
    libraries.write_text(json.dumps(libraries_geojson()))
    with make_ctx() as ctx:
        _, spend_resource = publish_file(ctx, spend, org="camden", title="Camden spend",
                                         dataset_name="spend")
        _, library_resource = publish_file(ctx, libraries, org="camden",
                                           title="Camden libraries",
                                           dataset_name="camden-libraries")
    return {**seeded, "dataset": "spend", "resource_id": spend_resource["id"],
            "geo_resource_id": library_resource["id"], "collection": "camden-libraries"}

"""Web test fixtures: a small catalog with open, registered and private datasets and CSV files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSV_V1 = (
    "site,borough,chargers,opened\n"
    "Camden Town,Camden,4,2021-03-01\n"
    "Kentish Town,Camden,2,2022-07-15\n"
    "Euston Road,Camden,6,2020-11-30\n"
)
CSV_V2 = CSV_V1 + "Belsize Park,Camden,3,2024-01-09\n"


def csrf_from(html: str) -> str:
    """The CSRF token of the first form on a page."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def login(client, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/user/login")
    r = client.post("/user/login", data={"csrf_token": csrf_from(page.text),
                                         "username": username, "password": password},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


@pytest.fixture
def catalog(make_ctx, seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three Camden datasets (open with a CSV, registered, private) and one TfL dataset."""
    from citydata.catalog import datasets
    from citydata.catalog.publish import publish_file

    csv_path = tmp_path / "ev-charge-points.csv"
    csv_path.write_text(CSV_V1)
    with make_ctx() as ctx:
        publish_file(ctx, csv_path, org="camden", title="Camden EV charge points",
                     dataset_name="camden-ev", metadata={
                         "notes": "Public **charge points** in Camden.\n\n"
                                  "<script>alert(1)</script>",
                         "tags": [{"name": "ev"}, {"name": "transport"}],
                         "themes": ["TRAN", "ENER"], "boroughs": ["E09000007"],
                         "frequency": "monthly", "contact_email": "data@camden.gov.uk",
                         "temporal_start": "2020-01-01", "temporal_end": "2024-12-31"})
        datasets.create_dataset(ctx, {"name": "camden-registered", "title": "Camden street trees",
                                      "owner_org": "camden", "access_level": "registered",
                                      "tags": [{"name": "trees"}]})
        datasets.create_dataset(ctx, {"name": "camden-secret", "title": "Camden secret survey",
                                      "owner_org": "camden", "access_level": "private",
                                      "tags": [{"name": "ev"}]})
        datasets.create_dataset(ctx, {"name": "tfl-bus-stops", "title": "TfL bus stops",
                                      "owner_org": "tfl", "tags": [{"name": "transport"}],
                                      "themes": ["TRAN"]})
    return {"csv_path": csv_path, **seeded}

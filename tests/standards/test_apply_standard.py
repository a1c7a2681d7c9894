"""Uploads to a dataset that declares a standard are validated; bad ones never become current."""

from __future__ import annotations

import json

import pytest

from citydata.catalog.publish import publish_file
from citydata.catalog.resources import show_resource
from citydata.standards.validate import apply_standard
from citydata.storage.models import Dataset, Resource

HEADER = (
    "permit_reference,promoter,street_name,borough_gss,category,start_date,end_date,status,"
    "lat,lon\n"
)
GOOD = HEADER + (
    "CA001,Thames Water,Camden Road,E09000007,minor,2024-03-01,2024-03-04,planned,51.54,-0.13\n"
    "CA002,UK Power Networks,Kentish Town Road,E09000007,major,2024-04-01,2024-05-01,"
    "in_progress,51.55,-0.14\n"
)
BAD = HEADER + (
    "CA001,Thames Water,Camden Road,E09000007,minor,2024-03-01,2024-03-04,planned,51.54,-0.13\n"
    "CA001,Cadent,Royal College Street,E09000099,huge,2024-04-01,soon,planned,51.55,-0.14\n"
)


@pytest.fixture
def works(make_ctx, seeded, tmp_path):  # type: ignore[no-untyped-def]
    """A dataset that conforms to street-works@1.0.0, and a way to upload versions to it."""
    from citydata.catalog import datasets

    with make_ctx() as ctx:
        datasets.create_dataset(
            ctx, {"name": "camden-works", "title": "Camden street works", "owner_org": "camden"}
        )
        ctx.session.query(Dataset).filter_by(
            name="camden-works"
        ).one().conforms_to = "street-works@1.0.0"

    def upload(text: str) -> dict:
        path = tmp_path / "works.csv"
        path.write_text(text)
        with make_ctx() as ctx:
            _, res = publish_file(
                ctx, path, org="camden", title="Camden street works", dataset_name="camden-works"
            )
        return res

    return upload


def test_apply_standard_marks_a_bad_version_invalid(make_ctx, works):
    res = works(BAD)
    with make_ctx() as ctx:
        r = ctx.session.get(Resource, res["id"])
        ds = ctx.session.get(Dataset, r.dataset_id)
        v = r.versions[-1]
        v.ingest_status, v.report = "ok", json.dumps({"warnings": ["kept"]})
        apply_standard(ctx, ds, v)
        assert v.ingest_status == "invalid"
        report = json.loads(v.report)
        assert report["warnings"] == ["kept"]
        validation = report["validation"]
        assert validation["standard"] == "street-works@1.0.0" and not validation["valid"]
        assert validation["by_field"] == {
            "permit_reference": {"unique": 1},
            "borough_gss": {"pattern": 1},
            "category": {"enum": 1},
            "end_date": {"type": 1},
        }


def test_apply_standard_leaves_good_and_undeclared_versions_alone(make_ctx, works):
    res = works(GOOD)
    with make_ctx() as ctx:
        r = ctx.session.get(Resource, res["id"])
        ds = ctx.session.get(Dataset, r.dataset_id)
        v = r.versions[-1]
        v.ingest_status = "ok"
        apply_standard(ctx, ds, v)
        assert v.ingest_status == "ok" and json.loads(v.report)["validation"]["valid"] is True
        ds.conforms_to = ""
        v.report = "{}"
        apply_standard(ctx, ds, v)
        assert v.report == "{}"


def test_upload_path_validates_against_the_standard(make_ctx, works):
    res = works(GOOD)
    assert res["version"] == 1
    res = works(BAD)
    with make_ctx() as ctx:
        shown = show_resource(ctx, res["id"])
    assert shown["version"] == 1  # the good version stays current
    bad = next(v for v in shown["versions"] if v["version"] == 2)
    assert bad["ingest_status"] == "invalid"
    assert bad["report"]["validation"]["error_count"] == 4

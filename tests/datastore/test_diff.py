"""diff_versions: rows added, removed and changed between two versions, on both backends."""

from __future__ import annotations

import pytest

from citydata.access.actors import Actor
from citydata.catalog.publish import publish_file
from citydata.datastore.diff import diff_versions
from citydata.errors import CitydataError, NotFound, ValidationError
from citydata.storage.models import Dataset

V1 = (
    "tree_id,species,height_m,street\n"
    "1,London plane,21.5,Albany Street\n"
    "2,Lime,12,Camden Road\n"
    "3,Silver birch,8,Chalk Farm Road\n"
    "4,Oak,15,Regent's Park Road\n"
)
V2 = (
    "tree_id,species,height_m,street,planted\n"
    "1,London plane,21.5,Albany Street,1990\n"
    "2,Lime,13,Camden High Street,1985\n"
    "4,Oak,15,Regent's Park Road,1970\n"
    "5,Rowan,4,Delancey Street,2023\n"
)


@pytest.fixture
def publish(make_ctx, seeded, tmp_path):  # type: ignore[no-untyped-def]
    """Publish successive versions of one file; returns the resource id."""

    def _publish(*versions: str, filename: str = "trees.csv", name: str = "camden-trees") -> str:
        path = tmp_path / filename
        rid = ""
        for text in versions:
            path.write_text(text)
            with make_ctx() as ctx:
                _, res = publish_file(
                    ctx, path, org="camden", title="Camden trees", dataset_name=name
                )
                rid = res["id"]
        return rid

    return _publish


def test_keyed_diff_detects_id_column(make_ctx, publish):
    rid = publish(V1, V2)
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2)
    assert d["key"] == ["tree_id"] and d["key_source"] == "detected"
    assert d["summary"] == {
        "added": 1,
        "removed": 1,
        "changed": 1,
        "unchanged": 2,
        "rows_from": 4,
        "rows_to": 4,
    }
    assert [r["tree_id"] for r in d["added"]] == [5]
    assert d["added"][0]["planted"] == 2023
    assert [r["tree_id"] for r in d["removed"]] == [3]
    (changed,) = d["changed"]
    assert changed["key"] == {"tree_id": 2}
    assert changed["changes"] == [
        {"field": "height_m", "old": 12.0, "new": 13.0},
        {"field": "street", "old": "Camden Road", "new": "Camden High Street"},
    ]
    assert changed["row"]["species"] == "Lime"
    assert d["schema"] == {
        "added": [{"name": "planted", "type": "BIGINT"}],
        "removed": [],
        "retyped": [],
    }
    assert d["truncated"] == {"added": False, "removed": False, "changed": False}


def test_limit_caps_examples_not_counts(make_ctx, publish):
    before = "id,v\n" + "".join(f"{i},a\n" for i in range(50))
    after = "id,v\n" + "".join(f"{i},b\n" for i in range(20, 90))
    rid = publish(before, after)
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2, limit=5)
    assert d["summary"]["added"] == 40 and d["summary"]["removed"] == 20
    assert d["summary"]["changed"] == 30 and d["summary"]["unchanged"] == 0
    assert [r["id"] for r in d["added"]] == [50, 51, 52, 53, 54]
    assert len(d["changed"]) == 5 and d["truncated"]["changed"] is True


def test_given_key_and_its_errors(make_ctx, publish):
    rid = publish(V1, V2)
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2, key=["species"])
        assert d["key_source"] == "given" and d["summary"]["changed"] == 1  # the lime
        with pytest.raises(ValidationError) as err:
            diff_versions(ctx, rid, 1, 2, key=["planted"])
        assert err.value.fields == {"key": ["The key column 'planted' is not in version 1"]}


def test_duplicate_keys_are_named(make_ctx, publish):
    rid = publish("code,n\nA,1\nB,2\n", "code,n\nA,1\nA,2\nC,3\nC,4\n")
    with make_ctx() as ctx, pytest.raises(ValidationError) as err:
        diff_versions(ctx, rid, 1, 2, key=["code"])
    msg = err.value.message
    assert "not unique in version 2" in msg and "A (2 times)" in msg and "C (2 times)" in msg


def test_empty_key_values_refused(make_ctx, publish):
    rid = publish("code,n\nA,1\n,2\n", "code,n\nA,1\n")
    with make_ctx() as ctx, pytest.raises(ValidationError, match="empty in 1 rows of version 1"):
        diff_versions(ctx, rid, 1, 2, key=["code"])


def test_key_from_the_datasets_standard(make_ctx, publish):
    header = "permit_reference,street_name,status\n"
    rid = publish(
        header + "P1,High St,planned\nP2,Low St,planned\n",
        header + "P1,High St,in_progress\nP3,Mid St,planned\n",
    )
    with make_ctx() as ctx:
        ds = ctx.session.query(Dataset).filter_by(name="camden-trees").one()
        ds.conforms_to = "street-works@1.0.0"
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2)
    assert d["key"] == ["permit_reference"] and d["key_source"] == "standard"
    assert d["summary"]["changed"] == 1 and d["summary"]["added"] == 1


def test_whole_row_comparison_without_a_key(make_ctx, publish):
    rid = publish("name,n\nx,1\nx,1\ny,2\n", "name,n\nx,1\nz,3\ny,2\n")
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2)
    assert d["key"] == [] and d["key_source"] == "row"
    assert d["summary"] == {
        "added": 1,
        "removed": 1,
        "changed": 0,
        "unchanged": 2,
        "rows_from": 3,
        "rows_to": 3,
    }
    assert d["added"] == [{"name": "z", "n": 3}] and d["removed"] == [{"name": "x", "n": 1}]


def test_retyped_column_reported_and_compared(make_ctx, publish):
    rid = publish("id,code\n1,10\n2,20\n", "id,code\n1,10\n2,B20\n")
    with make_ctx() as ctx:
        d = diff_versions(ctx, rid, 1, 2)
    assert d["schema"]["retyped"] == [{"name": "code", "from": "BIGINT", "to": "VARCHAR"}]
    assert d["summary"]["changed"] == 1
    assert d["changed"][0]["changes"] == [{"field": "code", "old": 20, "new": "B20"}]


def test_unknown_version_is_a_400_on_the_field(make_ctx, publish):
    rid = publish(V1, V2)
    with make_ctx() as ctx, pytest.raises(ValidationError) as err:
        diff_versions(ctx, rid, 1, 7)
    assert err.value.status == 400
    assert err.value.fields == {"to": ["Version 7 of this resource does not exist"]}


def test_unknown_resource_stays_404(make_ctx, seeded):
    with make_ctx() as ctx, pytest.raises(NotFound):
        diff_versions(ctx, "no-such-resource", 1, 2)


def test_non_tabular_version_refused(make_ctx, publish):
    rid = publish("%PDF-1.4 one", "%PDF-1.4 two", filename="report.pdf", name="camden-report")
    with make_ctx() as ctx, pytest.raises(ValidationError, match="PDF is not tabular"):
        diff_versions(ctx, rid, 1, 2)


def test_policy_applies_to_both_versions(make_ctx, publish):
    rid = publish(V1, V2)
    with make_ctx() as ctx:
        ds = ctx.session.query(Dataset).filter_by(name="camden-trees").one()
        ds.access_level = "private"
    with make_ctx(Actor.anonymous()) as ctx, pytest.raises(CitydataError) as err:
        diff_versions(ctx, rid, 1, 2)
    assert err.value.status in (403, 404)


def test_limit_bounds(make_ctx, publish):
    rid = publish(V1, V2)
    with make_ctx() as ctx, pytest.raises(ValidationError):
        diff_versions(ctx, rid, 1, 2, limit=-1)

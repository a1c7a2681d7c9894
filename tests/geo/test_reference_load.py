"""Loading into a real database (SQLite and PostgreSQL) and the lookups."""

from sqlalchemy import func, select

from citydata.geo.reference import borough_for_point, geocode_postcode, load_reference
from citydata.storage.models import RefBorough, RefLsoa, RefMeta, RefPostcode


def _counts(db):
    with db.session() as s:
        return {
            t.__tablename__: s.scalar(select(func.count()).select_from(t))
            for t in (RefBorough, RefLsoa, RefPostcode)
        }


def test_load_reload_and_lookups(platform):
    db, settings = platform.db, platform.settings.model_copy(update={"postcodes": "london"})
    seen: list[str] = []
    first = load_reference(db, settings, progress=seen.append)
    assert first["boroughs"] == 33
    assert first["lsoas"] == 4835
    assert 150_000 < first["postcodes"] < 250_000
    assert first["skipped"] == []
    assert {m.split(":")[0] for m in seen} == {"boroughs", "lsoas", "postcodes"}
    counts = _counts(db)
    assert counts == {"ref_boroughs": 33, "ref_lsoas": 4835, "ref_postcodes": first["postcodes"]}

    second = load_reference(db, settings)
    assert second["skipped"] == ["boroughs", "lsoas", "postcodes"]
    assert {k: second[k] for k in ("boroughs", "lsoas", "postcodes")} == {
        k: first[k] for k in ("boroughs", "lsoas", "postcodes")
    }
    assert _counts(db) == counts

    with db.session() as s:
        assert "Royal Mail" in s.get(RefMeta, "reference:postcodes:attribution").value
        assert borough_for_point(s, -0.1426, 51.5390).name == "Camden"  # Camden Town
        assert borough_for_point(s, -0.0918, 51.5155).gss_code == "E09000001"  # Guildhall
        assert borough_for_point(s, 0.0054, 51.4826).name == "Greenwich"  # the Observatory
        assert borough_for_point(s, -1.2577, 51.7520) is None  # Oxford

        palace = geocode_postcode(s, "sw1a1aa")
        assert palace is not None and palace.postcode == "SW1A 1AA"
        assert abs(palace.lat - 51.501) < 0.002 and abs(palace.lon + 0.1416) < 0.002
        assert palace.district_gss == "E09000033"
        assert borough_for_point(s, palace.lon, palace.lat).name == "Westminster"
        assert geocode_postcode(s, "AB10 1AB") is None  # Aberdeen: not loaded in "london"
        assert geocode_postcode(s, "nonsense") is None


def test_changed_source_reloads_without_duplicates(platform):
    db, settings = platform.db, platform.settings  # postcodes="none": leave them out
    first = load_reference(db, settings)
    assert "postcodes" not in first
    with db.session() as s:
        s.get(RefMeta, "reference:boroughs").value = "stale"
    again = load_reference(db, settings)
    assert again["skipped"] == ["lsoas"]
    assert _counts(db) == {"ref_boroughs": 33, "ref_lsoas": 4835, "ref_postcodes": 0}


def test_failed_load_leaves_previous_rows(platform, tmp_path):
    """A source that fails half-way (a renamed borough) rolls back to the previous rows."""
    import json
    import shutil

    import pytest

    from citydata.geo.london import UnknownBoroughError

    db, settings = platform.db, platform.settings
    load_reference(db, settings)
    # A changed copy of the npm package: same layout, one borough renamed.
    package = tmp_path / "node_modules" / "vega-datasets"
    shutil.copytree(
        settings.node_modules / "vega-datasets" / "data",
        package / "data",
        ignore=lambda d, names: [n for n in names if n != "londonBoroughs.json"],
    )
    shutil.copy(settings.node_modules / "vega-datasets" / "package.json", package)
    topology = json.loads((package / "data" / "londonBoroughs.json").read_text())
    for geometry in topology["objects"]["boroughs"]["geometries"]:
        if geometry["id"] == "Camden":
            geometry["id"] = "Camdem"
    (package / "data" / "londonBoroughs.json").write_text(json.dumps(topology))
    broken = settings.model_copy(update={"node_modules": tmp_path / "node_modules"})

    with pytest.raises(UnknownBoroughError, match="Camdem"):
        load_reference(db, broken)
    with db.session() as s:
        assert s.get(RefBorough, "E09000007").name == "Camden"
    assert _counts(db)["ref_boroughs"] == 33

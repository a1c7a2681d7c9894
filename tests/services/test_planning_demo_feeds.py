"""The Planning Datahub's feed configurations and demo feeds: 35 authorities configured as
data, feeds written in five source shapes, the messiness each authority's manifest claims
(checked by reading the files back), and a replay of live changes (issue #7)."""

from __future__ import annotations

import csv
import functools
import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.geometry import Polygon, shape

from citydata.geo.london import BOROUGHS, LONDON_BBOX
from citydata.geo.postcodes import normalise_postcode
from citydata.geo.reference import iter_postcodes
from citydata.services.planning import demo_feeds, standard
from citydata.services.planning.demo_feeds import (
    CORPORATION_SECTORS,
    FEEDS_DIR,
    FREE_TEXT_STATUSES,
    LLDC,
    OPDC,
    QUIRK_RATES,
    UNMAPPED_STATUSES,
    Replay,
    feed_config,
    garbage,
    generate,
    load_authorities,
    london_places,
    meaning,
    normalise_value,
    value_rules,
    vocabulary,
    write_feed,
)

TODAY = date(2025, 6, 30)
PER_AUTHORITY = 120
DERIVED = {"id", "lpa_code", "lpa_name", "centroid", "site_geometry"}
PSEUDO = {"status_text", "decision_text", "address", "easting", "northing", "longitude",
          "latitude", "geometry_wkt", "geometry_geojson", "ignore"}
TARGETS = {f["name"] for f in standard.PLANNING_APPLICATIONS["fields"]} - DERIVED | PSEUDO
CODES = {"application_type": standard.APPLICATION_TYPES, "status": standard.STATUSES,
         "decision": standard.DECISIONS, "decision_text": standard.DECISIONS,
         "decision_agency": standard.DECISION_AGENCIES,
         "appeal_status": standard.APPEAL_STATUSES,
         "appeal_decision": standard.APPEAL_DECISIONS}
CONFIG_KEYS = {"format", "csv", "json", "columns", "dates", "datetimes", "crs", "values",
               "nulls", "url_template"}
BNG_LONDON = (500_000, 150_000, 565_000, 205_000)
AUTHORITIES = load_authorities()
BY_SLUG = {a.slug: a for a in AUTHORITIES}


@functools.cache
def rules_of(slug: str) -> dict[str, dict[str, Any]]:
    return value_rules(BY_SLUG[slug])


@functools.cache
def config_of(slug: str) -> dict[str, Any]:
    return feed_config(BY_SLUG[slug])


@pytest.fixture(scope="module")
def places(reference_settings):
    return london_places(reference_settings)


@pytest.fixture(scope="module")
def districts(reference_settings) -> dict[str, str]:
    """Every London postcode in the reference data → its district."""
    return {r["postcode"]: r["district_gss"]
            for r in iter_postcodes(reference_settings, london_only=True)}


@pytest.fixture(scope="module")
def feeds(tmp_path_factory, places):
    out = tmp_path_factory.mktemp("feeds")
    return out, generate(out, places, per_authority=PER_AUTHORITY, seed=7, today=TODAY)


# --- reading feeds back, independently of the generator ----------------------------------


def read_records(config: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    if config["format"] == "csv":
        with path.open(encoding=config["csv"]["encoding"], newline="") as f:
            return list(csv.DictReader(f, delimiter=config["csv"]["delimiter"]))
    records: list[dict[str, Any]] = []
    page: Path | None = path
    while page is not None:
        body = json.loads(page.read_text(encoding="utf-8"))
        records += dig(body, config["json"]["records"])
        nxt = dig(body, config["json"]["next"]) if config["format"] == "json-paged" else None
        page = page.with_name(nxt) if nxt else None
    return records


def dig(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def flat(config: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """target → value, the configured null tokens read as None."""
    nulls = {normalise_value(n) for n in config.get("nulls", [""])}
    out = {}
    for column, target in config["columns"].items():
        value = record.get(column) if config["format"] == "csv" else dig(record, column)
        if isinstance(value, str) and normalise_value(value) in nulls:
            value = None
        if target != "ignore":
            out[target] = value
    return out


def parse_date(config: dict[str, Any], text: str) -> tuple[date, int] | None:
    for i, fmt in enumerate(config["dates"]):
        try:
            return datetime.strptime(text, fmt).date(), i
        except ValueError:
            continue
    return None


def postcode_of(row: dict[str, Any]) -> str | None:
    if "postcode" in row:
        return row["postcode"]
    return row["address"].rsplit(", ", 1)[-1] if row.get("address") else None


def geometry_of(config: dict[str, Any], row: dict[str, Any]) -> tuple[str, Any]:
    """("unparseable" | "invalid" | "ok", geometry or (x, y) in the feed's CRS)."""
    try:
        if row.get("geometry_wkt") is not None:
            geom = shapely_wkt.loads(row["geometry_wkt"])
        elif row.get("geometry_geojson") is not None:
            geom = shape(row["geometry_geojson"])
        elif "easting" in row:
            return "ok", (float(row["easting"]), float(row["northing"]))
        else:
            return "ok", (float(row["longitude"]), float(row["latitude"]))
    except Exception:
        return "unparseable", None
    return ("ok" if geom.is_valid else "invalid"), geom


def inside(config: dict[str, Any], x: float, y: float) -> bool:
    west, south, east, north = BNG_LONDON if config.get("crs") == "EPSG:27700" else LONDON_BBOX
    return west <= x <= east and south <= y <= north


def problems(authority, config, rows, raw, districts) -> tuple[Counter, list[int]]:
    """Count each kind of problem the way a careful reader of the feed would see it; also
    return the indexes of the rows with none."""
    rules = rules_of(authority.slug)
    status_target = "status_text" if "status_text" in config["columns"].values() else "status"
    found: Counter = Counter()
    clean = []
    groups: dict[str, list[str]] = defaultdict(list)
    for i, (row, record) in enumerate(zip(rows, raw, strict=True)):
        kinds = []
        ref = row["lpa_app_no"]
        if not ref:
            kinds.append("missing_reference")
        else:
            groups[ref].append(json.dumps(record, sort_keys=True))
        dates = {t: parse_date(config, row[t]) for t in
                 ("received_date", "valid_date", "decision_date") if row.get(t)}
        assert all(dates.values()), (authority.slug, row)
        if any(not 1950 <= d.year <= TODAY.year + 1 for d, _ in dates.values()):
            kinds.append("impossible_dates")
        elif any(i > 0 for _, i in dates.values()):
            kinds.append("other_date_format")
        elif "decision_date" in dates and dates["decision_date"][0] < dates["received_date"][0]:
            kinds.append("decision_before_received")
        status = row[status_target]
        if status in FREE_TEXT_STATUSES["decided"] + FREE_TEXT_STATUSES["undecided"]:
            kinds.append("free_text_status")
        elif normalise_value(status) not in rules[status_target]:
            assert status in UNMAPPED_STATUSES["decided"] + UNMAPPED_STATUSES["undecided"]
            kinds.append("unmapped_status")
        for target in CODES:
            if row.get(target) is not None and target != status_target:
                assert normalise_value(row[target]) in rules[target], (target, row[target])
        postcode = postcode_of(row)
        if normalise_postcode(postcode) is None:
            kinds.append("truncated_postcodes")
        elif normalise_postcode(postcode) != postcode:
            kinds.append("unformatted_postcodes")
        elif postcode not in districts:
            kinds.append("non_london_postcodes")
        state, geom = geometry_of(config, row)
        if state == "unparseable":
            kinds.append("unparseable_geometry")
        elif state == "invalid":
            kinds.append("bow_tie_polygons")
        else:
            x, y = geom if isinstance(geom, tuple) else (geom.centroid.x, geom.centroid.y)
            if inside(config, y, x):
                kinds.append("swapped_coordinates")
            elif not inside(config, x, y):
                kinds.append("far_outside")
        if row.get("uprn") is not None and not re.fullmatch(r"[0-9]{1,12}", str(row["uprn"])):
            kinds.append("mangled_uprns")
        units = row.get("proposed_residential_units")
        if units is not None:
            if not re.fullmatch(r"-?[0-9]+", str(units)):
                kinds.append("units_as_text")
            elif int(units) < 0:
                kinds.append("negative_units")
        text = row["description"]
        if re.search(r"&(amp|quot|lt|gt|#[0-9]+);", text):
            kinds.append("html_entities")
        elif text != " ".join(text.split()):
            kinds.append("stray_whitespace")
        assert len(kinds) <= 1, (authority.slug, kinds, row)  # one problem per row at most
        found.update(kinds)
        if not kinds:
            clean.append(i)
    for copies in groups.values():
        found["exact_duplicates"] += len(copies) - len(set(copies))
        found["conflicting_duplicates"] += len(set(copies)) - 1
    return +found, clean


def read_feed(out: Path, entry: dict[str, Any], authority):
    config = config_of(authority.slug)
    raw = read_records(config, out / entry["path"])
    return config, raw, [flat(config, r) for r in raw]


# --- configuration -----------------------------------------------------------------------


def test_35_authorities_with_unique_slugs_codes_and_prefixes():
    assert len(AUTHORITIES) == 35
    for attr in ("slug", "lpa_code", "id_prefix", "lpa_name"):
        assert len({getattr(a, attr) for a in AUTHORITIES}) == 35, attr
    assert {a.lpa_code for a in AUTHORITIES} == set(BOROUGHS) | {LLDC, OPDC}
    for a in AUTHORITIES:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", a.slug)
        assert re.fullmatch(r"[A-Za-z][A-Za-z_]*", a.id_prefix)
        if a.lpa_code in BOROUGHS:
            assert a.lpa_name == BOROUGHS[a.lpa_code]
            assert a.id_prefix == a.lpa_name.replace(" ", "_")
            assert a.slug == a.lpa_name.lower().replace(" ", "-")
        assert (FEEDS_DIR / "shapes" / f"{a.shape}.json").exists()
        assert set(a.overrides) <= CONFIG_KEYS
        assert set(a.quirks) <= set(QUIRK_RATES)
    assert (BY_SLUG["lldc"].id_prefix, BY_SLUG["opdc"].id_prefix) == ("LLDC", "OPDC")
    assert BY_SLUG["city-of-london"].id_prefix == "City_of_London"


def test_every_shape_maps_its_columns_to_standard_targets():
    shapes = sorted((FEEDS_DIR / "shapes").glob("*.json"))
    assert len(shapes) >= 5
    for path in shapes:
        config = json.loads(path.read_text(encoding="utf-8"))
        assert set(config) <= CONFIG_KEYS, path.name
        assert config["format"] in ("csv", "json", "json-paged")
        assert ("csv" in config) == (config["format"] == "csv")
        if config["format"] != "csv":
            assert config["json"]["records"]
            assert ("next" in config["json"]) == (config["format"] == "json-paged")
        targets = list(config["columns"].values())
        assert set(targets) <= TARGETS, (path.name, set(targets) - TARGETS)
        assert targets.count("lpa_app_no") == 1
        real = [t for t in targets if t != "ignore"]
        assert len(real) == len(set(real)), path.name
        assert config["dates"] and config["datetimes"]
        assert config.get("crs", "EPSG:4326") in ("EPSG:4326", "EPSG:27700")


def test_the_shapes_are_clearly_different():
    def shape(name: str) -> dict[str, Any]:
        return json.loads((FEEDS_DIR / "shapes" / f"{name}.json").read_text(encoding="utf-8"))

    idox, northgate = shape("idox-csv"), shape("northgate-csv")
    agile, arcus, ocella = shape("agile-json"), shape("arcus-json-paged"), shape("ocella-csv")
    assert idox["csv"]["delimiter"] == "," and idox["dates"] == ["%d/%m/%Y"]
    assert all(w[0].isupper() or w.startswith("(") for c in idox["columns"] for w in c.split())
    assert northgate["csv"]["delimiter"] == ";" and northgate["crs"] == "EPSG:27700"
    assert all(re.fullmatch(r"[A-Z_]+", c) for c in northgate["columns"])
    assert {"easting", "northing"} <= set(northgate["columns"].values())
    assert northgate["dates"] == ["%Y-%m-%d %H:%M:%S"]
    assert agile["json"]["records"] == "results" and agile["dates"] == ["%Y-%m-%d"]
    assert agile["columns"]["location"] == "geometry_geojson"
    assert arcus["json"] == {"records": "data.items", "next": "links.next"}
    assert "geometry_wkt" in arcus["columns"].values() and arcus["crs"] == "EPSG:27700"
    assert ocella["dates"] == ["%d-%b-%Y"]
    assert {"latitude", "longitude", "address"} <= set(ocella["columns"].values())


def valid_rule(target: str, value: Any) -> bool:
    if target == "status_text" or isinstance(value, dict):
        lists = {"status": standard.STATUSES, "decision": standard.DECISIONS,
                 "appeal_status": standard.APPEAL_STATUSES,
                 "appeal_decision": standard.APPEAL_DECISIONS}
        return isinstance(value, dict) and bool(value) and all(
            k in lists and v in lists[k] for k, v in value.items())
    return value in CODES[target]


def test_every_value_rule_maps_to_codes_of_the_standard():
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1]
        return dict(pairs)

    common = json.loads((FEEDS_DIR / "values.json").read_text(encoding="utf-8"),
                        object_pairs_hook=no_duplicates)
    assert set(common) == set(CODES) | {"status_text"}
    sources = [common] + [a.overrides.get("values", {}) for a in AUTHORITIES]
    for rules in sources:
        for target, mapping in rules.items():
            for source, code in mapping.items():
                assert source == normalise_value(source), source
                assert valid_rule(target, code), (target, source, code)


def test_the_words_each_feed_uses_are_mapped_except_the_deliberately_unmapped():
    for authority in AUTHORITIES:
        rules = value_rules(authority)
        for target, keys in vocabulary(authority).items():
            for key, words in keys.items():
                for word in words:
                    assert rules[target].get(normalise_value(word)) == meaning(target, key), (
                        authority.slug, target, word)
        targets = set(config_of(authority.slug)["columns"].values())
        status_target = "status_text" if "status_text" in targets else "status"
        words = vocabulary(authority)
        for target in set(words) & set(CODES) - {"status"}:
            assert set(words[target]) == set(CODES[target]), (authority.slug, target)
        said = {meaning(status_target, key)["status"] if status_target == "status_text" else key
                for key in words[status_target]}
        assert said == set(standard.STATUSES), authority.slug
        for word in FREE_TEXT_STATUSES["decided"] + FREE_TEXT_STATUSES["undecided"]:
            assert normalise_value(word) in rules["status"]
            assert normalise_value(word) in rules["status_text"]
        for word in UNMAPPED_STATUSES["decided"] + UNMAPPED_STATUSES["undecided"]:
            assert normalise_value(word) not in rules[status_target]


# --- places ------------------------------------------------------------------------------


def test_places_group_real_postcodes_by_planning_authority(places, districts):
    assert set(places) == set(BOROUGHS) | {LLDC, OPDC}
    for code, rows in places.items():
        assert rows
        for place in rows[:: max(1, len(rows) // 50)]:
            assert districts[place.postcode] == code or code in CORPORATION_SECTORS
            in_corporation = any(place.postcode[:-2] in s for s in CORPORATION_SECTORS.values())
            assert in_corporation == (code in CORPORATION_SECTORS)
            assert LONDON_BBOX[0] < place.lon < LONDON_BBOX[2]
            assert BNG_LONDON[1] < place.northing < BNG_LONDON[3]
    assert any(p.postcode.startswith("E20 ") for p in places[LLDC])
    assert any(p.postcode.startswith("NW10 ") for p in places[OPDC])


# --- the historical feeds ----------------------------------------------------------------


@pytest.mark.parametrize(("shape", "quirk"), [
    ("northgate-csv", "bow_tie_polygons"),  # a point has no corners to swap
    ("ocella-csv", "unparseable_geometry"),
    ("idox-csv", "other_date_format"),  # without a second date format
    ("agile-json", "no_such_problem"),
])
def test_a_quirk_the_feed_cannot_show_is_refused(tmp_path, places, shape, quirk, monkeypatch):
    odd = replace(BY_SLUG["sutton"], shape=shape, overrides={}, quirks=(quirk,))
    monkeypatch.setattr(demo_feeds, "load_authorities", lambda: [odd])
    with pytest.raises(ValueError, match=quirk):
        generate(tmp_path, places, per_authority=5, today=TODAY)


def test_generate_is_deterministic_for_a_seed(tmp_path, places):
    def files(seed: int, name: str) -> dict[str, bytes]:
        out = tmp_path / name
        generate(out, places, per_authority=30, seed=seed, today=TODAY)
        return {p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*")) if p.is_file()}

    first, again, other = files(7, "a"), files(7, "b"), files(8, "c")
    assert first == again
    assert set(first) == set(other) and first != other
    assert len([n for n in first if n != "manifest.json"]) >= 35


def test_every_feed_parses_in_its_own_shape(feeds):
    out, manifest = feeds
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert set(manifest) == set(BY_SLUG)
    for slug, entry in manifest.items():
        authority = BY_SLUG[slug]
        config, raw, rows = read_feed(out, entry, authority)
        assert entry["format"] == config["format"]
        assert len(raw) == entry["rows"] >= PER_AUTHORITY
        if config["format"] == "csv":
            first = (out / entry["path"]).read_text(encoding=config["csv"]["encoding"])
            header = first.splitlines()[0].split(config["csv"]["delimiter"])
            assert header == list(config["columns"])
        else:
            nested = defaultdict(set)
            for column in config["columns"]:
                if "." in column:
                    group, leaf = column.split(".")
                    nested[group].add(leaf)
            for record in raw:
                assert set(record) == {c.split(".")[0] for c in config["columns"]}
                for group, leaves in nested.items():
                    assert record[group] is None or set(record[group]) == leaves
        assert all(r["last_updated"] for r in rows)
        for r in rows:
            datetime.strptime(r["last_updated"], config["datetimes"][0])


def test_the_feeds_use_real_postcodes_of_each_authority(feeds, districts):
    out, manifest = feeds
    for slug, entry in manifest.items():
        authority = BY_SLUG[slug]
        config, raw, rows = read_feed(out, entry, authority)
        _, clean = problems(authority, config, rows, raw, districts)
        assert len(clean) > 0.8 * len(rows)
        for i in clean:
            postcode = postcode_of(rows[i])
            assert postcode in districts, (slug, postcode)
            if authority.lpa_code in CORPORATION_SECTORS:
                assert postcode[:-2] in CORPORATION_SECTORS[authority.lpa_code]
            else:
                assert districts[postcode] == authority.lpa_code


def test_each_feed_has_exactly_the_problems_its_manifest_says(feeds, districts):
    out, manifest = feeds
    for slug, entry in manifest.items():
        authority = BY_SLUG[slug]
        config, raw, rows = read_feed(out, entry, authority)
        found, _ = problems(authority, config, rows, raw, districts)
        assert set(entry["injected"]) == set(authority.quirks)
        assert dict(found) == {k: v for k, v in entry["injected"].items() if v}, slug
        assert all(entry["injected"][q] >= 1 for q in authority.quirks), slug
        assert entry["rows"] == PER_AUTHORITY + found["exact_duplicates"] + found[
            "conflicting_duplicates"]
    every = {q for a in AUTHORITIES for q in a.quirks}
    assert every == set(QUIRK_RATES)


def test_a_few_authorities_are_clean(feeds, districts):
    out, manifest = feeds
    clean = [a for a in AUTHORITIES if not a.quirks]
    assert 3 <= len(clean) <= 8
    for authority in clean:
        config, raw, rows = read_feed(out, manifest[authority.slug], authority)
        found, _ = problems(authority, config, rows, raw, districts)
        assert not found, (authority.slug, found)
        assert manifest[authority.slug]["injected"] == {}


def decode(authority, row: dict[str, Any]) -> dict[str, Any]:
    """The standard's codes for a row, by the authority's value rules."""
    rules = rules_of(authority.slug)
    out: dict[str, Any] = {"application_type": rules["application_type"][
        normalise_value(row["application_type"])]}
    if "status_text" in row:
        out.update(rules["status_text"].get(normalise_value(row["status_text"]), {}))
    else:
        out["status"] = rules["status"].get(normalise_value(row["status"]))
    for target in ("decision", "decision_text"):
        if row.get(target):
            out["decision"] = rules[target][normalise_value(row[target])]
    return out


def test_the_applications_look_like_london_planning(feeds, districts):
    out, manifest = feeds
    kinds: Counter = Counter()
    statuses: Counter = Counter()
    decisions: Counter = Counter()
    lags, refs, areas = [], [], 0
    recent: Counter = Counter()  # received in the last four weeks: undecided?
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform
    for slug, entry in manifest.items():
        authority = BY_SLUG[slug]
        config, raw, rows = read_feed(out, entry, authority)
        _, clean = problems(authority, config, rows, raw, districts)
        for i in clean:
            row = rows[i]
            codes = decode(authority, row)
            kinds[codes["application_type"]] += 1
            statuses[codes.get("status")] += 1
            if codes.get("decision"):
                decisions[codes["decision"]] += 1
            received = parse_date(config, row["received_date"])[0]
            assert TODAY.replace(year=TODAY.year - 8) <= received <= TODAY
            if row.get("decision_date") and row.get("valid_date"):
                lags.append((parse_date(config, row["decision_date"])[0]
                             - parse_date(config, row["valid_date"])[0]).days)
                assert datetime.strptime(row["last_updated"], config["datetimes"][0]).date() \
                    >= parse_date(config, row["decision_date"])[0]
            if (TODAY - received).days <= 28:
                recent[codes.get("status") in ("received", "validated", "under_consideration")] += 1
            refs.append(re.sub(r"[0-9]", "9", row["lpa_app_no"]))
            state, geom = geometry_of(config, row)
            if not isinstance(geom, tuple):
                metres = geom if config.get("crs") == "EPSG:27700" else Polygon(
                    zip(*to_bng(*geom.exterior.xy), strict=True))
                assert abs(metres.area / 10_000 - float(row["site_area_ha"])) <= max(
                    0.0002, 0.02 * float(row["site_area_ha"])), (slug, row)
                areas += 1
    assert kinds.most_common(1)[0][0] == "householder"
    assert {"full", "prior_approval", "trees", "listed_building", "conditions"} <= set(kinds)
    approvals = sum(v for k, v in decisions.items()
                    if k not in ("refused", "prior_approval_refused", "not_lawful"))
    assert 0.8 <= approvals / sum(decisions.values()) <= 0.93
    assert statuses["withdrawn"] and statuses["appealed"]
    assert recent[True] > 4 * recent[False]  # recent ones are mostly undecided
    assert 49 <= statistics.median(lags) <= 91  # 7 to 13 weeks
    assert len(set(refs)) >= 15  # reference formats differ by authority
    assert areas > 1000


# --- replay ------------------------------------------------------------------------------


def test_replay_streams_new_applications_and_later_decides_them(tmp_path, places, feeds):
    out, manifest = feeds
    historical = historical_keys(feeds)
    replay = Replay(places, seed=7, today=TODAY, per_authority=PER_AUTHORITY)
    first_seen: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    updated_history = decided_later = 0
    kinds: Counter = Counter()
    last: dict[tuple[str, str], datetime] = {}
    for number in range(30):
        batch = replay.next_batch(400)
        assert sum(len(v) for v in batch.values()) == 400
        for slug, records in batch.items():
            authority = BY_SLUG[slug]
            config = config_of(slug)
            for record in records:
                row = flat(config, record)
                key = (slug, row["lpa_app_no"])
                codes = decode(authority, row)
                assert codes.get("status") in standard.STATUSES, row
                assert row["description"] == " ".join(row["description"].split())
                stamp = datetime.strptime(row["last_updated"], config["datetimes"][0])
                assert stamp >= last.get(key, stamp)
                assert stamp.date() > TODAY
                last[key] = stamp
                if key in historical:  # carries on the same application, never another
                    received = parse_date(config, row["received_date"])[0]
                    assert historical[key] == (received, codes["application_type"]), key
                    updated_history += 1
                elif key not in first_seen:
                    assert codes["status"] == "received", row
                    first_seen[key] = (number, row)
                    kinds["new"] += 1
                else:
                    kinds[codes["status"]] += 1
                    if codes["status"] == "decided" and first_seen[key][0] < number:
                        decided_later += 1
        if number == 0:
            paths = replay.write(tmp_path / "delta", batch)
            assert set(paths) == set(batch)
            for slug, path in paths.items():
                assert len(read_records(feed_config(BY_SLUG[slug]), path)) == len(batch[slug])
    total = sum(kinds.values()) + updated_history
    assert kinds["new"] > 0.5 * total  # mostly new applications
    assert kinds["validated"] + kinds["under_consideration"] > 0
    assert decided_later > 0 and updated_history > 0


def historical_keys(feeds) -> dict[tuple[str, str], tuple[date, str]]:
    """(slug, reference) → (received, application type) in the historical feeds."""
    out, manifest = feeds
    every = {}
    for slug, entry in manifest.items():
        config = config_of(slug)
        for row in read_feed(out, entry, BY_SLUG[slug])[2]:
            received = parse_date(config, row["received_date"])
            kind = decode(BY_SLUG[slug], row)["application_type"]
            if row["lpa_app_no"] and received and received[1] == 0 and \
                    1950 <= received[0].year <= TODAY.year:
                every[(slug, row["lpa_app_no"])] = (received[0], kind)
    return every


def test_a_replay_of_another_seed_never_reuses_a_historical_reference(places, feeds):
    historical = historical_keys(feeds)
    replay = Replay(places, seed=8, today=TODAY)
    for _ in range(5):
        for slug, records in replay.next_batch(500).items():
            config = config_of(slug)
            for record in records:
                ref = flat(config, record)["lpa_app_no"]
                assert ref and (slug, ref) not in historical


def test_replay_is_deterministic_for_a_seed(places):
    def run() -> dict[str, list[dict[str, Any]]]:
        replay = Replay(places, seed=3, today=TODAY, per_authority=20)
        replay.next_batch(300)
        return replay.next_batch(300)

    assert run() == run()


# --- helpers for the pipeline's tests ----------------------------------------------------


def test_write_feed_renames_and_drops_columns(tmp_path, places):
    replay = Replay(places, seed=1, today=TODAY, per_authority=10)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    while not all(len(rows[s]) >= 3 for s in ("hackney", "camden", "greenwich")):
        for slug, records in replay.next_batch(200).items():
            rows[slug] += records
    csv_path = write_feed(BY_SLUG["hackney"], rows["hackney"], tmp_path,
                          rename={"Proposal": "Description of Proposal"}, drop=["UPRN"])
    header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "Description of Proposal" in header and "Proposal" not in header
    assert "UPRN" not in header and len(header) == len(feed_config(BY_SLUG["hackney"])[
        "columns"]) - 1
    json_path = write_feed(BY_SLUG["camden"], rows["camden"], tmp_path,
                           rename={"site.postcode": "site.postCode", "appeal.status": "state"},
                           drop=["ward"])
    written = json.loads(json_path.read_text())["results"]
    first = written[0]
    assert "postCode" in first["site"] and "postcode" not in first["site"]
    assert "ward" not in first and "state" in first
    assert [r["site"]["postCode"] for r in written] == [r["site"]["postcode"]
                                                        for r in rows["camden"]]
    many = (rows["greenwich"] * 250)[:600]
    paged = write_feed(BY_SLUG["greenwich"], many, tmp_path)
    config = feed_config(BY_SLUG["greenwich"])
    assert len(read_records(config, paged)) == 600
    assert sorted(p.name for p in paged.parent.glob("page-*.json")) == [
        "page-1.json", "page-2.json", "page-3.json"]


@pytest.mark.parametrize("slug", ["hackney", "brent", "camden", "greenwich", "bexley"])
def test_garbage_is_unparseable_in_each_shape(tmp_path, slug):
    authority = BY_SLUG[slug]
    config = feed_config(authority)
    suffix = ".csv" if config["format"] == "csv" else ".json"
    path = garbage(tmp_path / f"{slug}{suffix}")
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        read_records(config, path)

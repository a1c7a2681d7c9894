"""The standards registry: core standards load through the hook; malformed ones are refused."""

from __future__ import annotations

import pytest

from citydata.errors import NotFound, ValidationError
from citydata.plugins import get_plugin_manager
from citydata.standards.registry import MalformedStandard, Registry, all_standards, get_standard
from citydata.standards.validate import check_conforms_to

OK = {"name": "bins", "version": "1.0.0", "fields": [{"name": "id"}]}


def test_core_standards_come_through_the_hook():
    found = all_standards(get_plugin_manager())
    assert {"ev-charge-points", "air-quality-readings", "cultural-venues", "street-works"} <= set(
        found
    )
    ev = found["ev-charge-points"]["1.0.0"]
    assert ev["primaryKey"] == ["id"]
    power = next(f for f in ev["fields"] if f["name"] == "power_kw")
    assert power["type"] == "number" and power["constraints"]["minimum"] == 0


def test_versions_newest_by_number_and_flat_constraints_normalised():
    reg = Registry(
        [
            {**OK, "version": "1.9.0"},
            {**OK, "version": "1.10.0", "fields": [{"name": "id", "required": True}]},
        ]
    )
    newest = reg.get("bins")
    assert newest["version"] == "1.10.0"
    assert newest["fields"][0]["constraints"] == {"required": True}
    assert list(reg.standards["bins"]) == ["1.9.0", "1.10.0"]
    assert reg.resolve("bins@1.9.0")["version"] == "1.9.0"
    with pytest.raises(NotFound, match="no version '2.0.0'; it has 1.9.0, 1.10.0"):
        reg.get("bins", "2.0.0")


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ("not a dict", "must be a dict"),
        ({**OK, "name": "Bins!"}, "'name' must be lower-case"),
        ({**OK, "version": "one"}, "'version' must look like 1.0.0"),
        ({**OK, "fields": []}, "'fields' must be a non-empty list"),
        ({**OK, "fields": [{"name": "a"}, {"name": "a"}]}, "field 'a' appears twice"),
        ({**OK, "fields": [{"name": "a", "type": "float"}]}, "unknown type 'float'"),
        ({**OK, "fields": [{"name": "a", "colour": "red"}]}, "unknown property 'colour'"),
        ({**OK, "fields": [{"name": "a", "constraints": {"big": 1}}]}, "unknown constraint"),
        ({**OK, "fields": [{"name": "a", "pattern": "("}]}, "pattern does not compile"),
        ({**OK, "fields": [{"name": "a", "enum": []}]}, "enum must be a non-empty list"),
        ({**OK, "fields": [{"name": "a", "type": "number", "minimum": "0"}]}, "must be a number"),
        ({**OK, "primaryKey": ["nope"]}, "primaryKey names 'nope'"),
    ],
)
def test_malformed_schemas_refused_clearly(schema, problem):
    with pytest.raises(MalformedStandard, match=problem):
        Registry([schema])


def test_same_version_twice_refused():
    with pytest.raises(MalformedStandard, match="bins@1.0.0 is registered twice"):
        Registry([OK, OK])


def test_get_standard_and_check_conforms_to():
    assert get_standard("street-works")["primaryKey"] == ["permit_reference"]
    assert check_conforms_to("ev-charge-points") == "ev-charge-points@1.0.0"
    assert check_conforms_to(" ev-charge-points@1.0.0 ") == "ev-charge-points@1.0.0"
    assert check_conforms_to("") == ""
    with pytest.raises(ValidationError) as err:
        check_conforms_to("ev-charge-points@9.9.9")
    assert "no version '9.9.9'" in err.value.fields["conforms_to"][0]
    with pytest.raises(ValidationError) as err:
        check_conforms_to("unicorns")
    assert err.value.fields == {"conforms_to": ["There is no data standard called 'unicorns'"]}

"""Property-based tests of the CKAN Action API's parameters (in-process client, both
backends): whatever a client sends, the answer is a CKAN envelope whose ``success`` matches
its status, and never a server error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ACTION = "/api/3/action/"
CLIENT_ERRORS = {400, 403, 404, 409}
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])

#: Arbitrary text (NUL included: it must be refused cleanly on both backends), numbers as
#: clients write them, and JSON-ish values.
texts = st.text(max_size=40)
numbers = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(str), texts)
sort_values = st.one_of(texts, st.sampled_from(["name asc", "metadata_modified desc",
                                                "score desc, name asc", "title_string desc",
                                                "nope sideways", ""]))
facet_fields = st.one_of(texts, st.lists(st.sampled_from(["tags", "organization",
                                                          "res_format", "license_id"]),
                                         max_size=3).map(json.dumps),
                         st.lists(texts, max_size=3).map(json.dumps))


def check_envelope(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, response.text
    assert response.status_code == 200 or response.status_code in CLIENT_ERRORS, \
        (response.status_code, response.text)
    body = response.json()
    assert set(body) >= {"help", "success"}
    assert body["success"] is (response.status_code == 200)
    if body["success"]:
        assert "result" in body
    else:
        assert isinstance(body["error"]["__type"], str) and body["error"]["message"]
    return body


def test_package_search_params(client: Any, fuzz_data: dict[str, str]) -> None:
    @given(q=st.one_of(st.none(), texts), fq=st.one_of(st.none(), texts),
           rows=st.one_of(st.none(), numbers), start=st.one_of(st.none(), numbers),
           sort=st.one_of(st.none(), sort_values), facet=st.one_of(st.none(), facet_fields))
    @PROPERTY_SETTINGS
    def run(q: str | None, fq: str | None, rows: str | None, start: str | None,
            sort: str | None, facet: str | None) -> None:
        params = {k: v for k, v in {"q": q, "fq": fq, "rows": rows, "start": start,
                                    "sort": sort, "facet.field": facet}.items()
                  if v is not None}
        body = check_envelope(client.get(ACTION + "package_search", params=params))
        if body["success"]:
            result = body["result"]
            assert len(result["results"]) <= min(int(rows or 10), 1000)
            assert result["count"] >= len(result["results"])

    run()


def test_package_show_id(client: Any, fuzz_data: dict[str, str]) -> None:
    @given(ident=st.one_of(texts, st.just(fuzz_data["dataset"])))
    @PROPERTY_SETTINGS
    def run(ident: str) -> None:
        body = check_envelope(client.get(ACTION + "package_show", params={"id": ident}))
        if body["success"]:
            assert body["result"]["name"] == ident or body["result"]["id"] == ident

    run()


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), texts),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(texts, inner, max_size=3), max_leaves=6)


def test_datastore_search_params(client: Any, fuzz_data: dict[str, str]) -> None:
    columns = st.sampled_from(["id", "borough", "spend", "opened", "_id"])
    filters = st.one_of(
        texts, json_values.map(json.dumps),
        st.dictionaries(st.one_of(columns, texts),
                        st.one_of(texts, st.lists(texts, max_size=3), st.none()),
                        max_size=3).map(json.dumps))

    @given(filters=st.one_of(st.none(), filters), limit=st.one_of(st.none(), numbers),
           offset=st.one_of(st.none(), numbers),
           sort=st.one_of(st.none(), texts, columns.map(lambda c: f"{c} desc")),
           q=st.one_of(st.none(), texts,
                       st.dictionaries(columns, texts, max_size=2).map(json.dumps)),
           rid=st.one_of(st.just(fuzz_data["resource_id"]), texts))
    @PROPERTY_SETTINGS
    def run(filters: str | None, limit: str | None, offset: str | None, sort: str | None,
            q: str | None, rid: str) -> None:
        params = {k: v for k, v in {"resource_id": rid, "filters": filters, "limit": limit,
                                    "offset": offset, "sort": sort, "q": q}.items()
                  if v is not None}
        body = check_envelope(client.get(ACTION + "datastore_search", params=params))
        if body["success"]:
            assert len(body["result"]["records"]) <= body["result"]["limit"]

    run()


def test_organization_list_params(client: Any, fuzz_data: dict[str, str]) -> None:
    @given(all_fields=st.one_of(st.none(), texts, st.sampled_from(["true", "false"])),
           limit=st.one_of(st.none(), numbers), offset=st.one_of(st.none(), numbers),
           extra=st.dictionaries(st.text(min_size=1, max_size=10), texts, max_size=2))
    @PROPERTY_SETTINGS
    def run(all_fields: str | None, limit: str | None, offset: str | None,
            extra: dict[str, str]) -> None:
        params = {**extra, **{k: v for k, v in {"all_fields": all_fields, "limit": limit,
                                                 "offset": offset}.items() if v is not None}}
        body = check_envelope(client.get(ACTION + "organization_list", params=params))
        if body["success"]:
            assert isinstance(body["result"], list) and len(body["result"]) <= 2

    run()

"""Schemathesis against a real uvicorn server (SQLite and PostgreSQL), seeded with real data:
every documented native, CKAN and DCAT operation, and the OGC API's own OpenAPI document.

Checks: no 5xx, every response (success or error) matches its documented schema, and every
status is one the operation documents. Path parameters are drawn from the seeded ids half of
the time, so the fuzzer reaches real rows and features, not only 404s. Requests carry a
sysadmin token so operations that need one are exercised too.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

#: Examples per operation: enough to reach the odd corners, small enough that the whole run
#: stays around a minute per backend on two cores.
EXAMPLES = 25
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance")


def _config(data: dict[str, str], *, ogc: bool = False) -> SchemathesisConfig:
    """Checks, bounded generation, and dictionaries of the seeded ids for path parameters."""
    ids = {
        "resources": [data["resource_id"], data["geo_resource_id"]],
        "datasets": [data["dataset"], data["collection"]],
        "collections": [data["collection"]],
        "organizations": ["camden", "tfl"],
        "streams": ["catalog", "planning"],
        "actions": ["package_search", "package_show", "datastore_search", "organization_list",
                    "status_show", "tag_list", "resource_show", "datastore_info"],
    }
    bindings = {
        "path.resource_id": "resources", "path.name": "datasets",
        "path.collectionId": "collections", "path.stream": "streams",
    }
    if ogc:
        bindings = {"path.collectionId": "collections"}
    return SchemathesisConfig.from_dict({
        "dictionaries": {k: {"values": v} for k, v in ids.items()},
        "parameters": {k: {"dictionary": v, "probability": 0.5} for k, v in bindings.items()},
        "headers": {"Authorization": f"Bearer {data['admin_token']}"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": EXAMPLES},
        # ``name`` is a dataset in the DCAT and download paths, an action in CKAN's.
        "operations": [] if ogc else [{
            "include-path-regex": "^/api/3/action/",
            "parameters": {"path.name": {"dictionary": "actions", "probability": 0.8}},
        }],
    })


@pytest.fixture
def native_schema(live_server: str, fuzz_data: dict[str, str]) -> Any:
    return schemathesis.openapi.from_url(f"{live_server}/api/openapi.json",
                                         config=_config(fuzz_data))


@pytest.fixture
def ogc_schema(live_server: str, fuzz_data: dict[str, str]) -> Any:
    return schemathesis.openapi.from_url(f"{live_server}/ogc/api?f=json",
                                         config=_config(fuzz_data, ogc=True))


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
#: Event streams followed live (SSE) never end by themselves: a request for one would hold
#: the fuzzer until its timeout. The JSON page of /api/v1/events/{stream} is fuzzed; only the
#: ways of asking it for SSE (``format=sse``, ``Accept: text/event-stream``) are left out.
LIVE_STREAMS = frozenset({"/api/v1/planning/events"})


def _without_sse(case: Any) -> Any:
    if case.path == "/api/v1/events/{stream}":
        if isinstance(case.query, dict):
            case.query.pop("format", None)
        if isinstance(case.headers, dict):
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "accept"}
    return case


def fuzz(schema: Any, skip: frozenset[str] = frozenset()) -> list[str]:
    """Every operation, positive and negative examples; the failures, one line each."""
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in skip:
            continue
        tried += 1
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @given(case=strategy)
        @FUZZ_SETTINGS
        def check(case: Any) -> None:
            _without_sse(case).call_and_validate(timeout=30)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's, in one report
            failures.append(f"{operation.label}: {str(exc)[:3000]}")
    assert tried > 5, "the schema had almost no operations"
    return failures


@pytest.mark.slow  # about 70 operations x 25 examples: 1.5-2 minutes per backend here
def test_native_and_ckan_operations(native_schema: Any) -> None:
    failures = fuzz(native_schema, LIVE_STREAMS)
    assert not failures, "\n\n".join(failures)


def test_ogc_operations(ogc_schema: Any) -> None:
    failures = fuzz(ogc_schema)
    assert not failures, "\n\n".join(failures)

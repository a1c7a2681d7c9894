"""Ops test fixtures: every log line written while a test runs, parsed from JSON."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from citydata.ops.logging import make_handler


class _ServerSideOnly(logging.Filter):
    """The test's HTTP client (httpx) logs the URLs it requests; those are not the server's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("httpx", "httpcore"))


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Install the JSON handler on the root logger at debug; call the fixture to read the
    lines so far, each parsed (a line that is not JSON fails the test)."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    handler.addFilter(_ServerSideOnly())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)

    def read() -> list[dict[str, Any]]:
        handler.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    read.raw = stream.getvalue  # type: ignore[attr-defined]
    yield read
    root.removeHandler(handler)
    root.setLevel(old_level)


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "citydata.access"]

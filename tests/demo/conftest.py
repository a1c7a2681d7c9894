from __future__ import annotations

from pathlib import Path

import pytest

from citydata.demo.files import ReferenceData
from citydata.demo.spec import DemoSpec, build_spec
from citydata.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def spec(reference_settings: Settings) -> DemoSpec:
    return build_spec(reference_settings)


@pytest.fixture(scope="session")
def ref(reference_settings: Settings) -> ReferenceData:
    return ReferenceData(reference_settings)

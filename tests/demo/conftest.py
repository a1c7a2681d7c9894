from __future__ import annotations

from pathlib import Path

import pytest

from citydata.demo.files import ReferenceData
from citydata.demo.spec import DemoSpec, build_spec
from citydata.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        home=tmp_path_factory.mktemp("home"),
        postcodes="london",
        node_modules=REPO / "node_modules",
    )


@pytest.fixture(scope="session")
def spec(demo_settings: Settings) -> DemoSpec:
    return build_spec(demo_settings)


@pytest.fixture(scope="session")
def ref(demo_settings: Settings) -> ReferenceData:
    return ReferenceData(demo_settings)

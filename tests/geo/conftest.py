"""Reader tests need only settings; storage tests use the shared ``platform`` fixture
(SQLite and PostgreSQL) from ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from citydata.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ref_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        home=tmp_path_factory.mktemp("home"),
        postcodes="london",
        node_modules=REPO / "node_modules",
    )

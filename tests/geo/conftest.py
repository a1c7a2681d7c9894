"""Reader tests need only settings; storage tests use the shared ``platform`` fixture
(SQLite and PostgreSQL) from ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]



"""Settings refuse placeholder secrets outside development and default to SQLite in the home."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from citydata.settings import Settings


def test_defaults_to_sqlite_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYDATA_DATABASE_URL", raising=False)
    s = Settings(home=tmp_path / "h")
    assert s.database_url == f"sqlite:///{tmp_path / 'h' / 'citydata.db'}"


@pytest.mark.parametrize("secret", ["dev-secret-change-me", "changeme", "", "short-but-real"])
def test_production_refuses_weak_secrets(secret, tmp_path):
    with pytest.raises(ValidationError) as err:
        Settings(env="production", secret_key=secret, home=tmp_path)
    assert "CITYDATA_SECRET_KEY" in str(err.value)


def test_production_accepts_real_secret(tmp_path):
    s = Settings(env="production", secret_key="k" * 16 + "Zq9-real-secret-value", home=tmp_path)
    assert s.env == "production"


def test_environment_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYDATA_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("CITYDATA_HOME", str(tmp_path))
    assert Settings().max_upload_bytes == 1234


def test_cli_reports_bad_settings(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from citydata.cli import main

    monkeypatch.setenv("CITYDATA_HOME", str(tmp_path))
    monkeypatch.setenv("CITYDATA_ENV", "production")
    monkeypatch.setenv("CITYDATA_SECRET_KEY", "changeme")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code != 0
    assert "CITYDATA_SECRET_KEY" in result.output and "Traceback" not in result.output

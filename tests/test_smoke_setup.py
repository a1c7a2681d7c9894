"""The test infrastructure itself: both backends really are what they claim."""

from sqlalchemy import text


def test_backend_is_real_and_migrated(platform, db_url):
    with platform.db.session() as s:
        assert s.execute(text("select count(*) from datasets")).scalar() == 0
    expected = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert platform.db.dialect == expected

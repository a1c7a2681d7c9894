"""The load test's database: a dedicated PostgreSQL database with the demo catalog.

It is built once (``citydata init`` + ``citydata demo``, a few minutes) and refreshed on later
runs (the same two commands, which are idempotent and quick when nothing changed). A marker
file in the home directory records which database the file store belongs to; when it is
missing or names another database, or ``fresh`` is asked for, the database is dropped and
rebuilt with an empty home. Then the walkthrough agreement of docs/governance.md is made (if
not active already): ``hackney-analyst`` asks Camden for its adult social care packages for
``service-planning``, ``camden-owner`` approves; and the analyst gets a fresh read token.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from citydata.platform import Platform
from citydata.storage.database import normalise_url

GOVERNED_DATASET = "camden-adult-social-care-packages"
PURPOSE = "service-planning"
OWNER, ANALYST = "camden-owner", "hackney-analyst"
AGREEMENT_KEY = "loadtest:agreement"
MARKER = ".loadtest-database"


@dataclass
class Governed:
    """What a governed read needs: the dataset, the agreement and the analyst's token."""

    dataset: str
    agreement: str
    purpose: str
    token: str


def database_url(base_url: str, name: str) -> str:
    """``base_url`` (any database on the server) with the database name replaced."""
    url = make_url(normalise_url(base_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def _exists(base_url: str, name: str) -> bool:
    engine = create_engine(normalise_url(base_url))
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                               {"n": name}) is not None
    finally:
        engine.dispose()


def _recreate(base_url: str, name: str) -> None:
    # CREATE/DROP DATABASE cannot run in a transaction block.
    engine = create_engine(normalise_url(base_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def _citydata(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        code = subprocess.run([sys.executable, "-m", "citydata.cli", *args], env=env,
                              stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code:
        raise RuntimeError(f"citydata {' '.join(args)} failed ({code}); see {log}:\n"
                           + log.read_text(errors="replace")[-2000:])


def prepare(base_url: str, name: str, home: Path, env: dict[str, str], *, fresh: bool,
            log: Callable[[str], None]) -> str:
    """Create or refresh the database ``name`` and its home; returns its URL."""
    url = database_url(base_url, name)
    marker = home / MARKER
    known = marker.exists() and marker.read_text().strip() == url
    if fresh or not known or not _exists(base_url, name):
        log(f"building database {name} and {home} from scratch (init + demo: minutes)")
        _recreate(base_url, name)
        shutil.rmtree(home, ignore_errors=True)
    else:
        log(f"refreshing database {name} (init + demo, idempotent)")
    home.mkdir(parents=True, exist_ok=True)
    setup_log = home / "setup.log"
    setup_log.write_text("")
    _citydata(["init"], env, setup_log)
    _citydata(["demo"], env, setup_log)
    marker.write_text(url + "\n")
    engine = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            # What autovacuum would have done on a database that has been live for a while.
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return url


def governed_access(platform: Platform) -> Governed:
    """The active walkthrough agreement (made now if there is none) and a new read token."""
    from citydata.access import agreements
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.users import actor_for_user, create_token, get_user
    from citydata.storage.models import RefMeta

    db, settings, files = platform.db, platform.settings, platform.files
    with db.session() as s:
        meta = s.get(RefMeta, AGREEMENT_KEY)
        ag = agreements.find(s, meta.value) if meta else None
        if ag is None or agreements.effective_status(ag) != "active":
            def ctx_as(user: str) -> Ctx:
                return Ctx(s, actor_for_user(s, get_user(s, user)), settings, files)

            ag = agreements.create(ctx_as(ANALYST), {
                "datasets": [GOVERNED_DATASET], "purpose": PURPOSE,
                "purpose_detail": "Load test: planning home care capacity across north London",
                "lawful_basis": "art6-1-e", "special_category_condition": "art9-2-h",
                "dpia_reference": "LOADTEST-DPIA-1", "duration_days": 365,
                "actions": ["read", "query"]})
            ag = agreements.approve(ctx_as(OWNER), ag.reference, {})
            if agreements.effective_status(ag) != "active":
                raise RuntimeError(f"agreement {ag.reference} is {ag.status}, not active")
            s.merge(RefMeta(key=AGREEMENT_KEY, value=ag.reference))
        reference = str(ag.reference)
    with db.session() as s:
        token = create_token(s, Actor.system(), ANALYST, name="loadtest", scope="read",
                             expires_days=1)
    return Governed(GOVERNED_DATASET, reference, PURPOSE, token)

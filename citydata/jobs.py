"""Periodic jobs of the embedded deployment, run by each server process (see ``create_app``).

Each job is safe to run from several processes at once: the agreement sweep locks the rows it
changes (skipping rows another process holds), the mail outbox marks what it sent, and a
checkpoint is written only when the log has grown since the last one. A city-scale deployment
can run the same :func:`run_once` from one worker instead (``citydata jobs run``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from citydata.access import agreements, audit, notify
from citydata.access.actors import Actor
from citydata.access.keys import load_key
from citydata.catalog.context import Ctx
from citydata.platform import Platform
from citydata.storage.models import utcnow
from citydata.storage.models_access import AuditCheckpoint

log = logging.getLogger("citydata.jobs")


def checkpoint_due(session: Any, minutes: float, now: datetime) -> bool:
    last = session.scalar(select(func.max(AuditCheckpoint.at)))
    if last is None:
        return True
    return datetime.fromisoformat(last) <= now - timedelta(minutes=minutes)


def _federation_jobs(platform: Platform) -> dict[str, Any]:
    """Due harvests (one per tick), forwarded requests' statuses, old nonces."""
    from citydata.federation import harvest, nodes, sharing

    out: dict[str, Any] = {"harvests": [r["id"] for r in harvest.run_due(platform)]}
    if platform.settings.node_name:
        out["nonces_purged"] = nodes.purge_nonces(platform.db, platform.settings)
        out["requests_checked"] = sharing.refresh_pending(platform)
    return out


def run_once(platform: Platform) -> dict[str, Any]:
    """Record expiries and activations, send queued e-mail, sign a checkpoint when due."""
    settings = platform.settings
    out: dict[str, Any] = {}
    with platform.db.session() as session:
        ctx = Ctx(session, Actor.system(), settings, platform.files)
        out.update(agreements.sweep(ctx))
    out["mail_sent"] = notify.deliver_pending(platform.db, settings)
    out.update(_federation_jobs(platform))
    key = load_key(settings)
    out["checkpoint"] = None
    if key is not None:
        with platform.db.session() as session:
            if checkpoint_due(session, settings.audit_checkpoint_minutes, utcnow()):
                cp = audit.write_checkpoint(session, key)
                out["checkpoint"] = cp.seq if cp else None
    return out


async def loop(platform: Platform) -> None:
    """Run the jobs every ``jobs_interval_seconds`` until cancelled; a failure is logged and
    the loop goes on."""
    interval = platform.settings.jobs_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(run_once, platform)
        except Exception:  # a broken job must not stop the others, nor the server
            log.exception("periodic jobs failed")

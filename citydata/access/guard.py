"""Keep checking a long read while it streams: revocation cuts open streams too.

A download or export of governed data can run for minutes after the request's policy decision.
:class:`StreamGuard` asks the policy again, at most once per ``every`` seconds, with the actor
re-read from the database (memberships and tokens as they are now). When the answer becomes no
(the agreement was revoked or expired, the token revoked, the member removed) the stream is cut
off mid-body, so the client sees an incomplete response, never a silently truncated "complete"
one. Live feeds use the same guard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.access.policy import Access, Decision
from citydata.storage.database import Database
from citydata.storage.models import ApiToken, Dataset, Membership, User

log = logging.getLogger("citydata.access")


class AccessEnded(Exception):
    """Raised inside a stream whose access was withdrawn while it ran."""


def current_actor(session: Session, actor: Actor) -> Actor | None:
    """The actor as the database sees it now, or None if its user or token is gone."""
    if actor.user_id is None:
        return actor
    user = session.get(User, actor.user_id)
    if user is None or user.state != "active":
        return None
    if actor.token_id is not None and session.get(ApiToken, actor.token_id) is None:
        return None
    roles = {
        m.organization_id: m.role
        for m in session.scalars(select(Membership).where(Membership.user_id == user.id))
    }
    return replace(actor, roles=roles, sysadmin=user.sysadmin)


class StreamGuard:
    def __init__(
        self,
        db: Database,
        actor: Actor,
        decision: Decision,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.actor, self.decision = db, actor, decision
        self.every, self.clock = every, clock
        self.checked = clock()

    def still_allowed(self) -> bool:
        d = self.decision
        with self.db.session() as session:
            actor = current_actor(session, self.actor)
            ds = session.get(Dataset, d.dataset_id)
            if actor is None or ds is None:
                return False
            return Access(session, actor).allows(ds, d.action, d.resource_id)

    def wrap(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            now = self.clock()
            if now - self.checked >= self.every:
                self.checked = now
                if not self.still_allowed():
                    log.warning(
                        "access to %s ended during a stream by %s: cut off",
                        self.decision.dataset_name,
                        self.actor.name,
                    )
                    raise AccessEnded("access was withdrawn while the data was streaming")
            yield chunk


def guarded(
    db: Database, actor: Actor, decision: Decision | None, chunks: Iterable[bytes], *,
    every: float = 1.0,
) -> Iterable[bytes]:
    """``chunks`` as they are for open data; re-checked while streaming for anything else."""
    if decision is None or not decision.audited:
        return chunks
    return StreamGuard(db, actor, decision, every=every).wrap(chunks)

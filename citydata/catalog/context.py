"""The context every catalog function receives: who asks, through which session, on which site."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.settings import Settings
from citydata.storage.files import FileStore


@dataclass
class Ctx:
    session: Session
    actor: Actor
    settings: Settings
    files: FileStore
    #: Base URL used to build absolute links (the request's, or settings.site_url).
    site_url: str = ""

    def __post_init__(self) -> None:
        self.site_url = (self.site_url or self.settings.site_url).rstrip("/")

    def with_actor(self, actor: Actor) -> Ctx:
        return Ctx(self.session, actor, self.settings, self.files, self.site_url)

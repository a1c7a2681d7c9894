"""The context every catalog function receives: who asks, through which session, on which site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.settings import Settings
from citydata.storage.files import FileStore

if TYPE_CHECKING:
    from citydata.access.policy import Access

T = TypeVar("T")


@dataclass
class Ctx:
    session: Session
    actor: Actor
    settings: Settings
    files: FileStore
    #: Base URL used to build absolute links (the request's, or settings.site_url).
    site_url: str = ""
    _access: Access | None = field(default=None, init=False, repr=False, compare=False)
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.site_url = (self.site_url or self.settings.site_url).rstrip("/")

    @property
    def access(self) -> Access:
        """The policy decision point for this actor in this transaction (built on first use)."""
        from citydata.access.policy import Access

        if self._access is None or self._access.actor is not self.actor:
            self._access = Access(self.session, self.actor)
        return self._access

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """A lookup remembered for the rest of this context's transaction (e.g. the
        organisation a bulk import files every dataset under)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def with_actor(self, actor: Actor) -> Ctx:
        return Ctx(self.session, actor, self.settings, self.files, self.site_url)

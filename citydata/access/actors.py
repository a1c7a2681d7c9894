"""The actor behind a request: anonymous, a signed-in user, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user_id: str | None = None
    name: str = ""
    sysadmin: bool = False
    #: organisation id -> role (member | editor | admin)
    roles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def anonymous(cls) -> Actor:
        return cls()

    @classmethod
    def system(cls) -> Actor:
        """Internal jobs (demo loading, migrations): full rights, never a real login."""
        return cls(user_id=None, name="system", sysadmin=True)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.name == "system"

    def role_in(self, org_id: str) -> str | None:
        return self.roles.get(org_id)

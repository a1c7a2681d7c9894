"""The actor behind a request: who (anonymous, a user, the system) and why (a declared purpose).

A request may declare why it reads governed data: ``X-Citydata-Purpose`` (a purpose code) and
``X-Citydata-Agreement`` (an agreement reference), or ``_purpose`` / ``_agreement`` query
parameters for links. A token can also be bound to one agreement. The policy decision point
(:mod:`citydata.access.policy`) weighs all of these; the actor only carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TOKEN_SCOPES = ("read", "write", "admin")
SCOPE_RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Actor:
    user_id: str | None = None
    name: str = ""
    sysadmin: bool = False
    #: organisation id -> role (member | editor | admin)
    roles: dict[str, str] = field(default_factory=dict)
    #: What the credential allows: a signed-in session is "admin" (all the user may do).
    scope: str = "admin"
    #: The API token used, if any, and the agreement it is bound to.
    token_id: str | None = None
    token_agreement_id: str | None = None
    #: Declared by the request: a purpose code and/or an agreement reference or id.
    purpose: str | None = None
    agreement: str | None = None

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

    @property
    def is_system(self) -> bool:
        return self.user_id is None and self.name == "system"

    def role_in(self, org_id: str) -> str | None:
        return self.roles.get(org_id)

    def scope_at_least(self, scope: str) -> bool:
        return SCOPE_RANK.get(self.scope, 0) >= SCOPE_RANK[scope]

    def declaring(self, *, purpose: str | None = None, agreement: str | None = None) -> Actor:
        """The same actor with a purpose or agreement declared (empty values are ignored)."""
        return replace(
            self,
            purpose=(purpose or "").strip() or self.purpose,
            agreement=(agreement or "").strip() or self.agreement,
        )

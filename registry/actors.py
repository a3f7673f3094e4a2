"""Who acts: a user of an organisation with roles, as the database knows them.

Services receive an :class:`Actor` and check it themselves (the CLI and the API build it from
the database and pass it on; neither decides who may do what). Every audit event names the
user and the organisation (:attr:`Actor.label`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.errors import PermissionDenied
from registry.vocabulary import Role

__all__ = ["REGISTRY_ORGANISATION", "Actor", "require_any_role"]

REGISTRY_ORGANISATION = "registry"  # the holder of the registry's own (system) accounts


@dataclass(frozen=True)
class Actor:
    """A user acting: its name, roles and organisation (name and granted kind)."""

    name: str
    roles: frozenset[Role]
    organisation: str
    organisation_kind: str = "other"
    user_id: int | None = None

    @classmethod
    def of(cls, name: str, roles: Role | Iterable[Role], organisation: str,
           organisation_kind: str = "other") -> Actor:  # fmt: skip
        """An actor with one role or several (tests, the demo, the loaders)."""
        wanted = frozenset([roles] if isinstance(roles, Role) else roles)
        return cls(name, wanted, organisation, organisation_kind)

    @property
    def label(self) -> str:
        """How the audit log names the actor: ``user@organisation``."""
        return f"{self.name}@{self.organisation}"

    @property
    def roles_text(self) -> str:
        return ",".join(sorted(r.value for r in self.roles))

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


def require_any_role(actor: Actor, roles: tuple[Role, ...], what: str) -> None:
    """Refuse unless ``actor`` holds one of ``roles``; ``what`` is bilingual ``"zh / en"``."""
    if not actor.has(*roles):
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}，角色 {actor.roles_text or '无'}）无权{what}；需要角色：{allowed}。",
            f"{actor.name} ({actor.organisation}, roles {actor.roles_text or 'none'}) may not "
            f"{what}; it needs one of: {allowed}.",
        )

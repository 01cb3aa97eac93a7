"""What each role may do: named permissions, granted to roles by the project file, and the
one check every door makes (:meth:`Grants.authorize`).

Reading plant data is not a permission: any node the broker admits may read. Everything
that changes the plant, its alarms or its configuration, or reads the audit trail, is::

    permissions:                 # in the project file; absent: DEFAULT_GRANTS
      operator: [write, acknowledge, shelve]
      engineer: [write, acknowledge, shelve, service, edit_devices, read_audit]
      admin: [all]

A write needs the ``write`` permission *and* one of the tag's ``write_roles``: the
permission says who may operate at all, the tag says who may operate that point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from hmi.core.identity import Identity, Unauthorized


class Permission(StrEnum):
    """Something a user may be allowed to do."""

    #: write a tag (also needs one of the tag's write_roles)
    WRITE = "write"
    #: acknowledge alarms
    ACKNOWLEDGE = "acknowledge"
    #: shelve and unshelve alarms
    SHELVE = "shelve"
    #: take alarms out of service and return them
    SERVICE = "service"
    #: add, change and remove devices and tags at run time
    EDIT_DEVICES = "edit_devices"
    #: read the audit trail
    READ_AUDIT = "read_audit"
    #: export the audit trail
    EXPORT_AUDIT = "export_audit"
    #: manage users and sessions
    MANAGE_USERS = "manage_users"

    @property
    def verb(self) -> str:
        """The permission in words, for refusals: "may not <verb> <target>"."""
        return _VERBS[self]


_VERBS = {
    Permission.WRITE: "write",
    Permission.ACKNOWLEDGE: "acknowledge",
    Permission.SHELVE: "shelve",
    Permission.SERVICE: "take out of or return to service",
    Permission.EDIT_DEVICES: "edit the devices and tags of",
    Permission.READ_AUDIT: "read the audit trail of",
    Permission.EXPORT_AUDIT: "export the audit trail of",
    Permission.MANAGE_USERS: "manage the users of",
}

#: in a project file, every permission at once
ALL = "all"

_OPERATOR = frozenset({Permission.WRITE, Permission.ACKNOWLEDGE, Permission.SHELVE})
_ENGINEER = _OPERATOR | {Permission.SERVICE, Permission.EDIT_DEVICES, Permission.READ_AUDIT}

#: the grants of the default roles when the project has no ``permissions:`` section
DEFAULT_GRANTS: Mapping[str, frozenset[Permission]] = MappingProxyType(
    {
        "viewer": frozenset(),
        "operator": _OPERATOR,
        "engineer": _ENGINEER,
        "admin": frozenset(Permission),
    }
)


@dataclass(frozen=True, slots=True)
class Grants:
    """The permissions of each role (a role not listed has none)."""

    by_role: Mapping[str, frozenset[Permission]] = field(default_factory=lambda: DEFAULT_GRANTS)

    def of(self, roles: Iterable[str]) -> frozenset[Permission]:
        """Everything ``roles`` together may do."""
        granted: set[Permission] = set()
        for role in roles:
            granted |= self.by_role.get(role, frozenset())
        return frozenset(granted)

    def allows(self, roles: Iterable[str], permission: Permission) -> bool:
        """True when one of ``roles`` has ``permission``."""
        return any(permission in self.by_role.get(role, ()) for role in roles)

    def roles_with(self, permission: Permission) -> frozenset[str]:
        """The roles that have ``permission`` (for clients that enable controls)."""
        return frozenset(role for role, granted in self.by_role.items() if permission in granted)

    def authorize(
        self,
        identity: Identity,
        permission: Permission,
        target: str,
        *,
        target_roles: frozenset[str] | None = None,
    ) -> None:
        """Raise :class:`Unauthorized` unless ``identity`` may do ``permission`` on
        ``target``; ``target_roles`` (a tag's write roles) must then match one of its roles
        too. The roles are the verified identity's, never a message's claim."""
        if not self.allows(identity.roles, permission):
            needed = ", ".join(sorted(self.roles_with(permission))) or "no role has it"
            raise Unauthorized(
                f"{identity.user or 'nobody'} may not {permission.verb} {target} "
                f"(permission {permission.value}: {needed})"
            )
        if target_roles is not None:
            if not target_roles:
                raise Unauthorized(f"{target} is read-only")
            if target_roles.isdisjoint(identity.roles):
                needed = ", ".join(sorted(target_roles))
                raise Unauthorized(
                    f"user {identity.user!r} lacks a role to {permission.verb} {target} ({needed})"
                )


def parse_grants(
    section: Mapping[str, Iterable[str]], roles: Iterable[str]
) -> tuple[Grants, list[tuple[str, str]]]:
    """Grants from a ``permissions:`` map, and the problems found as ``(role, message)``.

    Roles the map does not name keep their defaults (a plant that only adds a role lists
    just that role); ``all`` grants every permission.
    """
    known = set(roles)
    by_role = {role: DEFAULT_GRANTS.get(role, frozenset()) for role in known}
    problems: list[tuple[str, str]] = []
    for role, names in section.items():
        if role not in known:
            problems.append((role, f"unknown role {role!r} (roles: {', '.join(sorted(known))})"))
            continue
        granted: set[Permission] = set()
        for name in names:
            if name == ALL:
                granted |= set(Permission)
                continue
            try:
                granted.add(Permission(name))
            except ValueError:
                choices = ", ".join([ALL, *(p.value for p in Permission)])
                problems.append((role, f"unknown permission {name!r} (one of {choices})"))
        by_role[role] = frozenset(granted)
    return Grants(MappingProxyType(by_role)), problems

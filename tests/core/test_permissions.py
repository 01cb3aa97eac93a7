"""Named permissions granted to roles; one check for every door."""

from __future__ import annotations

import pytest

from hmi.core.identity import Identity, Unauthorized
from hmi.core.permissions import DEFAULT_GRANTS, Grants, Permission, parse_grants


def who(*roles: str) -> Identity:
    return Identity(user="olga", roles=frozenset(roles))


def test_default_roles_grow_from_viewer_to_admin() -> None:
    grants = Grants()
    assert grants.of(["viewer"]) == frozenset()
    assert grants.of(["operator"]) == {Permission.WRITE, Permission.ACKNOWLEDGE, Permission.SHELVE}
    assert Permission.SERVICE in grants.of(["engineer"])
    assert Permission.EXPORT_AUDIT not in grants.of(["engineer"])
    assert grants.of(["admin"]) == frozenset(Permission)
    assert grants.roles_with(Permission.SERVICE) == {"engineer", "admin"}


def test_authorize_checks_the_permission_then_the_targets_roles() -> None:
    grants = Grants()
    grants.authorize(
        who("operator"), Permission.WRITE, "a/b/c", target_roles=frozenset({"operator"})
    )
    with pytest.raises(Unauthorized, match=r"may not acknowledge a/b/c .*operator"):
        grants.authorize(who("viewer"), Permission.ACKNOWLEDGE, "a/b/c")
    with pytest.raises(Unauthorized, match="lacks a role to write a/b/c \\(engineer\\)"):
        grants.authorize(
            who("operator"), Permission.WRITE, "a/b/c", target_roles=frozenset({"engineer"})
        )
    with pytest.raises(Unauthorized, match="read-only"):
        grants.authorize(who("admin"), Permission.WRITE, "a/b/c", target_roles=frozenset())


def test_a_project_grants_its_own_roles_and_keeps_the_defaults_of_the_others() -> None:
    grants, problems = parse_grants(
        {"shiftlead": ["write", "acknowledge", "service"], "operator": ["all"]},
        ["viewer", "operator", "engineer", "shiftlead"],
    )
    assert problems == []
    assert grants.of(["shiftlead"]) == {
        Permission.WRITE,
        Permission.ACKNOWLEDGE,
        Permission.SERVICE,
    }
    assert grants.of(["operator"]) == frozenset(Permission)
    assert grants.of(["engineer"]) == DEFAULT_GRANTS["engineer"]


def test_unknown_roles_and_permissions_are_problems() -> None:
    _, problems = parse_grants({"boss": ["all"], "operator": ["ack"]}, ["operator"])
    assert [role for role, _ in problems] == ["boss", "operator"]
    assert "unknown permission 'ack'" in problems[1][1]

from __future__ import annotations

import pytest

from hmi.core.identity import Identity, InvalidToken, issue_token, verify_token
from hmi.core.passwords import (
    PasswordHashError,
    hash_password,
    is_password_hash,
    verify_password,
)

KEY = b"k" * 32
SALT = b"s" * 16


def test_password_hash_round_trip_and_rejects_wrong_password():
    stored = hash_password("correct horse", SALT, n=2**10)
    assert is_password_hash(stored)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("anything", "")
    with pytest.raises(PasswordHashError):
        verify_password("x", "md5$abc")
    with pytest.raises(ValueError, match="salt"):
        hash_password("x", b"short")


def test_token_proves_identity_until_it_expires():
    who = Identity("alice", frozenset({"operator"}), node="hmi-1", expires=1000.0, session="s1")
    token = issue_token(who, KEY)
    assert verify_token(token, KEY, now=999.0) == who
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token, KEY, now=1000.0)


def test_forged_or_altered_tokens_are_refused():
    token = issue_token(Identity("bob", frozenset({"viewer"}), expires=10.0), KEY)
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(token, b"other key" * 4, now=0)
    forged_body = issue_token(Identity("bob", frozenset({"admin"}), expires=10.0), b"x" * 32)
    altered = forged_body.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_token(altered, KEY, now=0)
    for junk in ("", "abc", "a.b.c", "!!.!!"):
        with pytest.raises(InvalidToken):
            verify_token(junk, KEY, now=0)


def test_authorize_uses_the_tokens_roles_not_the_commands_claims():
    from hmi.core.identity import Unauthorized, authorize_command

    writers = frozenset({"operator", "engineer"})
    viewer = issue_token(Identity("vic", frozenset({"viewer"}), expires=100.0), KEY)
    operator = issue_token(Identity("olga", frozenset({"operator"}), expires=100.0), KEY)
    assert (
        authorize_command(operator, "olga", "a/b/c", write_roles=writers, key=KEY, now=1).user
        == "olga"
    )
    with pytest.raises(Unauthorized, match="lacks a role"):
        authorize_command(viewer, "vic", "a/b/c", write_roles=writers, key=KEY, now=1)
    with pytest.raises(Unauthorized, match="not logged in"):
        authorize_command("", "olga", "a/b/c", write_roles=writers, key=KEY, now=1)
    with pytest.raises(Unauthorized, match="claims user"):
        authorize_command(viewer, "olga", "a/b/c", write_roles=writers, key=KEY, now=1)
    with pytest.raises(Unauthorized, match="read-only"):
        authorize_command(operator, "olga", "a/b/c", write_roles=frozenset(), key=KEY, now=1)
    with pytest.raises(Unauthorized, match="expired"):
        authorize_command(operator, "olga", "a/b/c", write_roles=writers, key=KEY, now=100)

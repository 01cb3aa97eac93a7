"""Password hashes (argon2id, legacy scrypt, bounded parameters) and command authorization.

The tokens themselves are tested in test_tokens.py.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib

import pytest

import hmi.core.passwords as passwords
from hmi.core.identity import Identity, Unauthorized, authorize_command, issue_token
from hmi.core.passwords import (
    ARGON2_LIMITS,
    PARAMETERS,
    PasswordHashError,
    check_password_hash,
    dummy_hash,
    hash_password,
    is_password_hash,
    needs_rehash,
    verify_password,
)

KEY = b"k" * 32
SALT = b"s" * 16
#: cheap parameters for tests: the scheme is the same, only the cost differs
FAST = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=64, parallelism=1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scrypt_hash(password: str, n: int = 2**10, r: int = 8, p: int = 1) -> str:
    """A hash in the format this project wrote before argon2id (made here, by hand)."""
    digest = hashlib.scrypt(password.encode(), salt=SALT, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(SALT)}${_b64(digest)}"


@pytest.fixture
def no_hashing(monkeypatch):
    """Fail the test if any password hashing runs: refusals must come before the work."""

    class Refuse:
        def verify(self, *args: object) -> bool:
            raise AssertionError("argon2 ran")

    def scrypt(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("scrypt ran")

    monkeypatch.setattr(passwords, "_HASHER", Refuse())
    monkeypatch.setattr(passwords.hashlib, "scrypt", scrypt)


def test_new_hashes_are_argon2id_with_the_rfc_9106_low_memory_profile():
    stored = hash_password("correct horse", SALT)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (PARAMETERS.memory_cost, PARAMETERS.time_cost, PARAMETERS.parallelism) == (65536, 3, 4)
    assert is_password_hash(stored)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not needs_rehash(stored)


def test_argon2id_round_trip_with_other_parameters_needs_a_rehash():
    stored = hash_password("correct horse", SALT, FAST)
    assert stored.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("Correct horse", stored)
    assert needs_rehash(stored)
    assert not verify_password("anything", "")
    with pytest.raises(ValueError, match="salt"):
        hash_password("x", b"short")
    with pytest.raises(ValueError, match="argon2id"):
        hash_password("x", SALT, dataclasses.replace(FAST, type=passwords.Type.I))


def test_legacy_scrypt_hashes_still_verify_and_need_a_rehash():
    stored = scrypt_hash("correct horse")
    assert is_password_hash(stored)
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert needs_rehash(stored)


def test_the_dummy_hash_has_the_current_parameters():
    assert dummy_hash() is dummy_hash()  # made once
    assert dummy_hash().startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not needs_rehash(dummy_hash())


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (f"scrypt$16384$8$40${_b64(SALT)}${_b64(b'h' * 32)}", "p=40"),
        (f"scrypt$1048576$8$1${_b64(SALT)}${_b64(b'h' * 32)}", "N=1048576"),
        (f"scrypt$16384$64$1${_b64(SALT)}${_b64(b'h' * 32)}", "r=64"),
        (f"scrypt$131072$8$4${_b64(SALT)}${_b64(b'h' * 32)}", "N\\*r\\*p"),
        (f"scrypt$16000$8$1${_b64(SALT)}${_b64(b'h' * 32)}", "power of two"),
        ("$argon2id$v=19$m=4194304,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "memory"),
        ("$argon2id$v=19$m=65536,t=1000,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "t=1000"),
        ("$argon2id$v=19$m=65536,t=3,p=64$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "p=64"),
        ("$argon2id$v=19$m=262144,t=10,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA", "work"),
    ],
)
def test_parameters_above_the_limits_are_refused_before_any_hashing(no_hashing, stored, why):
    with pytest.raises(PasswordHashError, match=why):
        verify_password("guess", stored)
    assert not is_password_hash(stored)


def test_the_limits_let_the_current_parameters_through_with_room():
    work = PARAMETERS.memory_cost * PARAMETERS.time_cost
    assert work * 4 == ARGON2_LIMITS.work
    check_password_hash(dummy_hash())
    check_password_hash(scrypt_hash("x", n=2**14))  # what the project wrote before


@pytest.mark.parametrize(
    "junk",
    [
        "md5$abc",
        "scrypt$abc",
        "scrypt$16384$8$1$not base64!$aGFzaA==",
        "$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=16$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$t=3,m=65536,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=65536,t=3,p=4$c2Fs$aGFzaGhhc2hoYXNoaGFzaA",  # 3-byte salt
        "$argon2id$v=19$m=65536,t=3,p=4$" + "A" * 600,
        "hunter2",
    ],
)
def test_malformed_hashes_are_refused_clearly(no_hashing, junk):
    assert not is_password_hash(junk)
    with pytest.raises(PasswordHashError):
        verify_password("x", junk)


def test_authorize_uses_the_tokens_roles_not_the_commands_claims():
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
    with pytest.raises(Unauthorized, match="another plant"):
        authorize_command(
            operator, "olga", "a/b/c", write_roles=writers, key=KEY, now=1, audience="Plant 2"
        )

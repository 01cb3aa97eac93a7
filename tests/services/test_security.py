"""The security service: logins, short tokens of long sessions, logout, the plant key.

Rate limits and the equal-time path are in test_login_limits.py, token renewal and key
rotation in test_login_refresh.py.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib

import jwt
import pytest

from hmi.bus.local.clock import VirtualClock
from hmi.core.identity import Identity, InvalidToken, issue_token, key_id, verify_token
from hmi.core.passwords import PARAMETERS, hash_password, needs_rehash
from hmi.project.model import UserConfig
from hmi.services.audit import AuditLog
from hmi.services.security import LoginFailed, Security, load_or_create_key

SALT = b"0123456789abcdef"
PLANT = "Test plant"
#: cheap argon2id parameters: these tests are about the service, not the hash's cost
FAST = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def security(tmp_path):
    users = {
        "olga": UserConfig(
            "olga", frozenset({"operator"}), password_hash=hash_password("pw-olga-1", SALT, FAST)
        ),
        "vic": UserConfig("vic", frozenset({"viewer"})),  # no password set: cannot log in
    }
    clock = VirtualClock(start=1000.0)
    audit = AuditLog(tmp_path / "audit.sqlite")
    key = load_or_create_key(tmp_path / "secret.key")
    sec = Security(users, key, audit, clock=clock.time, session_seconds=60, audience=PLANT)
    yield sec, audit, clock, key
    audit.close()


def test_login_gives_a_token_with_the_users_roles_and_is_audited(security):
    sec, audit, _, key = security

    async def main() -> str:
        token = await sec.login("olga", "pw-olga-1", node="hmi-1", host="pc-1")
        for user, password in [("olga", "wrong"), ("vic", ""), ("nobody", "x")]:
            with pytest.raises(LoginFailed, match=r"^wrong user name or password$"):
                await sec.login(user, password)
        return token

    token = asyncio.run(main())
    identity = verify_token(token, key, now=1001, audience=PLANT)
    assert (identity.user, identity.roles, identity.node) == ("olga", {"operator"}, "hmi-1")
    assert jwt.get_unverified_header(token)["kid"] == key_id(key)
    rows = [(e.user, e.action, e.outcome, e.reason, e.node, e.host) for e in audit.query()]
    assert rows == [
        ("olga", "login", "ok", "", "hmi-1", "pc-1"),
        ("olga", "login", "denied", "wrong password", "", ""),
        ("vic", "login", "denied", "no password set", "", ""),
        ("nobody", "login", "denied", "unknown user", "", ""),
    ]


def test_a_token_lives_minutes_and_its_session_at_most_its_length(tmp_path):
    users = {
        "olga": UserConfig("olga", frozenset({"operator"}), "", hash_password("pw", SALT, FAST))
    }
    clock = VirtualClock(start=1000.0)
    key = load_or_create_key(tmp_path / "k")
    sec = Security(users, key, None, clock=clock.time, audience=PLANT)
    token = asyncio.run(sec.login("olga", "pw"))
    claims = sec.read(token)
    assert claims.identity.expires - claims.issued == 15 * 60  # the default: 15 minutes
    assert claims.started == 1000.0
    short = Security(users, key, None, clock=clock.time, audience=PLANT, token_seconds=30)
    assert short.read(asyncio.run(short.login("olga", "pw"))).identity.expires == 1030.0


def test_a_user_with_a_legacy_scrypt_hash_still_logs_in(tmp_path):
    digest = hashlib.scrypt(b"pw-otto-1", salt=SALT, n=2**10, r=8, p=1, dklen=32)
    legacy = (
        f"scrypt$1024$8$1${base64.b64encode(SALT).decode()}${base64.b64encode(digest).decode()}"
    )
    assert needs_rehash(legacy)  # `hmi passwd` would write an argon2id hash
    users = {"otto": UserConfig("otto", frozenset({"operator"}), "", legacy)}
    sec = Security(users, b"k" * 32, None, clock=lambda: 1000.0, audience=PLANT)
    assert sec.verify(asyncio.run(sec.login("otto", "pw-otto-1"))).user == "otto"
    with pytest.raises(LoginFailed):
        asyncio.run(sec.login("otto", "pw-otto-2"))


def test_logout_revokes_and_sessions_expire(security):
    sec, audit, clock, key = security
    token = asyncio.run(sec.login("olga", "pw-olga-1"))
    session = sec.verify(token).session
    assert session and not sec.is_revoked(session)
    sec.logout(token, reason="idle")
    with pytest.raises(InvalidToken, match="logged out"):
        sec.verify(token)
    assert sec.is_revoked(session)
    assert verify_token(token, key, clock.time(), audience=PLANT).session == session  # signed
    token = asyncio.run(sec.login("olga", "pw-olga-1"))
    clock.advance(61)
    with pytest.raises(InvalidToken, match="expired"):
        sec.verify(token)
    assert [e.action for e in audit.query(user="olga")] == ["login", "logout", "login"]


def test_every_logout_is_audited_even_a_refused_one(security):
    sec, audit, clock, _ = security
    token = asyncio.run(sec.login("olga", "pw-olga-1", node="hmi-1"))
    clock.advance(90)  # the token expired: its session ends all the same
    sec.logout(token, reason="idle")
    sec.logout(token, reason="again")
    sec.logout("not a token", reason="forged")
    rows = [(e.user, e.action, e.outcome, e.reason, e.node) for e in audit.query(action="logout")]
    assert rows == [
        ("olga", "logout", "ok", "idle", "hmi-1"),
        ("olga", "logout", "denied", "logged out already", "hmi-1"),
        ("", "logout", "denied", "invalid token: malformed token", ""),
    ]


def test_tokens_of_another_plant_or_without_a_session_are_refused(security):
    sec, _, _, key = security
    olga = UserConfig("olga", frozenset({"operator"}), "", hash_password("pw-olga-1", SALT, FAST))
    other = Security({"olga": olga}, key, None, clock=lambda: 1000.0, audience="Other plant")
    foreign = asyncio.run(other.login("olga", "pw-olga-1"))
    with pytest.raises(InvalidToken, match="another plant"):
        sec.verify(foreign)
    sessionless = issue_token(
        Identity("olga", frozenset({"admin"}), expires=2000.0),
        key,
        audience=PLANT,
        issued_at=1000.0,
    )
    with pytest.raises(InvalidToken, match="no session"):
        sec.verify(sessionless)


def test_plant_key_is_created_once_and_private(tmp_path):
    path = tmp_path / "data" / "secret.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key and len(key) == 32
    assert path.stat().st_mode & 0o077 == 0

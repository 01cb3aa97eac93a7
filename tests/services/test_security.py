from __future__ import annotations

import pytest

from hmi.core.identity import InvalidToken, verify_token
from hmi.core.passwords import hash_password
from hmi.project.model import UserConfig
from hmi.services.audit import AuditLog
from hmi.services.security import LoginFailed, Security, load_or_create_key

SALT = b"0123456789abcdef"


@pytest.fixture
def security(tmp_path):
    users = {
        "olga": UserConfig(
            "olga", frozenset({"operator"}), password_hash=hash_password("pw-olga-1", SALT, n=2**10)
        ),
        "vic": UserConfig("vic", frozenset({"viewer"})),  # no password set: cannot log in
    }
    now = [1000.0]
    audit = AuditLog(tmp_path / "audit.sqlite")
    key = load_or_create_key(tmp_path / "secret.key")
    yield Security(users, key, audit, clock=lambda: now[0], session_seconds=60), audit, now, key
    audit.close()


def test_login_gives_a_token_with_the_users_roles_and_is_audited(security):
    sec, audit, _, key = security
    token = sec.login("olga", "pw-olga-1", node="hmi-1")
    assert verify_token(token, key, now=1001).roles == {"operator"}
    with pytest.raises(LoginFailed):
        sec.login("olga", "wrong")
    with pytest.raises(LoginFailed):
        sec.login("vic", "")
    with pytest.raises(LoginFailed):
        sec.login("nobody", "x")
    outcomes = [(e.user, e.action, e.outcome) for e in audit.query()]
    assert outcomes == [
        ("olga", "login", "ok"),
        ("olga", "login", "denied"),
        ("vic", "login", "denied"),
        ("nobody", "login", "denied"),
    ]


def test_logout_revokes_and_sessions_expire(security):
    sec, audit, now, _ = security
    token = sec.login("olga", "pw-olga-1")
    assert sec.verify(token).user == "olga"
    sec.logout(token, reason="idle")
    with pytest.raises(InvalidToken, match="logged out"):
        sec.verify(token)
    token = sec.login("olga", "pw-olga-1")
    now[0] += 61
    with pytest.raises(InvalidToken, match="expired"):
        sec.verify(token)
    assert [e.action for e in audit.query(user="olga")] == ["login", "logout", "login"]


def test_plant_key_is_created_once_and_private(tmp_path):
    path = tmp_path / "data" / "secret.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key and len(key) == 32
    assert path.stat().st_mode & 0o077 == 0

"""Logins: the same path for unknown users, off the event loop, rate limited per user and
per node, every refusal audited. Time is a VirtualClock: no test waits."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

import pytest

import hmi.services.security as security_module
from hmi.bus.local.clock import VirtualClock
from hmi.core.passwords import PARAMETERS, dummy_hash, hash_password
from hmi.project.model import UserConfig
from hmi.services.audit import AuditLog
from hmi.services.security import LoginFailed, LoginLimits, LoginThrottled, Security

SALT = b"0123456789abcdef"
FAST = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=64, parallelism=1)
USERS = ("olga", "otto", "oona", "omar", "ole", "oskar")


class Checks:
    """Every password check: the stored hash it was made against, and on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    @property
    def hashes(self) -> list[str]:
        return [stored for stored, _ in self.calls]


@pytest.fixture
def checks(monkeypatch) -> Checks:
    seen = Checks()
    real = security_module.verify_password

    def spy(password: str, stored: str) -> bool:
        seen.calls.append((stored, threading.get_ident()))
        return real(password, stored)

    monkeypatch.setattr(security_module, "verify_password", spy)
    return seen


@pytest.fixture
def plant(tmp_path):
    users = {
        name: UserConfig(name, frozenset({"operator"}), "", hash_password(f"pw-{name}", SALT, FAST))
        for name in USERS
    }
    users["vic"] = UserConfig("vic", frozenset({"viewer"}))  # no password set
    clock = VirtualClock(start=10_000.0)
    audit = AuditLog(tmp_path / "audit.sqlite")
    sec = Security(users, b"k" * 32, audit, clock=clock.time, audience="Test plant")
    yield sec, users, clock, audit
    audit.close()


def login(sec: Security, user: str, password: str, node: str = "hmi-1") -> Any:
    """The token, or the exception the login raised."""

    async def attempt() -> Any:
        try:
            return await sec.login(user, password, node=node)
        except LoginFailed as exc:
            return exc

    return asyncio.run(attempt())


def test_an_unknown_user_is_checked_against_a_dummy_hash_like_a_wrong_password(plant, checks):
    sec, users, _, _ = plant
    refusals = [login(sec, who, "guess") for who in ("olga", "nobody", "vic")]
    # one check each, the unknown user's and the passwordless user's against the dummy hash
    assert checks.hashes == [users["olga"].password_hash, dummy_hash(), dummy_hash()]
    assert all(type(r) is LoginFailed for r in refusals)
    assert {str(r) for r in refusals} == {"wrong user name or password"}


def test_passwords_are_checked_off_the_event_loop(plant, checks):
    sec, _, _, _ = plant

    async def main() -> int:
        await sec.login("olga", "pw-olga")
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert len(checks.calls) == 1
    assert checks.calls[0][1] != loop_thread


def test_five_failures_lock_the_user_out_for_30_s_from_every_node(plant, checks):
    sec, _, clock, _ = plant
    for attempt in range(5):
        assert type(login(sec, "olga", "wrong", node=f"hmi-{attempt}")) is LoginFailed
    refused = login(sec, "olga", "pw-olga", node="hmi-9")  # the right password, too late
    assert type(refused) is LoginThrottled
    assert str(refused) == "too many failed logins: try again in 30 s"
    assert len(checks.calls) == 5  # a refused login costs no hashing
    clock.advance(29.9)
    assert type(login(sec, "olga", "pw-olga")) is LoginThrottled
    clock.advance(0.1)
    assert isinstance(login(sec, "olga", "pw-olga"), str)
    assert isinstance(login(sec, "otto", "pw-otto"), str)  # other users were never locked


def test_lockouts_double_and_a_success_clears_the_users_record(plant):
    sec, _, clock, _ = plant
    for i, lockout in enumerate((30, 60, 120, 240, 300, 300)):  # doubling, up to 300
        for _ in range(5):
            assert type(login(sec, "olga", "wrong", node=f"n{i}")) is LoginFailed
        assert str(login(sec, "olga", "x")) == f"too many failed logins: try again in {lockout} s"
        clock.advance(lockout)
    assert isinstance(login(sec, "olga", "pw-olga"), str)
    for _ in range(5):  # the success forgot the lockouts: the next one is short again
        login(sec, "olga", "wrong", node="n")
    assert str(login(sec, "olga", "x", node="m")) == "too many failed logins: try again in 30 s"


def test_failures_older_than_the_window_do_not_count_and_quiet_forgets_lockouts(plant):
    sec, _, clock, _ = plant
    for _ in range(4):
        login(sec, "olga", "wrong")
    clock.advance(300)
    for _ in range(4):
        assert type(login(sec, "olga", "wrong")) is LoginFailed
    assert type(login(sec, "olga", "wrong")) is LoginFailed  # 5 in the window: locked now
    assert type(login(sec, "olga", "wrong")) is LoginThrottled
    clock.advance(30 + 300)  # the lockout over, and a quiet window after it
    for _ in range(5):
        login(sec, "olga", "wrong")
    assert str(login(sec, "olga", "x")) == "too many failed logins: try again in 30 s"


def test_five_failures_from_one_node_lock_that_node_for_every_user(plant, checks):
    sec, _, clock, _ = plant
    for user in USERS[:5]:
        assert type(login(sec, user, "wrong", node="evil")) is LoginFailed
    assert type(login(sec, "oskar", "pw-oskar", node="evil")) is LoginThrottled
    assert type(login(sec, "nobody", "x", node="evil")) is LoginThrottled
    assert isinstance(login(sec, "oskar", "pw-oskar", node="hmi-2"), str)  # elsewhere: fine
    clock.advance(30)
    assert isinstance(login(sec, "oskar", "pw-oskar", node="evil"), str)


def test_unknown_user_names_are_limited_alike(plant):
    sec, _, _, _ = plant
    for node in "abcde":
        assert type(login(sec, "nobody", "x", node=node)) is LoginFailed
    refused = login(sec, "nobody", "x", node="f")
    assert str(refused) == "too many failed logins: try again in 30 s"  # as for a real user


def test_guesses_in_parallel_are_limited_too(plant, checks):
    sec, _, _, _ = plant

    async def main() -> list[Any]:
        async def attempt(i: int) -> Any:
            try:
                return await sec.login("olga", f"guess-{i}", node=f"n{i}")
            except LoginFailed as exc:
                return exc

        return await asyncio.gather(*(attempt(i) for i in range(12)))

    results = asyncio.run(main())
    assert len(checks.calls) == 5  # never more checks under way than failures allowed
    assert [type(r) for r in results].count(LoginThrottled) == 7


def test_the_limits_are_configurable(tmp_path):
    users = {"olga": UserConfig("olga", frozenset(), "", hash_password("pw", SALT, FAST))}
    clock = VirtualClock(start=0.0)
    limits = LoginLimits(failures=2, window=10.0, lockout=5.0, max_lockout=5.0)
    sec = Security(users, b"k" * 32, None, clock=clock.time, audience="p", limits=limits)
    login(sec, "olga", "a")
    login(sec, "olga", "b")
    assert str(login(sec, "olga", "pw")) == "too many failed logins: try again in 5 s"


def test_every_refused_login_and_logout_is_audited(plant):
    sec, users, clock, audit = plant
    for _ in range(5):
        login(sec, "olga", "wrong", node="hmi-1")
    login(sec, "olga", "pw-olga", node="hmi-1")
    login(sec, "ghost", "boo", node="hmi-2")
    hostile = "scrypt$16384$8$40$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA=="  # p=40: 1.3 s, once
    users["otto"] = dataclasses.replace(users["otto"], password_hash=hostile)
    login(sec, "otto", "pw-otto", node="hmi-3")
    clock.advance(30)
    token = login(sec, "olga", "pw-olga", node="hmi-1")
    sec.logout(token, reason="shift end")
    rows = [(e.user, e.action, e.outcome, e.reason, e.node) for e in audit.query()]
    wrong = ("olga", "login", "denied", "wrong password", "hmi-1")
    locked = "user 'olga' locked for 30 s; node 'hmi-1' locked for 30 s"
    assert rows[:6] == [
        *[wrong] * 4,
        ("olga", "login", "denied", f"wrong password; {locked}", "hmi-1"),
        ("olga", "login", "denied", "rate limited: user 'olga'", "hmi-1"),
    ]
    assert rows[6] == ("ghost", "login", "denied", "unknown user", "hmi-2")
    assert rows[7][:3] == ("otto", "login", "denied")
    assert rows[7][3].startswith("unusable password hash: scrypt hash: p=40 above the limit")
    assert rows[8:] == [
        ("olga", "login", "ok", "", "hmi-1"),
        ("olga", "logout", "ok", "shift end", "hmi-1"),
    ]

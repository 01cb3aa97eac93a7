"""Short tokens, long sessions: refresh renews a live session's token until the session's
end; logout, a removed user or the end refuse it. Key rotation. The RPC of it all."""

from __future__ import annotations

import asyncio
import dataclasses

import jwt
import pytest

from hmi.bus import Bus, RemoteError, Supervisor
from hmi.bus.local.clock import VirtualClock
from hmi.core.identity import InvalidToken, key_id
from hmi.core.passwords import PARAMETERS, hash_password
from hmi.project.model import UserConfig
from hmi.services.security import Security
from hmi.services.security_actor import SecurityActor

SALT = b"0123456789abcdef"
FAST = dataclasses.replace(PARAMETERS, time_cost=1, memory_cost=64, parallelism=1)
KEY, OLD_KEY = b"n" * 32, b"o" * 32
PLANT = "Test plant"


def user(name: str, *roles: str) -> UserConfig:
    return UserConfig(name, frozenset(roles), "", hash_password(f"pw-{name}", SALT, FAST))


@pytest.fixture
def plant():
    users = {"olga": user("olga", "operator"), "otto": user("otto", "operator")}
    clock = VirtualClock(start=1000.0)
    sec = Security(
        users, KEY, None, clock=clock.time, audience=PLANT, session_seconds=3600, token_seconds=900
    )
    return sec, users, clock


def test_refresh_gives_a_new_token_of_the_same_session(plant):
    sec, _, clock = plant
    first = asyncio.run(sec.login("olga", "pw-olga", node="hmi-1"))
    clock.advance(600)
    second = sec.refresh(first)
    old, new = sec.read(first), sec.read(second)
    assert new.identity.session == old.identity.session
    assert (new.identity.user, new.identity.node, new.identity.roles) == (
        "olga",
        "hmi-1",
        {"operator"},
    )
    assert (new.issued, new.identity.expires, new.started) == (1600.0, 2500.0, 1000.0)
    clock.advance(300)  # the first token is past its 15 minutes; the renewed one lives on
    with pytest.raises(InvalidToken, match="expired"):
        sec.verify(first)
    assert sec.verify(second).user == "olga"
    with pytest.raises(InvalidToken, match="expired"):
        sec.refresh(first)  # an expired token renews nothing: log in again


def test_a_session_is_renewed_up_to_its_end_and_no_further(plant):
    sec, _, clock = plant
    token = asyncio.run(sec.login("olga", "pw-olga"))
    for _ in range(11):  # every 5 minutes, for the session's hour
        clock.advance(300)
        token = sec.refresh(token)
    assert clock.time() == 4300.0
    assert sec.read(token).identity.expires == 4600.0  # the session's end, not 15 minutes
    clock.advance(299)
    assert sec.read(sec.refresh(token)).identity.expires == 4600.0
    clock.advance(1)
    for check in (sec.refresh, sec.verify):
        with pytest.raises(InvalidToken, match="expired"):
            check(token)


def test_the_session_end_counts_from_the_login_whatever_a_token_says(plant):
    sec, users, clock = plant
    token = asyncio.run(sec.login("olga", "pw-olga"))  # a session of an hour
    clock.advance(600)
    shorter = Security(users, KEY, None, clock=clock.time, audience=PLANT, session_seconds=600)
    assert shorter.verify(token).user == "olga"  # the token itself is live
    with pytest.raises(InvalidToken, match="session ended"):
        shorter.refresh(token)


def test_a_logged_out_session_stays_revoked(plant):
    sec, _, clock = plant
    first = asyncio.run(sec.login("olga", "pw-olga"))
    second = sec.refresh(first)
    sec.logout(second, reason="operator")
    for token in (first, second):
        with pytest.raises(InvalidToken, match="logged out"):
            sec.refresh(token)
        with pytest.raises(InvalidToken, match="logged out"):
            sec.verify(token)
    clock.advance(3000)  # still revoked later, while any token of it could be live
    with pytest.raises(InvalidToken):
        sec.verify(second)


def test_refresh_follows_the_project_a_removed_user_is_refused_new_roles_are_given(plant):
    sec, users, _ = plant
    olga = asyncio.run(sec.login("olga", "pw-olga"))
    otto = asyncio.run(sec.login("otto", "pw-otto"))
    users["olga"] = dataclasses.replace(users["olga"], roles=frozenset({"viewer"}))
    del users["otto"]
    assert sec.read(sec.refresh(olga)).identity.roles == {"viewer"}
    with pytest.raises(InvalidToken, match="no longer exists"):
        sec.refresh(otto)


def test_a_rotated_key_still_verifies_and_refresh_moves_the_session_to_the_new_key(plant):
    sec, users, clock = plant
    before = Security(users, OLD_KEY, None, clock=clock.time, audience=PLANT)
    old = asyncio.run(before.login("olga", "pw-olga"))
    assert jwt.get_unverified_header(old)["kid"] == key_id(OLD_KEY)
    with pytest.raises(InvalidToken, match="bad signature"):
        sec.verify(old)  # the new key alone does not know it
    after = Security(users, KEY, None, clock=clock.time, audience=PLANT, previous_keys=[OLD_KEY])
    assert after.verify(old).user == "olga"
    renewed = after.refresh(old)
    assert jwt.get_unverified_header(renewed)["kid"] == key_id(KEY)
    assert sec.verify(renewed).user == "olga"  # the old key can now be withdrawn


def test_login_refresh_verify_and_logout_over_rpc(plant):
    sec, _, clock = plant

    async def main() -> None:
        bus = Bus.local()
        async with Supervisor(bus) as supervisor:
            await supervisor.start(SecurityActor(sec))
            try:
                session = await bus.call("security", "login", "olga", "pw-olga", node="hmi-1")
                assert session["user"] == "olga" and session["roles"] == ["operator"]
                assert session["node"] == "hmi-1"
                assert session["expires"] - session["issued"] == 900.0
                clock.advance(300)
                renewed = await bus.call("security", "refresh", session["token"])
                assert renewed.keys() == session.keys()
                assert renewed["token"] != session["token"]
                assert renewed["expires"] == session["expires"] + 300
                assert await bus.call("security", "verify", renewed["token"]) == renewed
                await bus.call("security", "logout", renewed["token"], reason="done")
                with pytest.raises(RemoteError) as refused:
                    await bus.call("security", "refresh", renewed["token"])
                assert (refused.value.remote_type, refused.value.remote_message) == (
                    "InvalidToken",
                    "logged out",
                )
                with pytest.raises(RemoteError) as failed:
                    await bus.call("security", "login", "olga", "wrong")
                assert failed.value.remote_type == "LoginFailed"
            finally:
                await bus.close()

    asyncio.run(main())

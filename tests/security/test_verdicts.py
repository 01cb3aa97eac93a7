"""Threat: a session logged out (or a user disabled) keeps calling admin methods on the
strength of a verdict the RPC authorizer kept (hmi.bus.local.verdicts).

An accepted verdict is kept at most 0.5 s from when its check began, never past its
token's expiry, for the same token, node and method only; refusals are never kept. So a
logout or a disabled user reaches every RPC door within 1 s (issue 13), and a burst of
calls is verified once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hmi.app import DEMO_PROJECT
from hmi.app.plant import Backend, rpc_authorizer
from hmi.bus import Bus, RemoteError
from hmi.bus.local.clock import VirtualClock
from hmi.bus.local.rpc import RpcRequest, dispatched, expose
from hmi.bus.local.verdicts import VERDICT_SECONDS, CachedAuthorizer
from hmi.core.identity import Identity, InvalidToken
from hmi.core.permissions import Grants, Permission
from hmi.project import load_project

#: the bound of issue 13: a logout or a disabled user reaches every door within this
REVOCATION_BOUND = 1.0


class Verifier:
    """A security service in miniature: sessions it knows, until one is revoked."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.revoked: set[str] = set()
        self.asked = 0

    async def __call__(self, token: str) -> Identity:
        self.asked += 1
        if token in self.revoked:
            raise InvalidToken("logged out")
        user, _, node = token.partition("@")
        return Identity(user, frozenset({"engineer"}), node, self.clock.time() + 900.0, token)


def request(token: str, sender: str | None = "hmi-1", method: str = "set_tags") -> RpcRequest:
    return RpcRequest("drivers", method, Permission.EDIT_DEVICES, token, sender)


def cached_authorizer(
    clock: VirtualClock, verify: Verifier, refusals: list[str]
) -> CachedAuthorizer:
    return rpc_authorizer(Grants(), verify, lambda r, u, why, n: refusals.append(why), clock=clock)


def test_a_kept_verdict_answers_at_once_and_is_checked_again_after_half_a_second() -> None:
    async def main() -> None:
        clock = VirtualClock(start=1.7e9)
        verify, refusals = Verifier(clock), []
        authorize = cached_authorizer(clock, verify, refusals)
        token = "eve@hmi-1"
        assert authorize.cached(request(token)) is None
        who = await authorize(request(token))
        assert who.user == "eve" and verify.asked == 1
        clock.advance(VERDICT_SECONDS - 0.01)
        assert authorize.cached(request(token)) == who  # kept: no question asked
        assert verify.asked == 1
        # another node, another method: not the same verdict
        assert authorize.cached(request(token, sender="hmi-2")) is None
        assert authorize.cached(request(token, method="remove_tags")) is None
        verify.revoked.add(token)  # logged out
        clock.advance(0.02)  # 0.51 s after the check began: stale
        assert authorize.cached(request(token)) is None
        with pytest.raises(PermissionError, match="invalid session: logged out"):
            await authorize(request(token))
        assert refusals == ["invalid session: logged out"]
        # a refusal is never kept: the next call is checked (and audited) again
        with pytest.raises(PermissionError):
            await authorize(request(token))
        assert verify.asked == 3 and len(refusals) == 2

    asyncio.run(main())


def test_a_verdict_never_outlives_its_token() -> None:
    async def main() -> None:
        clock = VirtualClock(start=1.7e9)

        async def short(token: str) -> Identity:
            return Identity("eve", frozenset({"engineer"}), "hmi-1", clock.time() + 0.1, "s")

        authorize = rpc_authorizer(Grants(), short, lambda *_: None, clock=clock)
        await authorize(request("t"))
        clock.advance(0.09)
        assert authorize.cached(request("t")) is not None
        clock.advance(0.02)  # the token expired: no verdict, however fresh
        assert authorize.cached(request("t")) is None

    asyncio.run(main())


def test_a_check_in_flight_during_a_logout_is_kept_from_when_it_began() -> None:
    """A verdict is dated from the start of its check: had the logout come while the
    security service was answering, the yes it gave is still stale 0.5 s after the
    question, not 0.5 s after the answer."""

    async def main() -> None:
        clock = VirtualClock(start=1.7e9)
        verify = Verifier(clock)

        async def slow(token: str) -> Identity:
            who = await verify(token)
            clock.advance(0.3)  # the answer takes 0.3 s
            return who

        authorize = rpc_authorizer(Grants(), slow, lambda *_: None, clock=clock)
        await authorize(request("eve@hmi-1"))
        clock.advance(0.21)  # 0.51 s after the question, 0.21 s after the answer
        assert authorize.cached(request("eve@hmi-1")) is None

    asyncio.run(main())


def test_the_kept_verdicts_are_bounded() -> None:
    async def main() -> None:
        clock = VirtualClock(start=1.7e9)
        verify = Verifier(clock)

        async def accept(request: RpcRequest) -> Identity:
            return await verify(request.token)

        authorize = CachedAuthorizer(accept, clock=clock, most=100)
        for i in range(1000):
            await authorize(request(f"user{i}@hmi-1"))
            assert len(authorize) <= 100
            clock.advance(0.01)
        assert authorize.cached(request("user999@hmi-1")) is not None  # the newest is kept

    asyncio.run(main())


def test_a_kept_verdict_runs_a_synchronous_method_without_a_task() -> None:
    """The dispatcher's synchronous path: a method with a permission whose caller was
    accepted a moment ago is called at once, its result returned as a plain method's."""

    async def main() -> None:
        clock = VirtualClock(start=1.7e9)
        authorize = cached_authorizer(clock, Verifier(clock), [])

        class Drivers:
            @expose(permission=Permission.EDIT_DEVICES)
            def set_tags(self, value: int, *, identity: Identity) -> tuple[int, str]:
                return value, identity.user

        method = Drivers().set_tags
        checked = dispatched(method, "drivers", "set_tags", lambda: authorize, lambda: "hmi-1")
        first = checked(1, token="eve@hmi-1")
        assert asyncio.iscoroutine(first)  # checked by the authorizer: awaited
        assert await first == (1, "eve")
        assert checked(2, token="eve@hmi-1") == (2, "eve")  # at once: no coroutine
        # an identity the caller passes is dropped: the verdict's is given
        assert checked(3, token="eve@hmi-1", identity="admin") == (3, "eve")
        fake = checked(4, token="mallory@hmi-1")
        assert asyncio.iscoroutine(fake)  # an unknown token is checked
        await fake

    asyncio.run(main())


def _call_until_refused(bus: Bus, token: str, since: float, *method: str) -> asyncio.Task[float]:
    """Call ``method`` with ``token`` every 20 ms until refused: the seconds since ``since``."""

    async def calls() -> float:
        while True:
            try:
                await bus.call(*method, token=token)
            except RemoteError as exc:
                assert exc.remote_type == "PermissionError", exc
                return time.monotonic() - since
            assert time.monotonic() - since < 2 * REVOCATION_BOUND, "still accepted"
            await asyncio.sleep(0.02)

    return asyncio.ensure_future(calls())


@pytest.mark.parametrize("how", ["logout", "disable"])
def test_logout_and_disabling_reach_an_rpc_door_within_a_second(tmp_path: Path, how: str) -> None:
    """The composition root's authorizer (on the backend's node, verifying with the
    security service): an engineer reads the audit trail again and again, then logs out
    or an admin disables them: refused within 1 s, and from then on."""

    async def main() -> None:
        bus = Bus.local()
        backend = Backend(load_project(DEMO_PROJECT), bus, tmp_path, drivers=False)
        await backend.start()
        try:
            engineer = (await bus.call("security", "login", "engineer", "demo-engineer"))["token"]
            admin = (await bus.call("security", "login", "admin", "demo-admin"))["token"]
            for _ in range(20):  # a burst: its verdict is kept
                await bus.call("audit", "recent", 1, token=engineer)
            began = time.monotonic()
            if how == "logout":
                await bus.call("security", "logout", engineer)
            else:
                await bus.call("security", "disable_user", "engineer", "test", token=admin)
            took = await _call_until_refused(bus, engineer, began, "audit", "recent", 1)
            assert took < REVOCATION_BOUND
            for _ in range(5):
                with pytest.raises(RemoteError, match="PermissionError"):
                    await bus.call("audit", "recent", 1, token=engineer)
                await asyncio.sleep(0.05)
        finally:
            await backend.stop()
            await bus.close()

    asyncio.run(main())

"""Every write through the driver actor is made for a verified session, never for claims.

A pymodbus server is the device; commands are published on an in-memory bus as any node
could publish them, crafted ones included. Each test checks the result (every command
gets one on ``result/<tag>``) and the register on the device.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Actor, Bus, Supervisor, expose
from hmi.bus.wire.messages import decode_result, encode_command
from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.identity import Identity, InvalidToken, verify_token
from hmi.drivers.actor import DriverActor
from hmi.drivers.auth import SecurityUnavailable, SessionVerifier, remote_verifier
from hmi.project import load_project
from hmi.services.security import Security
from hmi.services.security_actor import SecurityActor
from tests.drivers.helpers import (
    KEY,
    datastore,
    free_port,
    local_verifier,
    pymodbus_server,
    session,
)

PROJECT = """\
name: auth test
poll_groups: {{fast: 0.05}}
devices:
  - name: plc
    port: {port}
    timeout: 0.2
    retries: 0
tags:
  - name: a/v/cmd
    type: uint16
    device: plc
    address: hr:10
    poll_group: fast
    write_roles: [operator]
  - name: a/v/other
    type: uint16
    device: plc
    address: hr:11
    poll_group: fast
    write_roles: [operator]
"""
TAG = "a/v/cmd"
INITIAL = 5
#: every wait of these tests is bounded
WAIT = 3.0


@dataclass
class Plant:
    """A running driver actor, its bus and its device's registers."""

    bus: Bus
    context: Any
    project: Any = None
    results: dict[str, CommandResult] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, command: Command, topic: str = "") -> str:
        """Publish ``command`` on ``cmd/<its tag>`` (or on ``topic``)."""
        self.bus.publish(topic or f"cmd/{command.tag}", encode_command(command))
        return command.id

    async def result(self, command_id: str) -> CommandResult:
        """The result of ``command_id``, waited for (bounded)."""
        async with asyncio.timeout(WAIT):
            while command_id not in self.results:
                self.arrived.clear()
                await self.arrived.wait()
        return self.results[command_id]

    def register(self, address: int = 10) -> int:
        """A holding register on the device."""
        return int(self.context.getValues(3, address, 1)[0])

    def _on_result(self, topic: str, payload: Any) -> None:
        result = decode_result(payload)
        assert topic == f"result/{result.tag}"
        self.results[result.id] = result
        self.order.append(result.id)
        self.arrived.set()


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    verify: SessionVerifier,
    bus: Bus | None = None,
    *actors: Actor,
    text: str = PROJECT,
    **options: Any,
) -> AsyncIterator[Plant]:
    """A device, ``actors`` (e.g. the security service) and a driver actor on ``bus``
    (built with ``options``) for the project ``text`` (``{port}``: the device's)."""
    port = free_port()
    path = tmp_path / "p.yaml"
    path.write_text(text.format(port=port))
    bus = bus or Bus.local()
    registers = [0] * 200
    registers[10] = INITIAL
    plant = Plant(bus, datastore(hr=registers), load_project(path))
    bus.subscribe("result/#", plant._on_result)
    try:
        async with pymodbus_server(port, plant.context), Supervisor(bus) as sup:
            for actor in actors:
                await sup.start(actor)
            await sup.start(DriverActor(plant.project, verify=verify, **options))
            yield plant
    finally:
        await bus.close()


def operator(command_id: str, value: int, user: str = "olga", **fields: Any) -> Command:
    """A command by a logged-in operator (unless ``fields`` say otherwise)."""
    fields.setdefault("token", session(user, "operator"))
    fields.setdefault("time", time.time())
    return Command(command_id, TAG, value, user=user, **fields)


def test_a_valid_operator_session_is_confirmed_in_its_users_name(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            # the command claims no user and no roles: the session says who it is
            token = session("olga", "operator")
            result = await plant.result(plant.send(operator("ok", 42, user="", token=token)))
            assert result.state is CommandState.CONFIRMED, result
            assert result.value == 42
            assert result.extra["user"] == "olga"
            assert plant.register() == 42

    asyncio.run(main())


def test_a_tokenless_command_claiming_roles_is_rejected_and_not_written(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            roles = frozenset({"operator", "admin"})
            crafted = Command("crafted", TAG, 99, user="olga", roles=roles, time=time.time())
            result = await plant.result(plant.send(crafted))
            assert result.state is CommandState.REJECTED
            assert result.message == "not logged in (command carries no session token)"
            assert plant.register() == INITIAL

    asyncio.run(main())


def test_forged_and_expired_tokens_are_rejected(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            forged_token = session("olga", "operator", "admin", key=b"not the plant key" * 2)
            forged = await plant.result(plant.send(operator("forged", 99, token=forged_token)))
            assert forged.state is CommandState.REJECTED
            assert forged.message == "invalid session: bad signature"

            old = session("olga", "operator", ttl=-1.0)
            expired = await plant.result(plant.send(operator("expired", 98, token=old)))
            assert expired.state is CommandState.REJECTED
            assert expired.message == "invalid session: expired"
            assert plant.register() == INITIAL

    asyncio.run(main())


def test_claims_other_than_the_sessions_are_rejected(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            # olga's session, claiming to be someone else
            other = operator("other", 99, user="admin", token=session("olga", "operator"))
            result = await plant.result(plant.send(other))
            assert result.state is CommandState.REJECTED
            assert "claims user 'admin'" in result.message

            # a viewer's genuine session, claiming the operator role for itself
            viewer = operator(
                "viewer", 99, user="vic", token=session("vic", "viewer"), roles={"operator"}
            )
            result = await plant.result(plant.send(viewer))
            assert result.state is CommandState.REJECTED
            assert result.message.startswith("vic may not write a/v/cmd (permission write")

            # an engineer has the write permission, but not a role the tag names
            engineer = operator("engineer", 99, user="eve", token=session("eve", "engineer"))
            result = await plant.result(plant.send(engineer))
            assert result.state is CommandState.REJECTED
            assert "lacks a role to write a/v/cmd (operator)" in result.message
            assert plant.register() == INITIAL

    asyncio.run(main())


def test_topic_and_payload_that_disagree_are_rejected(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path, local_verifier()) as plant:
            # a valid session, but the command on cmd/a/v/other is for a/v/cmd
            result = await plant.result(plant.send(operator("mixed", 99), topic="cmd/a/v/other"))
            assert result.state is CommandState.REJECTED
            assert "topic and command disagree" in result.message
            assert result.tag == "a/v/other"  # answered where it was asked
            assert plant.register(10) == INITIAL and plant.register(11) == 0

    asyncio.run(main())


def test_a_logged_out_session_is_rejected_by_the_security_service(tmp_path: Path) -> None:
    async def main() -> None:
        security = Security({}, KEY, None, clock=time.time)
        bus = Bus.local()
        verify = remote_verifier(bus)
        async with running(tmp_path, verify, bus, SecurityActor(security)) as plant:
            token = session("olga", "operator")
            before = await plant.result(plant.send(operator("before", 42, token=token)))
            assert before.state is CommandState.CONFIRMED, before

            security.logout(token)  # the signature still holds; only the service knows
            after = await plant.result(plant.send(operator("after", 43, token=token)))
            assert after.state is CommandState.REJECTED
            assert after.message == "invalid session: logged out"
            assert plant.register() == 42

    asyncio.run(main())


class SilentSecurity(Actor):
    """A security service that never answers ``verify`` (hung, or cut off)."""

    name = "security"

    @expose
    async def verify(self, token: str) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


@pytest.mark.parametrize("service", ["absent", "silent"])
def test_without_the_security_service_nothing_is_written(tmp_path: Path, service: str) -> None:
    async def main() -> None:
        bus = Bus.local()
        verify = remote_verifier(bus, timeout=0.2)
        actors = [SilentSecurity()] if service == "silent" else []
        async with running(tmp_path, verify, bus, *actors) as plant:
            result = await plant.result(plant.send(operator("blind", 99)))
            assert result.state is CommandState.REJECTED
            assert result.message == "cannot verify the session: security service unreachable"
            assert plant.register() == INITIAL

    asyncio.run(main())


def test_commands_verified_out_of_order_are_written_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        second_verified = asyncio.Event()

        async def verify(token: str) -> Identity:
            identity = verify_token(token, KEY, time.time())
            if identity.user == "first":
                await second_verified.wait()  # the first command's check ends last
            else:
                second_verified.set()
            return identity

        async with running(tmp_path, verify) as plant:
            first = plant.send(operator("1", 1, user="first"))
            second = plant.send(operator("2", 2, user="second"))
            assert (await plant.result(second)).state is CommandState.CONFIRMED
            assert (await plant.result(first)).state is CommandState.CONFIRMED
            assert plant.order == ["1", "2"]
            assert plant.register() == 2  # the later command's value stays

    asyncio.run(main())


def test_a_driver_actor_cannot_be_built_without_a_verifier(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(PROJECT.format(port=1502))
    project = load_project(path)
    with pytest.raises(TypeError):
        DriverActor(project)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="verify="):
        DriverActor(project, verify=local_verifier(), authorize=lambda c, t: None)


def test_remote_verifier_turns_the_session_into_an_identity() -> None:
    class Answers(Actor):
        name = "security"

        def __init__(self, answer: Any) -> None:
            super().__init__()
            self.answer = answer

        @expose
        def verify(self, token: str) -> Any:
            if token == "revoked":
                raise InvalidToken("logged out")
            return self.answer

    async def identity(answer: Any, token: str = "t") -> Identity:
        bus = Bus.local()
        async with Supervisor(bus) as sup:
            await sup.start(Answers(answer))
            try:
                return await remote_verifier(bus)(token)
            finally:
                await bus.close()

    async def main() -> None:
        good = {"token": "t", "user": "olga", "roles": ["operator"], "expires": 9.0, "node": "n"}
        assert await identity(good) == Identity("olga", frozenset({"operator"}), "n", 9.0)
        with pytest.raises(InvalidToken, match="logged out"):
            await identity(good, token="revoked")
        for malformed in [None, "olga", {"user": "olga"}, {"user": "olga", "roles": "admin"}]:
            with pytest.raises(SecurityUnavailable, match="malformed"):
                await identity(malformed)

    asyncio.run(main())

"""The drivers' admin RPC (add, change and remove devices and tags) needs ``edit_devices``.

The permission is checked at dispatch, by the composition root's authorizer
(:func:`hmi.app.plant.rpc_authorizer`) with the caller's token (``token=``): without one,
with a viewer's or an operator's, the call is refused (PermissionError on the caller) and
the refusal recorded; an engineer's is carried out and audited with the old and new
definitions. The project's ``permissions:`` decide who that is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hmi.bus import Bus, RemoteError
from hmi.core.command import CommandState
from hmi.core.identity import Identity
from tests.drivers.helpers import install_authorizer, local_verifier, session
from tests.drivers.test_actor_auth import INITIAL, PROJECT, TAG, operator, running

WAIT = 3.0

#: the device a call adds or changes (never polled: the tests do not wait for it)
DEVICE = {"name": "plc2", "port": 1, "timeout": 0.2}
NEW_TAG = {
    "name": "b/x/y",
    "device": "plc",
    "address": "hr:20",
    "type": "uint16",
    "poll_group": "fast",
}

#: each admin call, made with ``token=``
CALLS: dict[str, Callable[[Bus, dict[str, Any]], Awaitable[Any]]] = {
    "add_device": lambda bus, kw: bus.call("drivers", "add_device", DEVICE, [], **kw),
    "update_device": lambda bus, kw: bus.call(
        "drivers", "update_device", {"name": "plc", "port": 1}, **kw
    ),
    "remove_device": lambda bus, kw: bus.call("drivers", "remove_device", "plc", **kw),
    "set_tags": lambda bus, kw: bus.call("drivers", "set_tags", [NEW_TAG], **kw),
    "remove_tags": lambda bus, kw: bus.call("drivers", "remove_tags", [TAG], **kw),
}


def driver_of(bus: Bus) -> Any:
    """The driver actor serving ``drivers`` on ``bus``."""
    methods = bus.target_methods("drivers")
    assert methods is not None
    return methods["devices"].__self__


def audit_events(bus: Bus) -> list[dict[str, Any]]:
    """What the driver actor publishes for the backend's audit recorder."""
    events: list[dict[str, Any]] = []
    bus.subscribe("audit/#", lambda topic, payload: events.append({"topic": topic, **payload}))
    return events


@pytest.mark.parametrize("method", sorted(CALLS))
def test_an_admin_call_is_refused_without_the_permission_and_recorded(
    tmp_path: Path, method: str
) -> None:
    async def main() -> None:
        bus = Bus.local()
        refusals = install_authorizer(bus)
        events = audit_events(bus)
        async with running(tmp_path, local_verifier(), bus) as plant:
            call = CALLS[method]
            tokens = {
                "none": {},
                "viewer": {"token": session("vic", "viewer")},
                "operator": {"token": session("olga", "operator")},
                "forged": {"token": session("eve", "engineer", key=b"not the plant key" * 2)},
            }
            for kw in tokens.values():
                with pytest.raises(RemoteError) as refused:
                    await asyncio.wait_for(call(bus, kw), WAIT)
                assert refused.value.remote_type == "PermissionError"
            where = f"drivers.{method}"
            assert [(w, user) for w, user, _, _ in refusals.rows] == [
                (where, "? (unverified: no session token)"),
                (where, "vic"),
                (where, "olga"),
                (where, "eve (unverified: bad signature)"),
            ]
            reasons = [why for _, _, why, _ in refusals.rows]
            assert reasons[0] == "not logged in (no session token)"
            assert reasons[1] == (
                "vic may not edit the devices and tags of drivers "
                "(permission edit_devices: admin, engineer)"
            )
            assert reasons[3] == "invalid session: bad signature"
            # nothing changed, and nothing was audited as done
            assert events == []
            result = await plant.result(plant.send(operator("still", 42)))
            assert result.state is CommandState.CONFIRMED, result

    asyncio.run(main())


def test_an_engineer_edits_and_every_edit_is_audited_with_old_and_new(tmp_path: Path) -> None:
    async def main() -> None:
        bus = Bus.local()
        refusals = install_authorizer(bus)
        events = audit_events(bus)
        async with running(tmp_path, local_verifier(), bus) as plant:
            engineer = {"token": session("eve", "engineer"), "timeout": WAIT}
            # The attack, made by someone allowed to: the tag is opened to viewers
            # with a wide limit. The edit is audited, old and new...
            opened = {
                "name": TAG,
                "device": "plc",
                "address": "hr:10",
                "type": "uint16",
                "poll_group": "fast",
                "write_roles": ["viewer", "operator"],
                "limits": {"low": 0, "high": 60000},
            }
            await bus.call("drivers", "set_tags", [opened], **engineer)
            [event] = events
            assert event["topic"] == "audit/edit"
            assert (event["user"], event["action"], event["outcome"]) == (
                "eve",
                "drivers.set_tags",
                "ok",
            )
            assert event["target"] == TAG
            assert event["old_value"][TAG]["write_roles"] == ["operator"]
            assert event["new_value"] == [opened]
            # ... and a viewer still may not write: the roles a tag names are only among
            # those with the write permission.
            viewer = operator("viewer", 50000, user="vic", token=session("vic", "viewer"))
            result = await plant.result(plant.send(viewer))
            assert result.state is CommandState.REJECTED
            assert "permission write" in result.message
            assert plant.register() == INITIAL

            # A failed edit is audited as such (and the caller told why).
            with pytest.raises(RemoteError, match="no device 'nope'"):
                await bus.call("drivers", "remove_device", "nope", **engineer)
            assert (events[-1]["action"], events[-1]["outcome"]) == (
                "drivers.remove_device",
                "failed",
            )
            await bus.call("drivers", "remove_tags", [TAG], **engineer)
            assert events[-1]["old_value"][TAG]["high"] == 60000
            assert events[-1]["new_value"] is None
            assert refusals.rows == []

    asyncio.run(main())


def test_the_caller_cannot_name_itself_and_plain_methods_are_called_as_they_are(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        bus = Bus.local()
        install_authorizer(bus)
        events = audit_events(bus)
        async with running(tmp_path, local_verifier(), bus):
            boss = Identity("boss", frozenset({"admin"}))
            with pytest.raises(RemoteError, match="vic may not"):
                await bus.call(
                    "drivers", "remove_tags", [TAG], identity=boss, token=session("vic", "viewer")
                )
            await bus.call(
                "drivers", "remove_tags", [TAG], identity=boss, token=session("eve", "engineer")
            )
            assert events[-1]["user"] == "eve"  # the verified caller, not the one it named
            # methods without a permission are the bound methods themselves: no check
            # and nothing else stands between the call and them
            methods = bus.target_methods("drivers")
            assert methods is not None
            actor = driver_of(bus)
            assert methods["devices"] == actor.devices
            assert methods["set_tags"] != actor.set_tags

    asyncio.run(main())


def test_without_an_authorizer_every_admin_call_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        bus = Bus.local()  # nobody installed an authorizer: fail closed
        async with running(tmp_path, local_verifier(), bus):
            with pytest.raises(RemoteError, match="no authorizer") as refused:
                await bus.call("drivers", "remove_device", "plc", token=session("eve", "engineer"))
            assert refused.value.remote_type == "PermissionError"
            assert await bus.call("drivers", "devices") == ["plc"]

    asyncio.run(main())


CUSTOM = PROJECT.replace(
    "name: auth test\n",
    "name: auth test\n"
    "roles: [viewer, operator, engineer, admin, integrator]\n"
    "permissions:\n"
    "  integrator: [edit_devices]\n"
    "  engineer: [write, acknowledge]\n",
)


def test_the_project_decides_which_roles_may_edit_devices(tmp_path: Path) -> None:
    async def main() -> None:
        bus = Bus.local()
        async with running(tmp_path, local_verifier(), bus, text=CUSTOM) as plant:
            refusals = install_authorizer(bus, plant.project.grants)
            engineer = session("eve", "engineer")
            with pytest.raises(RemoteError, match="permission edit_devices: admin, integrator"):
                await bus.call("drivers", "set_tags", [NEW_TAG], token=engineer, timeout=WAIT)
            assert [user for _, user, _, _ in refusals.rows] == ["eve"]
            integrator = session("ivan", "integrator")
            await bus.call("drivers", "set_tags", [NEW_TAG], token=integrator, timeout=WAIT)
            assert "b/x/y" in driver_of(bus).manager.tags
            # the integrator edits devices but has no write permission
            write = operator("w", 1, user="ivan", token=integrator)
            result = await plant.result(plant.send(write))
            assert result.state is CommandState.REJECTED
            assert "ivan may not write" in result.message

    asyncio.run(main())


def test_who_the_caller_is_is_only_the_dispatchers_to_say() -> None:
    from hmi.bus import expose
    from hmi.core.permissions import Permission

    with pytest.raises(TypeError, match="identity parameter needs a permission"):

        @expose
        def named(self: Any, identity: Identity) -> None: ...

    with pytest.raises(TypeError, match="token= is the dispatcher's"):

        @expose(permission=Permission.READ_AUDIT)
        def tokened(self: Any, token: str) -> None: ...

"""The plant's actors, owned by one supervisor: simulator, drivers, and the services.

The same composition serves every command: ``hmi demo`` and ``hmi run`` in local mode (in
the GUI process, on the qasync loop), ``hmi node`` (drivers only) and ``hmi backend``
(security, audit, alarm engine, historian; drivers too with ``--drivers``) on plain
asyncio. A driver actor is always built with the token check: its writes are authorized
by the session the security service verifies, whatever the command claims.

Every node that runs a :class:`Backend` installs the bus's RPC authorizer
(:func:`rpc_authorizer`): methods that declare a permission (``@expose(permission=...)``:
device edits, the audit trail) run only for a caller whose session token the security
service verifies, from the node it logged in on, with a role the project grants the
permission. Every refusal is audited: into the audit log on the backend's node, as an
``audit/refused`` event for the backend's recorder elsewhere.

The services share one :class:`~hmi.services.health.StoreHealth`: the audit log, the
alarm journal, the historian, the session state and the :class:`~hmi.services.
disk_watch.DiskWatch` of the data folder report to it, and the alarm engine alarms what
it hears (docs/security.md, "Fail-closed rules").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from hmi.bus import Actor, Bus, Supervisor
from hmi.bus.local.clock import Clock
from hmi.bus.local.rpc import Authorizer, RpcRequest
from hmi.bus.local.verdicts import VERDICT_SECONDS, CachedAuthorizer
from hmi.core.identity import Identity, InvalidToken, Unauthorized
from hmi.core.permissions import Grants
from hmi.drivers.actor import DriverActor
from hmi.drivers.auth import (
    SecurityUnavailable,
    SessionVerifier,
    claimed_user,
    node_refusal,
    remote_verifier,
)
from hmi.project import Project
from hmi.services.audit import AuditLog, entry_from_event
from hmi.services.audit_intent import remote_intent
from hmi.services.disk_watch import DiskLimits, DiskWatch, history_check
from hmi.services.health import StoreHealth
from hmi.services.security import Security, load_or_create_key
from hmi.services.security_actor import AuditRecorder, SecurityActor

log = logging.getLogger(__name__)

#: the files a plant keeps in its data folder
KEY_FILE = "plant.key"
AUDIT_FILE = "audit.sqlite"
#: logged-out sessions and disabled users, kept across restarts
SESSIONS_FILE = "sessions.json"


def with_simulated_devices(project: Project, host: str, port: int) -> Project:
    """``project`` with every Modbus/TCP device pointed at the simulator."""
    devices = {
        name: dataclasses.replace(device, host=host, port=port)
        if device.protocol == "modbus-tcp"
        else device
        for name, device in project.devices.items()
    }
    return dataclasses.replace(project, devices=MappingProxyType(devices))


#: ``refused(request, user, why, node)``: record a refused RPC call (``user`` is the
#: verified user, or the claimed one marked unverified)
Refusals = Callable[[RpcRequest, str, str, str], None]


def rpc_authorizer(
    grants: Grants,
    verify: SessionVerifier,
    refused: Refusals,
    *,
    clock: Clock | None = None,
    seconds: float = VERDICT_SECONDS,
) -> CachedAuthorizer:
    """The bus's check of methods that declare a permission (see :mod:`hmi.bus.local.rpc`).

    In order, each a refusal (recorded with ``refused``, then PermissionError): the call
    carries a token; ``verify`` accepts it (signature, expiry, logout: the security
    service); the session belongs to the node the call came from, when the transport
    tells; a role of the session has the permission in ``grants``.

    An accepted verdict is kept ``seconds`` of ``clock`` (0.5 s; never past the token's
    expiry) for the same token, node and method (:mod:`hmi.bus.local.verdicts`): a burst of
    calls is verified once, and a logout or a disabled user still reaches this door
    within 1 s (docs/security.md). Refusals are never kept.
    """
    return CachedAuthorizer(_checks(grants, verify, refused), clock=clock, seconds=seconds)


def _checks(grants: Grants, verify: SessionVerifier, refused: Refusals) -> Authorizer:
    """The checks of :func:`rpc_authorizer`, made at every call it does not keep."""

    async def authorize(request: RpcRequest) -> Identity:
        where = f"{request.target}.{request.method}"

        def refuse(user: str, why: str, node: str = "") -> NoReturn:
            log.warning("%s refused to %s: %s", where, user, why)
            refused(request, user, why, request.sender or node)
            raise PermissionError(f"{where} refused: {why}")

        def unverified(why: str) -> str:
            return f"{claimed_user(request.token) or '?'} (unverified: {why})"

        if not request.token:
            refuse(unverified("no session token"), "not logged in (no session token)")
        try:
            identity = await verify(request.token)
        except InvalidToken as exc:
            refuse(unverified(str(exc)), f"invalid session: {exc}")
        except SecurityUnavailable as exc:
            refuse(unverified(str(exc)), f"cannot verify the session: {exc}")
        except Exception as exc:  # a broken verifier refuses too
            log.exception("%s: session verifier failed", where)
            refuse(unverified("verifier failed"), f"cannot verify the session ({exc!r})")
        wrong_node = node_refusal(identity, request.sender)
        if wrong_node:
            refuse(identity.user, wrong_node, identity.node)
        try:
            grants.authorize(identity, request.permission, request.target)
        except Unauthorized as exc:
            refuse(identity.user, str(exc), identity.node)
        return identity

    return authorize


def _start_running(plant: Any) -> None:
    """Put a simulated plant in operation, so a demo shows a process that moves."""
    for name, value in (
        ("level_sp", 3.2),
        ("lic_auto", True),
        ("pump_run", True),
        ("heater_enable", True),
        ("heater_command", 60.0),
    ):
        plant.write(name, value)


class Backend:
    """Starts and stops the backend actors of ``project`` on ``bus``."""

    def __init__(
        self,
        project: Project,
        bus: Bus,
        data_dir: Path,
        *,
        simulate: bool = False,
        sim_port: int = 0,
        services: bool = True,
        drivers: bool = True,
        driver_name: str = DriverActor.name,
    ) -> None:
        self.project = project
        self.bus = bus
        self.data_dir = data_dir
        self.simulate = simulate
        self.sim_port = sim_port
        self.services = services
        self.drivers = drivers
        self.driver_name = driver_name
        self.supervisor = Supervisor(bus)
        #: the audit log, when this node runs the services (else events go on audit/...)
        self.audit: AuditLog | None = None
        self.security: Security | None = None
        self.key = b""
        #: what is wrong with the services' storage now (the engine alarms it)
        self.health = StoreHealth()
        #: when the data disk is nearly full: the project's ``data:`` section, if any
        self.disk = DiskLimits.of(getattr(project, "data", None))

    async def start(self) -> Project:
        """Start every actor; returns the project as run (device addresses of the sim)."""
        if self.services:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        project = self.project
        # Before any actor exposes a target: no call is ever dispatched unchecked.
        self.bus.authorizer = rpc_authorizer(
            project.grants, remote_verifier(self.bus), self._refused
        )
        if self.simulate:
            from hmi.sim.actor import SimulatorActor
            from hmi.sim.server import Simulator

            simulator = Simulator(devices=1, port=self.sim_port)
            for unit in simulator:
                _start_running(unit.plant)
            await self._start(SimulatorActor(simulator))
            project = with_simulated_devices(project, simulator.host, simulator.port)
            self.project = project
        clock = self.bus.clock.time
        if self.services:
            self.key = load_or_create_key(self.data_dir / KEY_FILE)
            self.audit = AuditLog(self.data_dir / AUDIT_FILE, health=self.health)
            self.security = Security(
                project.users,
                self.key,
                self.audit,
                clock=clock,
                audience=project.name,
                state=self.data_dir / SESSIONS_FILE,
                health=self.health,
            )
            await self._start(DiskWatch(self.data_dir, self.health, self.disk))
            await self._start(SecurityActor(self.security))
            await self._start(AuditRecorder(self.audit, self.security))
            await self._start_history_and_alarms(project)
        if self.drivers:
            # The sessions are the security service's to verify (here or on the backend's
            # node): a driver never trusts the roles a command claims.
            verify = remote_verifier(self.bus)
            await self._start(
                DriverActor(
                    project,
                    name=self.driver_name,
                    verify=verify,
                    audit=lambda event: self.record("edit", event),
                    # nothing is written that the audit did not store first
                    intend=remote_intent(self.bus),
                )
            )
        if self.services and project.sparkplug is not None:
            # The plant's tags as a Sparkplug B edge node (docs/drivers.md, "Sparkplug B");
            # its DCMD writes go through cmd/ like an operator's, refusals into the audit.
            from hmi.drivers.sparkplug.edge_actor import SparkplugEdge

            await self._start(
                SparkplugEdge(project, audit=lambda event: self.record("refused", event))
            )
        return project

    async def _start_history_and_alarms(self, project: Project) -> None:
        from hmi.services.alarm_engine import AlarmEngine
        from hmi.services.historian import Historian

        # Relative data paths of the project file live in this backend's data folder.
        config = project.historian
        path = config.path if config.path.is_absolute() else self.data_dir / config.path.name
        located = dataclasses.replace(project, historian=dataclasses.replace(config, path=path))
        if config.enabled:
            await self._start(
                Historian.for_project(
                    located,
                    health=self.health,
                    disk_check=history_check(self.disk, path.parent),
                )
            )
        assert self.security is not None
        await self._start(
            AlarmEngine.for_project(
                located, authorize=self.security.verify, audit=self.audit, health=self.health
            )
        )

    async def _start(self, actor: Actor) -> Any:
        return await self.supervisor.start(actor)

    def record(self, kind: str, event: dict[str, Any]) -> None:
        """Audit ``event`` (a dict of AuditEntry fields): into the audit log when this
        node has it (it happened: a row the store cannot take now waits there), else on
        ``audit/<kind>`` for the backend's audit recorder."""
        if self.audit is not None:
            self.audit.note(entry_from_event(event, self.bus.clock.time()))
        else:
            self.bus.publish(f"audit/{kind}", event)

    def _refused(self, request: RpcRequest, user: str, why: str, node: str) -> None:
        self.record(
            "refused",
            {
                "time": self.bus.clock.time(),
                "user": user,
                "action": f"{request.target}.{request.method}",
                "target": request.target,
                "outcome": "denied",
                "reason": why,
                "node": node,
            },
        )

    async def stop(self) -> None:
        """Stop every actor (newest first) and close the files."""
        await self.supervisor.stop()
        if self.audit is not None:
            self.audit.close()
            self.audit = None

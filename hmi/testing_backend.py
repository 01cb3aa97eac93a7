"""Test kit: a project's whole backend with its plant simulated, for commissioning tests.

:func:`serve_backend` (the ``plant_backend`` fixture of :mod:`hmi.testing`) runs
:class:`hmi.app.plant.Backend` with ``simulate=True`` exactly as ``hmi demo`` does: the
simulated plant serving Modbus/TCP on a free port and put in operation (level controller
in auto, pump running, heater on), the drivers polling it, security, audit, the alarm
engine and the historian, on an in-memory bus, in a background thread, in real time.
A :class:`RunningBackend` drives it from a test: inject faults, read what the plant does
and what the HMI would show, wait for the alarm engine's alarms, log in and write as an
operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from hmi.core.alarms import AlarmState, AlarmStatus
from hmi.core.command import Command, CommandResult
from hmi.core.sample import Sample, Value
from hmi.testing import signal_of

T = TypeVar("T")

#: seconds a wait gives up after unless told otherwise
DEFAULT_TIMEOUT = 15.0


class RunningBackend:
    """A backend serving in a background thread; every method is safe to call from tests.

    Times are real seconds: a driver polls every 0.2 s (the demo's fast group), so an
    alarm follows a fault within about a second; ``wait_*`` methods wait for it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, parts: _Parts) -> None:
        self._loop = loop
        self._parts = parts

    # -- plumbing ----------------------------------------------------------------------------
    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = DEFAULT_TIMEOUT) -> T:
        """Run ``coroutine`` on the backend's loop and return its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=timeout + 5)

    def call(self, target: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """An RPC call on the plant's bus, as any node could make it."""
        return self.run(self._parts.bus.call(target, method, *args, **kwargs))

    @property
    def project(self) -> Any:
        """The project as it runs (its devices pointed at the simulator)."""
        return self._parts.project

    # -- the plant ---------------------------------------------------------------------------
    def inject(self, kind: str, duration: float | None = None, **options: Any) -> list[str]:
        """Inject a simulator fault (docs/simulated-plant.md); the active faults."""
        result: list[str] = self.call("sim", "inject", kind, duration, **options)
        return result

    def clear(self, kind: str | None = None, sensor: str | None = None) -> list[str]:
        """Clear one kind of fault, or every fault; the active faults."""
        result: list[str] = self.call("sim", "clear", kind, sensor)
        return result

    def read(self, name: str) -> Value:
        """The plant's true value of a demo-plant tag or signal (not what a master sees)."""
        value: Value = self.call("sim", "read", signal_of(name))
        return value

    def value(self, tag: str) -> Sample:
        """The latest sample of ``tag`` on the bus: what an operator station shows."""
        return self._parts.samples.get(tag, Sample(None))

    def wait_for_value(
        self, tag: str, predicate: Callable[[Value], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> Sample:
        """Wait until ``predicate(value)`` holds for ``tag``'s latest sample; the sample."""
        return self._wait(
            lambda: self.value(tag) if predicate(self.value(tag).value) else None,
            timeout,
            f"{tag} to satisfy the condition (last: {self.value(tag).value!r})",
        )

    # -- alarms ------------------------------------------------------------------------------
    def alarms(self, annunciated_only: bool = True) -> list[AlarmStatus]:
        """The alarm engine's alarms: the annunciated ones (or every one it knows)."""
        rows = self.call("alarms", "snapshot")
        statuses = [AlarmStatus.from_dict(row) for row in rows]
        return [s for s in statuses if s.state.annunciated or not annunciated_only]

    def alarm(self, tag: str) -> AlarmStatus | None:
        """The alarm engine's status of ``tag``'s alarm (None when it has none)."""
        return next((s for s in self.alarms(annunciated_only=False) if s.tag == tag), None)

    def wait_for_alarm(
        self,
        tag: str,
        state: AlarmState | str = AlarmState.UNACKNOWLEDGED,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> AlarmStatus:
        """Wait until the alarm engine reports ``tag``'s alarm in ``state``; its status."""
        wanted = AlarmState(state)

        def found() -> AlarmStatus | None:
            status = self._parts.alarms.get(tag)
            return status if status is not None and status.state is wanted else None

        return self._wait(found, timeout, f"alarm {tag} to be {wanted.value}")

    # -- an operator -------------------------------------------------------------------------
    def login(self, user: str, password: str) -> str:
        """Log ``user`` in; the session token (raises when refused)."""
        info = self.call("security", "login", user, password)
        token: str = info["token"]
        return token

    def write(self, tag: str, value: Value, *, token: str, user: str = "") -> CommandResult:
        """Write ``tag`` as the session ``token`` would from a screen; the final result
        (confirmed, overridden by the device, rejected with the reason, failed, timed out)."""
        return self.run(self._parts.write(tag, value, token, user))

    # -- internals ---------------------------------------------------------------------------
    def _wait(self, found: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        changed = self._parts.changed
        while True:
            changed.clear()
            result = found()
            if result is not None:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"waited {timeout:g} s for {what}")
            changed.wait(min(left, 0.5))


class _Parts:
    """What the backend thread owns: bus, backend, the samples and alarms it heard."""

    def __init__(self) -> None:
        self.bus: Any = None
        self.backend: Any = None
        self.project: Any = None
        self.samples: dict[str, Sample] = {}
        self.alarms: dict[str, AlarmStatus] = {}
        self.results: dict[str, asyncio.Future[CommandResult]] = {}
        #: set (from the loop thread) whenever a sample or an alarm arrives
        self.changed = threading.Event()

    async def start(self, project_file: Path | None, data_dir: Path) -> None:
        from hmi.app import DEMO_PROJECT
        from hmi.app.plant import Backend
        from hmi.bus import Bus
        from hmi.bus.wire.samples import decode_samples
        from hmi.project import load_project

        self.bus = Bus.local()
        self.bus.subscribe("tag/#", self._on_samples(decode_samples))
        self.bus.subscribe("alarm/#", self._on_alarm)
        self.bus.subscribe("result/#", self._on_result)
        project = load_project(project_file or DEMO_PROJECT)
        self.backend = Backend(project, self.bus, data_dir, simulate=True)
        self.project = await self.backend.start()
        for row in await self.bus.call("alarms", "snapshot"):
            status = AlarmStatus.from_dict(row)
            self.alarms.setdefault(status.tag, status)

    async def stop(self) -> None:
        if self.backend is not None:
            await self.backend.stop()
        if self.bus is not None:
            await self.bus.close()

    def _on_samples(self, decode: Callable[[Any], Any]) -> Callable[[str, Any], None]:
        def on_samples(topic: str, payload: Any) -> None:
            with contextlib.suppress(Exception):  # a malformed batch is the bus' problem
                self.samples.update(decode(payload))
                self.changed.set()

        return on_samples

    def _on_alarm(self, topic: str, payload: Any) -> None:
        if isinstance(payload, dict) and "tag" in payload and "state" in payload:
            status = AlarmStatus.from_dict(payload)
            self.alarms[status.tag] = status
            self.changed.set()

    def _on_result(self, topic: str, payload: Any) -> None:
        from hmi.bus.wire.messages import decode_result

        result = decode_result(payload)
        waiter = self.results.get(result.id)
        if waiter is not None and not waiter.done() and result.state.final:
            waiter.set_result(result)

    async def write(self, tag: str, value: Value, token: str, user: str) -> CommandResult:
        from hmi.bus.wire.messages import encode_command

        command = Command(
            id=uuid.uuid4().hex,
            tag=tag,
            value=value,
            user=user,
            node="pytest",
            time=self.bus.clock.time(),  # a command from the past is refused as a replay
            token=token,
        )
        waiter = self.results[command.id] = asyncio.get_running_loop().create_future()
        try:
            self.bus.publish(f"cmd/{tag}", encode_command(command))
            return await asyncio.wait_for(waiter, DEFAULT_TIMEOUT)
        finally:
            self.results.pop(command.id, None)


@contextlib.contextmanager
def serve_backend(
    project: str | Path | None = None, data_dir: str | Path | None = None
) -> Iterator[RunningBackend]:
    """Run ``project``'s backend (default: the demo plant) until the ``with`` block ends.

    ``data_dir`` holds the plant key, audit trail, alarm journal and history (default: a
    temporary folder, removed afterwards).
    """
    scratch = None
    if data_dir is None:
        import tempfile

        scratch = tempfile.TemporaryDirectory(prefix="hmi-backend-")
        data_dir = scratch.name
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="hmi-backend", daemon=True)
    thread.start()
    parts = _Parts()
    running = RunningBackend(loop, parts)
    try:
        running.run(parts.start(Path(project) if project else None, Path(data_dir)), 30.0)
        yield running
    finally:
        with contextlib.suppress(Exception):
            running.run(parts.stop(), 15.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        if scratch is not None:
            scratch.cleanup()

"""``hmi sim``: serve the simulated plant over Modbus/TCP, inject faults, run scenarios."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_FAULT_HELP = (
    "inject a fault at start, KIND[:ARG][@SECONDS] (repeatable): comm_loss@5, slow:0.5, "
    "exception:4, freeze:level, noise:temperature, stuck_valve, pump_trip, alarm_flood@30"
)


def register(commands: Any) -> None:
    """Add ``sim`` to the sub-parsers."""
    sim = commands.add_parser(
        "sim",
        help="run the simulated plant (Modbus/TCP server, faults, scenarios)",
        description="Serve the demo plant's PLC over Modbus/TCP; register map in "
        "docs/simulated-plant.md.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sim.add_argument("--port", type=int, default=5020, help="TCP port (5020; 0 = any free)")
    sim.add_argument(
        "--devices", type=int, default=1, metavar="N", help="plants to serve as unit ids 1..N"
    )
    sim.add_argument(
        "--speed", type=float, default=1.0, metavar="N", help="run N times faster than real time"
    )
    sim.add_argument(
        "--scenario", type=Path, metavar="FILE", help="run a scenario file, report and exit"
    )
    sim.add_argument("--fault", action="append", default=[], metavar="SPEC", help=_FAULT_HELP)
    sim.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many simulated seconds"
    )
    sim.set_defaults(handler=run)


def parse_fault(spec: str) -> tuple[str, dict[str, object], float | None]:
    """``freeze:level@10`` -> ("freeze", {"sensor": "level"}, 10.0), checked as injecting it
    checks it (:func:`hmi.sim.faults.fault_arguments`); ValueError says what is wrong."""
    from hmi.sim.faults import FAULT_OPTIONS, fault_arguments, fault_kind

    body, at, duration_text = spec.partition("@")
    kind_text, colon, arg = body.partition(":")
    kind = fault_kind(kind_text)
    options: dict[str, object] = {}
    if colon:
        key = next(iter(FAULT_OPTIONS.get(kind, {})), None)  # the one KIND:ARG sets
        if key is None:
            raise ValueError(f"{kind.value} takes no argument")
        if not arg:
            raise ValueError(f"{kind.value} needs a {key} after ':'")
        if ":" in arg:
            raise ValueError(f"{kind.value} takes one argument (the {key}), not {arg!r}")
        options[key] = arg
    if at and not duration_text:
        raise ValueError("the seconds after '@' are missing")
    fault, duration, checked = fault_arguments(kind, duration_text or None, **options)
    return fault.value, checked, duration


def _check_port(port: int) -> None:
    """ValueError unless ``port`` is a TCP port number (0: any free port)."""
    if not 0 <= port <= 65535:
        raise ValueError("expected a TCP port in 0..65535 (0 = any free port)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (or ``--duration``), or run ``--scenario`` and report."""
    import asyncio
    import contextlib
    import math

    from hmi.bus.local.clock import RealClock, ScaledClock
    from hmi.sim.scenario import ScenarioError, load_scenario
    from hmi.sim.server import Simulator

    # Every argument is checked before anything starts: one line each, status 2 (usage).
    problems: list[str] = []
    if not 0 < args.speed < math.inf:  # NaN too
        problems.append(f"--speed {args.speed:g}: expected a finite number above 0")
    if args.duration is not None and not 0 <= args.duration < math.inf:
        problems.append(f"--duration {args.duration:g}: expected a finite number, 0 or more")
    try:
        _check_port(args.port)
    except ValueError as exc:
        problems.append(f"--port {args.port}: {exc}")
    faults = []
    for spec in args.fault:
        try:
            faults.append(parse_fault(spec))
        except ValueError as exc:
            problems.append(f"--fault {spec}: {exc}")
    if problems:
        for problem in problems:
            print(f"hmi sim: {problem}", file=sys.stderr)
        return 2
    clock = RealClock() if args.speed == 1 else ScaledClock(args.speed)
    try:
        sim = Simulator(args.devices, host=args.host, port=args.port, clock=clock)
    except ValueError as exc:
        print(f"hmi sim: {exc}", file=sys.stderr)
        return 2
    scenario = None
    if args.scenario is not None:
        try:  # its unit must be one of the simulator's (--devices)
            scenario = load_scenario(args.scenario, units=sim.units)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 1
    for unit in sim:
        for kind, options, duration in faults:
            unit.faults.inject(kind, duration, **options)

    async def main() -> int:
        # SIGTERM (systemd's stop, hmi launch) ends the simulator as Ctrl-C does.
        import signal

        task = asyncio.current_task()
        assert task is not None
        with contextlib.suppress(NotImplementedError):  # Windows' proactor loop
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await sim.start()
        except (OSError, RuntimeError) as exc:
            print(f"hmi sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        print(
            f"hmi sim: {args.devices} plant(s) as unit ids {', '.join(map(str, sim.units))} "
            f"on {sim.host}:{sim.port}, speed x{args.speed:g}",
            flush=True,
        )
        # Wake about 20 times a real second whatever the speed: smooth and cheap.
        wake = 0.05 * args.speed
        try:
            if scenario is not None:
                from hmi.sim.scenario_run import run_scenario

                report = await run_scenario(sim, scenario, clock, wake=wake)
                print(report)
                return 0 if report.passed else 1
            runner = sim.run(tick=wake)
            if args.duration is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runner, args.duration / args.speed)
            else:
                await runner
            return 0
        finally:
            await sim.stop()

    try:
        return asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 0

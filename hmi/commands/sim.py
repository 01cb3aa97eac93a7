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
    """``freeze:level@10`` -> ("freeze", {"sensor": "level"}, 10.0)."""
    from hmi.sim.faults import Fault

    body, _, duration_text = spec.partition("@")
    kind_text, _, arg = body.partition(":")
    kind = Fault(kind_text)  # ValueError names the bad kind
    options: dict[str, object] = {}
    if arg:
        key = {
            Fault.SLOW: "delay",
            Fault.EXCEPTION: "code",
            Fault.FREEZE: "sensor",
            Fault.NOISE: "sensor",
        }.get(kind)
        if key is None:
            raise ValueError(f"{kind.value} takes no argument")
        options[key] = arg
    return kind.value, options, float(duration_text) if duration_text else None


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (or ``--duration``), or run ``--scenario`` and report."""
    import asyncio
    import contextlib

    from hmi.bus.local.clock import RealClock, ScaledClock
    from hmi.sim.scenario import ScenarioError, load_scenario
    from hmi.sim.server import Simulator

    if args.speed <= 0:
        print("hmi sim: --speed must be above 0", file=sys.stderr)
        return 2
    try:
        faults = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"hmi sim: --fault: {exc}", file=sys.stderr)
        return 2
    scenario = None
    if args.scenario is not None:
        try:
            scenario = load_scenario(args.scenario)
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 1
    clock = RealClock() if args.speed == 1 else ScaledClock(args.speed)
    try:
        sim = Simulator(args.devices, host=args.host, port=args.port, clock=clock)
    except ValueError as exc:
        print(f"hmi sim: {exc}", file=sys.stderr)
        return 2
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

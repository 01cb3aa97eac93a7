"""``hmi broker``: route the bus between processes and machines, show live statistics."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

#: the discovery key itself (hmi.bus.net.discovery.KEY_ENV; not imported: the CLI stays light)
KEY_ENV = "HMI_DISCOVERY_KEY"


def register(commands: Any) -> None:
    """Add ``broker`` to the sub-parsers."""
    cmd = commands.add_parser(
        "broker",
        help="run the bus broker (routing, last-value cache, statistics, heartbeats)",
        description="Nodes connect to ADDRESS (front, ROUTER) and ADDRESS+1 (back, XPUB). "
        "Bind tcp://*:PORT for other machines, with --secret-key and --clients (CURVE). "
        "With a project, its bus: section gives the address, heartbeat, keys and whether "
        "to answer discovery probes; flags override it. The discovery key is a secret: "
        "from --discovery-key-file or $HMI_DISCOVERY_KEY, never the command line; without "
        "one (the public default) the broker answers probes on loopback only, and refuses "
        "to start on another address unless discovery is off (--no-beacon).",
    )
    cmd.add_argument(
        "project",
        type=Path,
        nargs="?",
        help="project YAML file: bus.broker, bus.heartbeat_interval, bus.curve "
        "(broker_key's NAME.key_secret, clients), bus.max_cache_entries, bus.forget_after",
    )
    cmd.add_argument(
        "--address",
        "--broker",
        dest="address",
        default=None,
        help="tcp://HOST:PORT (back on PORT+1) or ipc://PATH (default: $HMI_BROKER, then "
        "the project's bus.broker, else tcp://127.0.0.1:5570); tcp://*:PORT listens on "
        "every interface",
    )
    cmd.add_argument(
        "--heartbeat",
        type=float,
        default=None,
        help="seconds between the broker's heartbeats (default: the project's, else 1); "
        "nodes beat at their own",
    )
    cmd.add_argument(
        "--dead-after",
        type=float,
        default=None,
        help="silent seconds before any node is dead (default: 3.5 of the heartbeat "
        "interval the node told)",
    )
    cmd.add_argument(
        "--max-cache-entries",
        type=int,
        default=None,
        metavar="N",
        help="tag values the last-value cache keeps at most (and topics); new ones beyond "
        "are not cached and counted (drops: cache_full); default: the project's "
        "bus.max_cache_entries, else 250000",
    )
    cmd.add_argument(
        "--forget-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="forget a node gone (dead, or silent without a hello) for this long, and the "
        "cached values of a publisher gone that long (default: the project's "
        "bus.forget_after, else 3600)",
    )
    cmd.add_argument("--secret-key", type=Path, help="broker key file (NAME.key_secret): CURVE")
    cmd.add_argument(
        "--clients", type=Path, help="policy YAML: admitted keys, their publish and serve rights"
    )
    cmd.add_argument(
        "--beacon-port", type=int, default=5569, help="UDP discovery port (default 5569)"
    )
    cmd.add_argument(
        "--no-beacon",
        action="store_true",
        help="do not answer discovery probes (also: bus.discovery: false in the project)",
    )
    cmd.add_argument(
        "--discovery-key-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="the plant's discovery key shared with the nodes (its first line); default: "
        f"${KEY_ENV}, else the public default (loopback only)",
    )
    cmd.add_argument(
        "--stats",
        choices=("auto", "table", "none"),
        default="auto",
        help="live table in the terminal (auto: when stdout is a terminal)",
    )
    cmd.add_argument(
        "--stats-interval", type=float, default=1.0, help="seconds between statistics (default 1)"
    )
    cmd.add_argument("--quiet", action="store_true", help="same as --stats none")
    cmd.add_argument(
        "--no-fast-path",
        action="store_true",
        help="check every publication on the front, as with --clients (slower; see "
        "docs/bus-protocol.md)",
    )
    cmd.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the broker until Ctrl-C."""
    import asyncio

    from hmi.bus.broker import BROKER_NICE, Broker
    from hmi.bus.broker.brokerstats import render
    from hmi.bus.net.auth import Policy
    from hmi.bus.net.discovery import BROKER_ENV, discovery_key, read_key_file
    from hmi.bus.net.keys import KeyPair

    # the same order as every other command: the flag, the environment, the project
    address, heartbeat = args.address or os.environ.get(BROKER_ENV) or None, args.heartbeat
    max_entries, forget_after = args.max_cache_entries, args.forget_after
    beacon = not args.no_beacon
    if args.project is not None:
        from hmi.commands import load

        project = load(args.project)
        if project is None:
            return 1
        bus = project.bus
        address = address or bus.broker or None
        heartbeat = heartbeat if heartbeat is not None else bus.heartbeat_interval
        if max_entries is None:
            max_entries = bus.max_cache_entries
        if forget_after is None:
            forget_after = bus.forget_after
        beacon = beacon and bus.discovery  # nodes that do not probe need no answers
        if bus.curve is not None and args.secret_key is None and args.clients is None:
            if bus.curve.clients is None:
                where = f"{project.path}:{bus.line_of('curve.clients')}: bus.curve.clients"
                print(f"hmi broker: {where}: a CURVE broker needs its policy", file=sys.stderr)
                return 2
            args.secret_key, args.clients = bus.curve.broker_secret, bus.curve.clients
    address = address or "tcp://127.0.0.1:5570"
    heartbeat = 1.0 if heartbeat is None else heartbeat
    if (args.secret_key is None) != (args.clients is None):
        print("--secret-key and --clients go together (CURVE)", file=sys.stderr)
        return 2
    mode = "none" if args.quiet else args.stats
    if mode == "auto":
        mode = "table" if sys.stdout.isatty() else "none"

    def show(data: dict[str, Any]) -> None:
        clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""
        print(clear + render(data), flush=True)

    # (None: the broker's defaults; a project's values were checked when it was loaded)
    bounds: dict[str, Any] = {}
    if max_entries is not None:
        if max_entries < 1:
            print("hmi broker: --max-cache-entries: at least 1", file=sys.stderr)
            return 2
        bounds["max_cache_entries"] = max_entries
    if forget_after is not None:
        if not math.isfinite(forget_after) or not forget_after > 0:
            print("hmi broker: --forget-after: a number of seconds above 0", file=sys.stderr)
            return 2
        bounds["forget_after"] = forget_after
    try:
        key = read_key_file(args.discovery_key_file) if args.discovery_key_file else None
        broker = Broker(
            address,
            heartbeat=heartbeat,
            dead_after=args.dead_after,
            secret=KeyPair.load(args.secret_key) if args.secret_key else None,
            policy=Policy.load(args.clients) if args.clients else None,
            beacon_port=args.beacon_port if beacon else None,
            beacon_key=discovery_key(key),
            stats_interval=args.stats_interval,
            fast_path=not args.no_fast_path,
            nice=BROKER_NICE,
            on_stats=show if mode == "table" else None,
            **bounds,
        )
    except (OSError, ValueError) as exc:
        print(f"hmi broker: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        # SIGTERM (systemd's stop) ends the broker as Ctrl-C does: sockets and the state
        # file are released, nodes see it go.
        import contextlib
        import signal

        task = asyncio.current_task()
        assert task is not None
        # Ctrl-C too, through the same orderly path: without this, asyncio's own SIGINT
        # handling raises KeyboardInterrupt wherever the loop is, which could leave the
        # proxy thread's context to be terminated with sockets still open.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # Windows' proactor loop
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await broker.serve()

    import zmq

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"hmi broker: {exc}", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:  # its own address (or ADDRESS+1) is taken, or unusable
        busy = " (is another broker running?)" if exc.errno == zmq.EADDRINUSE else ""
        why = zmq.strerror(exc.errno) if exc.errno is not None else str(exc)
        print(f"hmi broker: cannot listen on {address}: {why}{busy}", file=sys.stderr)
        return 1
    return 0

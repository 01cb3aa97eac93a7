"""``hmi opcua``: look into an OPC UA server (browse its address space, make tags)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    """Add ``opcua`` to the sub-parsers."""
    cmd = commands.add_parser("opcua", help="OPC UA servers: browse the address space")
    actions = cmd.add_subparsers(title="actions", metavar="ACTION")
    browse = actions.add_parser(
        "browse",
        help="list the nodes below NODE (default: Objects); --tags writes tag definitions",
    )
    browse.add_argument("endpoint", metavar="ENDPOINT", help="opc.tcp://HOST:PORT[/PATH]")
    browse.add_argument("node", metavar="NODE", nargs="?", help="a node id, e.g. ns=2;s=Line1")
    browse.add_argument("--depth", type=int, default=4, help="levels below NODE (default: 4)")
    browse.add_argument("--limit", type=int, default=2000, help="at most this many nodes")
    browse.add_argument(
        "--tags", type=Path, metavar="FILE", help="write tags: entries (YAML) for the variables"
    )
    browse.add_argument("--device", default="plc", help="the device the tags name (--tags)")
    browse.add_argument(
        "--prefix", default="", help="tag names PREFIX/point; default: area/DEVICE (--tags)"
    )
    sec = browse.add_argument_group("security (as the project's device fields)")
    sec.add_argument("--security", choices=("none", "sign", "sign-and-encrypt"), default="none")
    sec.add_argument("--policy", default="Basic256Sha256")
    sec.add_argument("--certificate", type=Path, help="this client's certificate file")
    sec.add_argument("--private-key", type=Path, help="this client's private key file")
    sec.add_argument("--user", default="", help="user name")
    sec.add_argument(
        "--password-file", type=Path, help="file holding the password (never on the command line)"
    )
    sec.add_argument("--password-env", default="", help="environment variable holding it")
    sec.add_argument("--timeout", type=float, default=5.0, help="request timeout (s)")
    browse.set_defaults(handler=run_browse)
    cert = actions.add_parser(
        "certificate",
        help="make this client's certificate NAME.der and key NAME.pem (security set-up)",
    )
    cert.add_argument("--dir", type=Path, default=Path("keys"), help="default: ./keys")
    cert.add_argument("--name", default="hmi-opcua", help="file names (default: %(default)s)")
    cert.add_argument(
        "--uri",
        default="urn:hmi:client",
        help="the application URI written into it (default: %(default)s)",
    )
    cert.add_argument("--host", default="", help="host name in it (default: this machine's)")
    cert.set_defaults(handler=run_certificate)
    cmd.set_defaults(handler=lambda args: cmd.print_help() or 2)


def run_browse(args: argparse.Namespace) -> int:
    """Print the tree; with ``--tags`` write the definitions."""
    from hmi.drivers.opcua.settings import ENDPOINT, NODE_ID, OpcUaSettings

    if not ENDPOINT.match(args.endpoint):
        print(
            f"hmi opcua browse: expected opc.tcp://HOST:PORT[/PATH], found {args.endpoint!r}",
            file=sys.stderr,
        )
        return 2
    if args.node and not NODE_ID.match(args.node):
        print(f"hmi opcua browse: malformed node id {args.node!r}", file=sys.stderr)
        return 2
    if args.user and not (args.password_file or args.password_env):
        print("hmi opcua browse: --user needs --password-file or --password-env", file=sys.stderr)
        return 2
    if args.security != "none" and not (args.certificate and args.private_key):
        print(
            f"hmi opcua browse: --security {args.security} needs --certificate and --private-key",
            file=sys.stderr,
        )
        return 2
    settings = OpcUaSettings(
        endpoint=args.endpoint,
        security=args.security,
        policy=args.policy,
        certificate=args.certificate,
        private_key=args.private_key,
        user=args.user,
        password_file=args.password_file,
        password_env=args.password_env,
        request_timeout=args.timeout,
    )
    try:
        return asyncio.run(_browse(args, settings))
    except KeyboardInterrupt:
        return 130


async def _browse(args: argparse.Namespace, settings: Any) -> int:
    from hmi.drivers.opcua.browse import browse, tag_definitions, tags_yaml, tree
    from hmi.drivers.opcua.security import SecuritySetupError, open_client

    try:
        client = await open_client(settings, "browse", args.timeout)
        await asyncio.wait_for(client.connect(), 4 * args.timeout)
    except SecuritySetupError as exc:
        print(f"hmi opcua browse: {exc}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError, Exception) as exc:
        why = str(exc) or type(exc).__name__
        print(f"hmi opcua browse: cannot connect to {args.endpoint}: {why}", file=sys.stderr)
        return 1
    try:
        found = await browse(client, args.node, args.depth, args.limit)
    except Exception as exc:
        print(f"hmi opcua browse: {args.node or 'Objects'}: {exc}", file=sys.stderr)
        return 1
    finally:
        await client.disconnect()
    for line in tree(found):
        print(line)
    if args.tags is not None:
        prefix = args.prefix or f"area/{args.device}"
        tags, skipped = tag_definitions(found, args.device, prefix)
        args.tags.write_text(tags_yaml(tags, args.endpoint), encoding="utf-8")
        print(f"{len(tags)} tag definitions written to {args.tags}", file=sys.stderr)
        for why in skipped:
            print(f"  left out {why}", file=sys.stderr)
    return 0


def run_certificate(args: argparse.Namespace) -> int:
    """Make (or keep, when valid) the client certificate and key; print their paths."""
    import socket

    from hmi.drivers.opcua.security import make_certificate

    host = args.host or socket.gethostname()
    try:
        cert, key = asyncio.run(make_certificate(args.dir, args.name, args.uri, host))
    except OSError as exc:
        print(f"hmi opcua certificate: {exc}", file=sys.stderr)
        return 1
    print(f"certificate: {cert}\nprivate key: {key}\napplication URI: {args.uri}")
    print("the server must trust the certificate (copy it to its trusted folder)")
    return 0

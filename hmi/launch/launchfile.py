"""The launch file of ``hmi launch``: format, validation, and errors as ``file:line: field``.

::

    # plant.yaml (every field; only nodes, name and cmd are required)
    backoff:                    # restart policy of every node (a node may override any key)
      initial: 0.5              # seconds before the first restart; doubles per failed start
      max: 30                   # the delay stops doubling here
      stable: 10                # up this long = a good start: the delay and the count reset
      give_up_after: 5          # failed starts in a row (each up < stable) before giving up;
                                # 0 = never give up
    stop_timeout: 5             # seconds from the stop signal to SIGKILL (default of the nodes)
    nodes:
      - name: broker            # letters, digits, _ . - ; prefixes the node's output lines
        cmd: [hmi, broker, --quiet]
        required: true          # giving up on this node stops the whole launch (exit 1)
      - name: keys
        cmd: hmi keys generate broker plant --dir keys --keep-existing
        wait: true              # run to its end before the next node starts (a set-up
                                # step): restart: false and required: true
      - name: plant
        cmd: hmi sim --port 5020  # text is split like a shell would (no expansion)
        cwd: .                  # relative to this file; default: where hmi launch runs
        env: {HMI_BROKER: "tcp://${BROKER_HOST:-127.0.0.1}:5570"}
        delay: 0.5              # seconds to wait before starting it (after the previous)
        backoff: {give_up_after: 3}
      - name: report
        cmd: [python, tools/report.py]
        restart: false          # run once: exit 0 is "done", anything else "failed"
        stop_signal: SIGTERM    # default: SIGINT for hmi commands, else SIGTERM
        stop_timeout: 10

``hmi`` as the program means this Python's ``-m hmi`` and ``python``/``python3`` this Python,
so the same installation runs. Other programs are looked up on ``PATH`` (the node's ``env``
may set it); a program given as a relative path is relative to ``cwd``, and arguments are
passed as written (``cwd`` is what makes relative paths work). ``env`` is added to the
launcher's environment; a value may use ``${VAR}`` (the launcher's environment; an unset
VAR is an error) or ``${VAR:-default}``. Children also get ``PYTHONUNBUFFERED=1`` (unless
``env`` sets it) so their lines show as they are printed, and no stdin.

Every problem of the file is reported at once, each as ``file:line: field: message``;
``hmi launch --check FILE`` only validates.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hmi.project.errors import FileErrors
from hmi.project.fields import Context, Fields
from hmi.project.source import SourceError, read_source
from hmi.project.yamlnode import YamlSyntaxError, compose, scalar_value, type_name

#: An ``hmi`` command that exits with this code was called wrongly (argparse's usage error).
USAGE_ERROR = 2

_NAME = re.compile(r"[\w.-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFERENCE = re.compile(r"\$\{([^}:]*)(?::-([^}]*))?\}")
_PYTHONS = ("python", "python3")


class LaunchError(FileErrors):
    """A launch file that cannot be used; ``errors`` lists every problem found."""

    what = "launch file"


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to restart a node that exited, and when to stop trying."""

    initial: float = 0.5
    max: float = 30.0
    stable: float = 10.0
    give_up_after: int = 5


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """One process of a launch file."""

    name: str
    argv: tuple[str, ...]
    command: str = ""  # as the file wrote it, for messages (default: argv)
    hmi: bool = False  # an ``hmi`` command: exit 2 is a usage error, SIGINT stops it
    restart: bool = True
    required: bool = False
    #: run to its end before the next node starts (set-up steps); implies restart: false
    #: and required: true (a failed step stops the launch)
    wait: bool = False
    env: tuple[tuple[str, str], ...] = ()
    cwd: str | None = None
    delay: float = 0.0
    stop_timeout: float = 5.0
    stop_signal: signal.Signals = signal.SIGTERM
    backoff: Backoff = Backoff()

    @property
    def shown(self) -> str:
        """The command line as the user knows it (on one line)."""
        return (self.command or shlex.join(self.argv)).replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class LaunchFile:
    """The nodes to start, in order (stopped in reverse), with their policies resolved."""

    nodes: tuple[NodeSpec, ...]
    file: str = "<launch>"


def load_launch(path: Path | str, environ: Mapping[str, str] | None = None) -> LaunchFile:
    """Read and validate a launch file; ``environ`` (default ``os.environ``) for ``${VAR}``."""
    path = Path(path)
    try:
        # as a project file is read: a FIFO, a device or a huge file is refused, not read
        text = read_source(path)
    except SourceError as exc:
        raise LaunchError([exc.error]) from None
    return parse_launch(text, path, environ)


def parse_launch(
    text: str, path: Path | str = "<launch>", environ: Mapping[str, str] | None = None
) -> LaunchFile:
    """Validate launch YAML ``text``; ``path`` names it in errors and anchors ``cwd``."""
    ctx = Context(str(path))
    try:
        root = compose(text, str(path))
    except YamlSyntaxError as exc:
        raise LaunchError([exc.error]) from None
    top = Fields.of(root, "", ctx)
    if top is None:
        raise LaunchError(ctx.errors)
    reader = _Reader(ctx, Path(path).parent, os.environ if environ is None else environ)
    backoff = reader.backoff(top.mapping("backoff"), Backoff())
    stop_timeout = reader.seconds(top, "stop_timeout", 5.0)
    if not top.has("nodes"):
        ctx.error(top.node, "nodes", "missing required field")
    nodes: list[NodeSpec] = []
    for where, item in top.items("nodes"):
        fields = Fields.of(item, where, ctx)
        if fields is not None:
            spec = reader.node(fields, backoff, stop_timeout)
            fields.finish()
            if spec is not None:
                nodes.append(spec)
    top.finish()
    if not nodes and not ctx.errors:
        ctx.error(top.node_of("nodes"), "nodes", "no nodes to launch")
    if ctx.errors:
        raise LaunchError(ctx.errors)
    return LaunchFile(tuple(nodes), str(path))


class _Reader:
    """Reads the nodes of one file, remembering names already taken."""

    def __init__(self, ctx: Context, base: Path, environ: Mapping[str, str]) -> None:
        self.ctx, self.base, self.environ = ctx, base, environ
        self.names: dict[str, int] = {}

    def seconds(self, f: Fields, key: str, default: float) -> float:
        value = f.number(key, default)
        if value is None:
            return default
        if value < 0:
            self.ctx.error(f.node_of(key), f"{f.path}.{key}".lstrip("."), "must not be negative")
            return default
        return float(value)

    def backoff(self, f: Fields | None, base: Backoff) -> Backoff:
        if f is None:
            return base
        initial = self.seconds(f, "initial", base.initial)
        # An initial delay above the inherited max raises the max, unless max is given here.
        longest = self.seconds(f, "max", max(base.max, initial))
        stable = self.seconds(f, "stable", base.stable)
        count = f.integer("give_up_after", base.give_up_after)
        if count is not None and count < 0:
            self.ctx.error(
                f.node_of("give_up_after"), f"{f.path}.give_up_after", "must be 0 or more"
            )
        if longest < initial:
            self.ctx.error(f.node_of("max"), f"{f.path}.max", f"below initial ({initial:g})")
        f.finish()
        give_up = count if isinstance(count, int) and count >= 0 else base.give_up_after
        return Backoff(initial, longest, stable, give_up)

    def node(self, f: Fields, backoff: Backoff, stop_timeout: float) -> NodeSpec | None:
        ctx = self.ctx
        name = f.text("name")
        if isinstance(name, str):
            if not _NAME.fullmatch(name):
                ctx.error(f.node_of("name"), f"{f.path}.name", "letters, digits, _ . - only")
            elif name in self.names:
                line = self.names[name]
                ctx.error(f.node_of("name"), f"{f.path}.name", f"duplicate {name!r} (line {line})")
            else:
                self.names[name] = f.line_of("name")
        env = self.environment(f.node_of("env"), f"{f.path}.env")
        cwd = self.directory(f)
        argv, command, is_hmi = self.command(f, dict(env), cwd)
        policy = self.backoff(f.mapping("backoff"), backoff)
        stop = self.stop_signal(f, is_hmi)
        wait = bool(f.boolean("wait", False))
        spec = NodeSpec(
            name=name or "?",
            argv=argv,
            command=command,
            hmi=is_hmi,
            restart=bool(f.boolean("restart", True)) and not wait,
            required=bool(f.boolean("required", False)) or wait,
            wait=wait,
            env=env,
            cwd=cwd,
            delay=self.seconds(f, "delay", 0.0),
            stop_timeout=self.seconds(f, "stop_timeout", stop_timeout),
            stop_signal=stop,
            backoff=policy,
        )
        return spec if name and argv else None

    def directory(self, f: Fields) -> str | None:
        cwd = f.text("cwd", None)
        if not isinstance(cwd, str):
            return None
        path = self.base / cwd  # an absolute cwd replaces the base
        if not path.is_dir():
            self.ctx.error(f.node_of("cwd"), f"{f.path}.cwd", f"no such directory: {path}")
            return None
        return str(path)

    def command(
        self, f: Fields, env: dict[str, str], cwd: str | None
    ) -> tuple[tuple[str, ...], str, bool]:
        where, node = f"{f.path}.cmd", f.node_of("cmd")
        parts = self._parts(node, where, f)
        if not parts:
            return (), "", False
        shown = shlex.join(parts)
        is_hmi = Path(parts[0]).name == "hmi" or (
            parts[0] in _PYTHONS and parts[1:3] == ["-m", "hmi"]
        )
        if parts[0] == "hmi":
            parts = [sys.executable, "-m", "hmi", *parts[1:]]
        elif parts[0] in _PYTHONS:
            parts = [sys.executable, *parts[1:]]
        program = parts[0]
        if os.sep in program or (os.altsep and os.altsep in program):
            path = Path(cwd or os.getcwd()) / program
            if not (path.is_file() and os.access(path, os.X_OK)):
                self.ctx.error(node, where, f"no program {path}")
        elif shutil.which(program, path=env.get("PATH", self.environ.get("PATH"))) is None:
            self.ctx.error(node, where, f"program {program!r} not found on PATH")
        return tuple(parts), shown, is_hmi

    def _parts(self, node: Node | None, where: str, f: Fields) -> list[str]:
        if node is None:
            self.ctx.error(f.node, where, "missing required field")
            return []
        if isinstance(node, ScalarNode) and isinstance(value := scalar_value(node), str):
            try:
                parts = shlex.split(value)
            except ValueError as exc:  # an unclosed quote
                self.ctx.error(node, where, str(exc))
                return []
        elif isinstance(node, SequenceNode):
            parts = []
            for index, item in enumerate(node.value):
                value = scalar_value(item) if isinstance(item, ScalarNode) else None
                if isinstance(value, bool) or not isinstance(value, str | int | float):
                    found = type_name(item)
                    self.ctx.error(item, f"{where}[{index}]", f"expected text, found {found}")
                    return []
                parts.append(str(value))
        else:
            self.ctx.error(
                node, where, f"expected a command line or a list, found {type_name(node)}"
            )
            return []
        if not parts:
            self.ctx.error(node, where, "empty command")
        return parts

    def environment(self, node: Node | None, where: str) -> tuple[tuple[str, str], ...]:
        if node is None:
            return ()
        if not isinstance(node, MappingNode):
            self.ctx.error(node, where, f"expected a mapping, found {type_name(node)}")
            return ()
        env: list[tuple[str, str]] = []
        for key_node, value_node in node.value:
            key = scalar_value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
                self.ctx.error(key_node, f"{where}.{key}", "not a variable name")
                continue
            value = scalar_value(value_node) if isinstance(value_node, ScalarNode) else None
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                found = type_name(value_node)
                self.ctx.error(value_node, f"{where}.{key}", f"expected text, found {found}")
                continue
            expanded = self.expand(str(value), value_node, f"{where}.{key}")
            if expanded is not None:
                env.append((key, expanded))
        return tuple(env)

    def expand(self, text: str, node: Node, where: str) -> str | None:
        """``${VAR}`` and ``${VAR:-default}`` from the launcher's environment."""
        problems: list[str] = []

        def value(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if not _ENV_NAME.fullmatch(name):
                problems.append(f"${{{name}}}: not a variable name")
                return ""
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            problems.append(f"${{{name}}} is not set (write ${{{name}:-default}} for a default)")
            return ""

        result = _REFERENCE.sub(value, text)
        for problem in problems:
            self.ctx.error(node, where, problem)
        return None if problems else result

    def stop_signal(self, f: Fields, is_hmi: bool) -> signal.Signals:
        # hmi commands stop cleanly on SIGINT (the broker and sim only on KeyboardInterrupt);
        # other programs expect SIGTERM, the service manager's stop.
        default = signal.SIGINT if is_hmi else signal.SIGTERM
        text = f.text("stop_signal", None)
        if not isinstance(text, str):
            return default
        name = text.upper() if text.upper().startswith("SIG") else f"SIG{text.upper()}"
        try:
            return signal.Signals[name]
        except KeyError:
            self.ctx.error(f.node_of("stop_signal"), f"{f.path}.stop_signal", f"no signal {text!r}")
            return default

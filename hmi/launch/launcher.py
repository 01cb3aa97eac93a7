"""Launch files (pyGecko's geckolaunch): start a set of nodes, keep them up, stop them all.

The file format is in :mod:`hmi.launch.launchfile`. Each change of a node is one line, each
line a node prints is shown with its name in front::

    [launch] plant: starting: hmi sim --port 5020
    [launch] plant: up pid 4242
    plant  | hmi sim: 1 plant(s) as unit ids 1 on 127.0.0.1:5020, speed x1
    [launch] plant: exited code 3 after 0.2 s
    [launch] plant: restart in 0.5 s (attempt 2 of 5)
    [launch] plant: gave up after 5 failed starts in 12 s (last exit 3); fix it and ...
    [launch] SIGINT: stopping every node, newest first
    [launch] broker: stopping (SIGINT, SIGKILL after 5 s)
    [launch] broker: stopped in 0.1 s (exited code 0)

A node that exits is restarted after its backoff, which doubles per failed start (up less
than ``stable`` seconds) and resets after a good one. After ``give_up_after`` failed starts
in a row, or at once when an ``hmi`` command exits 2 (a usage error: the same arguments fail
the same way), the node is ``failed`` and stays down; if it is ``required`` the launch stops
with exit code 1. When every node has ended by itself (done or failed) the launch ends.
Stopping goes through the nodes in reverse file order: the node's stop signal to its process
group, SIGKILL after its ``stop_timeout``; a second Ctrl-C kills what is left at once.

Each child runs in its own process group (a Ctrl-C in the terminal reaches only the launcher,
which stops the nodes in order), stdin from /dev/null, its stdout and stderr read as they
come so that a chatty child never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hmi.launch.launchfile import USAGE_ERROR, Backoff, LaunchFile, NodeSpec

log = logging.getLogger(__name__)

#: One ``[launch] ...`` line, ready to print.
Say = Callable[[str], None]
#: One line a node printed: node name, ``"stdout"`` or ``"stderr"``, the text without newline.
Echo = Callable[[str, str, str], None]

_CHUNK = 65536  # bytes per pipe read; also the longest line shown in one piece
_DRAIN = 1.0  # seconds to read what an exited child left in its pipes (a grandchild may
# keep them open for ever, and must not keep the launcher from going on)
_POSIX = os.name == "posix"
_SIGKILL: int = getattr(signal, "SIGKILL", 9)  # Windows has none: _signal() kills instead
_ENDED = ("done", "failed")


@dataclass
class NodeState:
    """What the launcher knows of one node (for the status table and ``on_change``).

    ``state`` is one of waiting, starting, up, exited (deciding what next), backoff,
    stopping, stopped, done (ran once and exited 0) or failed (gave up).
    """

    spec: NodeSpec
    state: str = "waiting"
    pid: int | None = None
    restarts: int = 0
    last_exit: int | None = None  # a return code: negative for "killed by that signal"
    started: float = 0.0  # time.monotonic() of the last start
    failures: int = 0  # failed starts in a row (each up less than backoff.stable)
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)


class Launcher:
    """Runs a :class:`LaunchFile` until :meth:`stop` (or until it has nothing left to run).

    ``say`` gets every ``[launch]`` line (default: printed), ``echo`` every line the nodes
    print (default: ``name | line`` on the launcher's stdout or stderr), ``on_change`` the
    node after each change of its state.
    """

    def __init__(
        self,
        launch: LaunchFile,
        on_change: Callable[[NodeState], None] | None = None,
        *,
        say: Say | None = None,
        echo: Echo | None = None,
    ) -> None:
        self.launch = launch
        self.nodes = {spec.name: NodeState(spec) for spec in launch.nodes}
        self.on_change = on_change
        self.say: Say = say or _print
        self.echo: Echo = echo or self._print_output
        self.exit_code = 0
        self._width = max((len(name) for name in self.nodes), default=4)
        self._stopping = asyncio.Event()
        self._force = asyncio.Event()
        self._halt = {name: asyncio.Event() for name in self.nodes}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._all_started = False

    # -- the whole launch ---------------------------------------------------------------------

    async def run(self) -> int:
        """Start the nodes in order, keep them up until stopped, stop them; the exit code.

        0, or 1 when a required node gave up or every node ended by itself and one failed.
        """
        try:
            for node in self.nodes.values():
                if node.spec.delay and not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), node.spec.delay)
                if self._stopping.is_set():
                    break
                task = asyncio.create_task(self._keep(node), name=f"launch {node.spec.name}")
                self._tasks[node.spec.name] = task
                if node.spec.wait:
                    # A set-up step (keys, a database): the next nodes need what it makes.
                    await asyncio.wait({task})
                    if self._stopping.is_set():
                        break
            self._all_started = True
            self._check_ended()
            await self._stopping.wait()
        finally:
            await self._stop_all()
        return self.exit_code

    def stop(self, reason: str = "stop requested") -> None:
        """Stop every node, newest first; asked again while stopping, kill what is left."""
        if not self._stopping.is_set():
            self._say(f"{reason}: stopping every node, newest first")
            self._stopping.set()
        elif not self._force.is_set():
            self._say(f"{reason} again: killing what is left")
            self._force.set()

    def _shutdown(self, reason: str, code: int) -> None:
        if not self._stopping.is_set():
            self.exit_code = code
            self._say(reason)
            self._stopping.set()

    def _check_ended(self) -> None:
        states = [node.state for node in self.nodes.values()]
        if self._all_started and all(state in _ENDED for state in states):
            code = 1 if "failed" in states else 0
            self._shutdown("every node has ended", code)

    async def _stop_all(self) -> None:
        self._stopping.set()
        for node in reversed(self.nodes.values()):
            self._halt[node.spec.name].set()
            task = self._tasks.get(node.spec.name)
            if task is not None:
                await asyncio.wait({task})
                if not task.cancelled() and task.exception() is not None:
                    log.error("%s: %r", node.spec.name, task.exception())
            if node.process is not None:  # only after a bug in _keep: leave no orphan
                _signal(node.process, _SIGKILL)

    # -- one node -----------------------------------------------------------------------------

    async def _keep(self, node: NodeState) -> None:
        spec, policy = node.spec, node.spec.backoff
        delay, streak = policy.initial, 0.0
        while not self._stopping.is_set():
            code = await self._run_once(node)
            if code is None or self._stopping.is_set():
                break
            ran = time.monotonic() - node.started
            if ran >= policy.stable:
                node.failures, delay = 0, policy.initial  # it ran well for a while: forgive
            if not spec.restart:
                if code == 0:
                    self._set(node, "done", "done")
                else:
                    self._give_up(node, f"failed (last exit {_exit_name(code)}, restart: false)")
                break
            if ran < policy.stable:
                streak = node.started if node.failures == 0 else streak
                node.failures += 1
                usage = spec.hmi and code == USAGE_ERROR
                if usage or 0 < policy.give_up_after <= node.failures:
                    starts = f"{node.failures} failed start{'s' * (node.failures != 1)}"
                    took = _secs(time.monotonic() - streak)
                    self._give_up(
                        node, f"gave up after {starts} in {took} s (last exit {_exit_name(code)})"
                    )
                    break
            node.restarts += 1
            self._set(node, "backoff", f"restart in {_secs(delay)} s ({_attempt(node, policy)})")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, policy.max)
        if node.state in ("exited", "backoff"):  # the launch stopped before its restart
            self._set(node, "stopped", "stopped")
        self._check_ended()

    def _give_up(self, node: NodeState, text: str) -> None:
        self._set(node, "failed", f"{text}; fix it and restart hmi launch")
        if node.spec.required:
            self._shutdown(f"{node.spec.name} is required: stopping every node", 1)

    async def _run_once(self, node: NodeState) -> int | None:
        """Start the node, echo its output, wait for its end; its return code (None: none)."""
        spec = node.spec
        first = node.restarts == 0 and node.last_exit is None
        self._set(node, "starting", f"starting: {spec.shown}" if first else "starting")
        try:
            proc, pumps, pipes = await self._spawn(spec)
        except OSError as exc:
            self._give_up(node, f"cannot start {spec.argv[0]}: {exc.strerror or exc}")
            return None
        node.process, node.pid, node.started = proc, proc.pid, time.monotonic()
        self._set(node, "up", f"up pid {proc.pid}")
        exited = asyncio.ensure_future(proc.wait())
        await _first(exited, self._halt[spec.name].wait())
        stopped: float | None = None
        if not exited.done():
            stopped = time.monotonic()
            await self._terminate(node, proc, exited)
        code = await exited
        await _drain(pumps, pipes)
        node.process, node.pid, node.last_exit = None, None, code
        if stopped is not None:
            took = _secs(time.monotonic() - stopped)
            self._set(node, "stopped", f"stopped in {took} s ({_describe(code)})")
            return None
        ran = _secs(time.monotonic() - node.started)
        self._set(node, "exited", f"{_describe(code)} after {ran} s")
        return code

    async def _terminate(
        self, node: NodeState, proc: asyncio.subprocess.Process, exited: asyncio.Future[int]
    ) -> None:
        spec = node.spec
        grace = _secs(spec.stop_timeout)
        self._set(node, "stopping", f"stopping ({spec.stop_signal.name}, SIGKILL after {grace} s)")
        _signal(proc, spec.stop_signal)
        await _first(exited, self._force.wait(), timeout=spec.stop_timeout)
        if not exited.done():
            why = "killing" if self._force.is_set() else f"still up after {grace} s"
            self._say(f"{spec.name}: {why}: SIGKILL")
            _signal(proc, _SIGKILL)

    async def _spawn(
        self, spec: NodeSpec
    ) -> tuple[asyncio.subprocess.Process, list[asyncio.Task[None]], list[asyncio.BaseTransport]]:
        # Unbuffered so a Python child's lines show when printed, not when its buffer fills.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **dict(spec.env)}
        streams: list[asyncio.StreamReader] = []
        pipes: list[asyncio.BaseTransport] = []
        if not _POSIX:  # Windows: asyncio's pipes (its wait() also waits for them to close)
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=spec.cwd,
            )
            assert proc.stdout is not None and proc.stderr is not None
            streams = [proc.stdout, proc.stderr]
        else:
            # Our own pipes, not asyncio's: with those, Process.wait() waits until the pipes
            # close too, which a grandchild holding them would put off for ever.
            out, err = os.pipe(), os.pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *spec.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out[1],
                    stderr=err[1],
                    env=env,
                    cwd=spec.cwd,
                    process_group=0,
                )
            except BaseException:
                os.close(out[0])
                os.close(err[0])
                raise
            finally:
                os.close(out[1])
                os.close(err[1])
            loop = asyncio.get_running_loop()
            for fd in (out[0], err[0]):
                reader = asyncio.StreamReader()
                transport, _ = await loop.connect_read_pipe(
                    functools.partial(asyncio.StreamReaderProtocol, reader),
                    os.fdopen(fd, "rb", buffering=0),
                )
                streams.append(reader)
                pipes.append(transport)
        pumps = [
            asyncio.create_task(self._pump(spec.name, which, stream))
            for which, stream in zip(("stdout", "stderr"), streams, strict=True)
        ]
        return proc, pumps, pipes

    async def _pump(self, name: str, which: str, stream: asyncio.StreamReader) -> None:
        """Echo a child's pipe line by line, reading it as fast as the child writes."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while chunk := await stream.read(_CHUNK):
                *lines, pending = (pending + decoder.decode(chunk)).split("\n")
                for line in lines:
                    self._echo(name, which, line)
                if len(pending) >= _CHUNK:  # no end of line in sight: show it in pieces
                    self._echo(name, which, pending)
                    pending = ""
        except OSError:
            pass
        finally:
            pending += decoder.decode(b"", final=True)
            if pending:
                self._echo(name, which, pending)

    # -- output -------------------------------------------------------------------------------

    def _set(self, node: NodeState, state: str, text: str) -> None:
        node.state = state
        self._say(f"{node.spec.name}: {text}")
        try:
            if self.on_change is not None:
                self.on_change(node)
        except Exception:  # a watcher's bug must not leave the node unsupervised
            log.exception("on_change failed for %s", node.spec.name)

    def _say(self, text: str) -> None:
        try:
            self.say(f"[launch] {text}")
        except Exception:  # a closed stdout must not stop the supervision
            log.debug("cannot show %r", text, exc_info=True)

    def _echo(self, name: str, which: str, line: str) -> None:
        try:
            self.echo(name, which, line.removesuffix("\r"))
        except Exception:  # keep draining the pipe even when we cannot show it
            log.debug("cannot show output of %s", name, exc_info=True)

    def _print_output(self, name: str, which: str, line: str) -> None:
        stream = sys.stderr if which == "stderr" else sys.stdout
        print(f"{name:<{self._width}} | {line}", file=stream, flush=True)

    def status(self) -> str:
        """The status table: node, state, pid, restarts, uptime, last exit."""
        now = time.monotonic()
        rows = [("node", "state", "pid", "restarts", "uptime", "last exit")]
        for node in self.nodes.values():
            running = node.pid is not None
            rows.append(
                (
                    node.spec.name,
                    node.state,
                    str(node.pid) if running else "-",
                    str(node.restarts),
                    _duration(now - node.started) if running else "-",
                    "-" if node.last_exit is None else _exit_name(node.last_exit),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "[launch] "
            + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )


async def _first(
    exited: asyncio.Future[int], other: Awaitable[object], timeout: float | None = None
) -> None:
    """Wait until ``exited`` is done, ``other`` happens or ``timeout`` passes."""
    waiter = asyncio.ensure_future(other)
    futures: list[asyncio.Future[Any]] = [exited, waiter]
    try:
        await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _drain(pumps: list[asyncio.Task[None]], pipes: list[asyncio.BaseTransport]) -> None:
    _, late = await asyncio.wait(pumps, timeout=_DRAIN)
    for task in late:
        task.cancel()
    await asyncio.gather(*pumps, return_exceptions=True)
    for pipe in pipes:
        pipe.close()


def _signal(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal the node's process group (a shell's children too) while it is ours."""
    if proc.returncode is not None:
        return  # reaped: its pid and group may belong to someone else by now
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _POSIX:
            os.killpg(proc.pid, sig)
        elif sig == _SIGKILL:
            proc.kill()
        else:
            proc.terminate()


def _print(line: str) -> None:
    print(line, flush=True)


def _secs(seconds: float) -> str:
    """``0.05``, ``2.5``, ``12``: two digits at most, enough to tell delays apart."""
    return f"{seconds:.2g}" if seconds < 10 else f"{seconds:.0f}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _exit_name(code: int) -> str:
    """``2`` or ``SIGSEGV``."""
    if code >= 0:
        return str(code)
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _describe(code: int) -> str:
    if code >= 0:
        return f"exited code {code}"
    return f"killed by signal {_exit_name(code)}"


def _attempt(node: NodeState, policy: Backoff) -> str:
    of = f" of {policy.give_up_after}" if policy.give_up_after else ""
    return f"attempt {node.failures + 1}{of}"

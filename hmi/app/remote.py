"""Driving a running operator station from the program that started it (``hmi run
--control stdio``): commissioning tests and automation ask what the station shows and act
through the same paths as an operator's clicks.

One JSON object per line on stdin, one answer per line on stdout, prefixed ``@hmi `` so
the answers stand out from the log (which goes to stderr)::

    {"id": 1, "op": "status"}
    @hmi {"id": 1, "ok": true, "result": {"bus": "Bus: tcp://...: connected", ...}}

Operations (``result`` shapes in :meth:`Control.status` etc.):

- ``status``: the status bar, the logged-in user and roles, the alarm banner's text,
  whether the alarm lists are in step with the engine;
- ``sample`` ``tag``: the tag's value, quality, reason and display text, as widgets show it;
- ``write`` ``tag`` ``value``: a write as a widget sends it (the station's session and
  token, the GUI's own checks), answered with the command's final result;
- ``alarms``: every alarm the station knows (tag, state, priority, level, message, times);
- ``acknowledge`` ``tags`` [``comment``]: an acknowledge as from the alarm summary;
- ``history`` ``tag`` ``start`` ``end`` ``buckets``: what a trend asks the historian;
- ``audit`` [``limit``]: the newest rows of the audit trail, as the Audit button shows them;
- ``login`` ``user`` ``password`` / ``logout``;
- ``screenshot`` ``path``: the window as a PNG.

This door is only the standard input of the process, which only the parent holds; it
adds no rights: every request is the station's own session, checked where it lands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from hmi.core.command import CommandResult

log = logging.getLogger(__name__)

PREFIX = "@hmi "


class Control:
    """Answers control requests about one station (see the module docstring)."""

    def __init__(
        self,
        window: Any,
        *,
        log_in: Callable[[str, str], Awaitable[None]],
        log_out: Callable[[str], Awaitable[None]],
        audit: Callable[[int], Awaitable[Any]],
        out: TextIO | None = None,
    ) -> None:
        self.window = window
        self.context = window.context
        self._log_in = log_in
        self._log_out = log_out
        self._audit = audit
        self._out = out if out is not None else sys.stdout
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the loop side ------------------------------------------------------------------------
    def start(self, stream: TextIO | None = None) -> None:
        """Read requests from ``stream`` (stdin) in a thread; answer on the loop."""
        loop = asyncio.get_running_loop()
        source = stream if stream is not None else sys.stdin

        def read() -> None:
            for line in source:
                if line.strip():
                    loop.call_soon_threadsafe(self._take, line)

        threading.Thread(target=read, name="hmi control", daemon=True).start()

    def _take(self, line: str) -> None:
        task = asyncio.ensure_future(self._answer(line))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the requests still running."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, line: str) -> None:
        ident: Any = None
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ValueError("expected an object with an 'op'")
            ident = request.get("id")
            handler = getattr(self, f"op_{request['op']}", None)
            if handler is None:
                raise ValueError(f"unknown op {request['op']!r}")
            args = {k: v for k, v in request.items() if k not in ("id", "op")}
            answer = {"id": ident, "ok": True, "result": await handler(**args)}
        except Exception as exc:
            answer = {"id": ident, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self._out.write(PREFIX + json.dumps(answer, default=str) + "\n")
        self._out.flush()

    # -- operations ---------------------------------------------------------------------------
    async def op_status(self) -> dict[str, Any]:
        """What the status bar and the banner say, and who is logged in."""
        window = self.window
        return {
            "bus": window.bus_status.text(),
            "devices": window.device_status.text(),
            "user": self.context.user,
            "roles": sorted(self.context.roles),
            "banner": window.alarm_banner.text(),
            "alarms_synced": self.context.alarms.synced,
            "message": window.statusBar().currentMessage(),
        }

    async def op_sample(self, tag: str) -> dict[str, Any]:
        """The tag as a widget shows it."""
        from hmi.qt.format import format_value

        store = self.context.store
        definition = store.tag(tag)
        if definition is None:
            raise KeyError(f"no tag {tag!r}")
        sample = store.get(tag)
        return {
            "value": sample.value,
            "quality": sample.quality.severity.name,
            "reason": sample.quality.reason.value,
            "detail": sample.quality.detail,
            "text": format_value(sample.value, definition, with_unit=True),
            "source_time": sample.source_time,
        }

    async def op_write(self, tag: str, value: Any, timeout: float = 15.0) -> dict[str, Any]:
        """A write as a widget sends it; the final result."""
        done: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()

        def on_result(result: CommandResult) -> None:
            if not done.done():
                done.set_result(result)

        self.context.send(tag, value, screen="control", on_result=on_result)
        result = await asyncio.wait_for(done, timeout)
        return {"state": result.state.value, "value": result.value, "message": result.message}

    async def op_alarms(self) -> list[dict[str, Any]]:
        """Every alarm the station knows."""
        return [status.to_dict() for status in self.context.alarms.statuses()]

    async def op_acknowledge(self, tags: list[str], comment: str = "") -> Any:
        """Acknowledge as from the alarm summary (the station's session)."""
        service = self.context.alarms.service
        if service is None:
            raise RuntimeError("no alarm service")
        return await service.acknowledge(list(tags), comment)

    async def op_history(self, tag: str, start: float, end: float, buckets: int = 100) -> Any:
        """What a trend asks the historian."""
        if self.context.history is None:
            raise RuntimeError("no history")
        return await self.context.history(tag, start, end, buckets)

    async def op_audit(self, limit: int = 100) -> Any:
        """The newest audit rows, as the Audit button shows them."""
        return await self._audit(limit)

    async def op_login(self, user: str, password: str) -> dict[str, Any]:
        """Log in as an operator would."""
        await self._log_in(user, password)
        return {"user": self.context.user, "roles": sorted(self.context.roles)}

    async def op_logout(self) -> None:
        """Log out as an operator would."""
        await self._log_out("the user logged out")

    async def op_screenshot(self, path: str) -> str:
        """Save the window as a PNG."""
        if not self.window.grab().save(path):
            raise OSError(f"could not save {path}")
        return path

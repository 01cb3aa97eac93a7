"""The operator station's view of its links: the broker, the devices, the backend.

An operator must never take a frozen picture for a live one. The status bar says where
the station's data comes from and whether that link holds:

- ``Bus:`` the broker's address and the link's state (waiting, connected, LOST, refused),
  drawn as an alarm while it is not connected; while the broker is lost the values
  themselves are UNCERTAIN (see ``bind_store``);
- ``Devices:`` each device's link as its driver reports it on ``$sys/device/<name>``,
  ``?`` while the broker (through which those reports come) is lost;
- the backend (security, alarms, history) declared dead by the broker: the alarm lists are
  marked stale and the status bar says so, until it is heard again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hmi.bus import Bus

log = logging.getLogger(__name__)

#: the RPC targets whose loss means "the backend is gone" for an operator
BACKEND_TARGETS = frozenset({"security", "alarms", "historian", "audit"})

_LINK_TEXT = {
    "waiting": "waiting for the broker",
    "connected": "connected",
    "lost": "LOST: values uncertain",
    "refused": "REFUSED: this station's key is not admitted",
}


class LinkView:
    """Keeps the station's status labels true to its links (see the module docstring)."""

    def __init__(
        self,
        bus: Bus,
        *,
        where: str,
        show_bus: Callable[[str, str], None],
        show_devices: Callable[[str], None],
        alarms_lost: Callable[[], None],
    ) -> None:
        self._bus = bus
        self._where = where
        self._show_bus = show_bus
        self._show_devices = show_devices
        self._alarms_lost = alarms_lost
        self.devices: dict[str, str] = {}
        self.link = "local" if bus.transport is None else "waiting"
        #: the names of backend nodes the broker declared dead, until one is heard again
        self.backend_dead: set[str] = set()
        transport = bus.transport
        if transport is not None:
            self.link = transport.link_state
            transport.on_link.append(self._on_link)
        bus.subscribe("$sys/device/+", self._on_device)
        bus.subscribe("$sys/node/+/dead", self._on_node_dead)
        bus.subscribe("$sys/node/+/alive", self._on_node_alive)
        self._render_bus()

    # -- the broker ---------------------------------------------------------------------------
    def _on_link(self, state: str, detail: str) -> None:
        if state == self.link:
            return
        self.link = state
        self._render_bus()
        self._render_devices()

    def _render_bus(self) -> None:
        if self.link == "local":
            self._show_bus("Bus: local", "ok")
            return
        text = _LINK_TEXT.get(self.link, self.link)
        backend = "  BACKEND LOST" if self.backend_dead else ""
        # The label, not a passing message: it stays as long as the condition does.
        level = "ok" if self.link == "connected" and not backend else "alarm"
        if self.link == "waiting":
            level = "warning"
        self._show_bus(f"Bus: {self._where}: {text}{backend}", level)

    # -- the devices ----------------------------------------------------------------------------
    def _on_device(self, topic: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        name = str(payload.get("device", topic.rsplit("/", 1)[-1]))
        ok = bool(payload.get("connected")) and payload.get("communicating", True) is not False
        self.devices[name] = "OK" if ok else "DOWN"
        self._render_devices()

    def _render_devices(self) -> None:
        unknown = self.link in ("lost", "refused", "waiting")
        text = "  ".join(
            f"{name}: {'?' if unknown else state}" for name, state in sorted(self.devices.items())
        )
        self._show_devices(f"Devices: {text}" if text else "Devices: -")

    # -- the backend ----------------------------------------------------------------------------
    def _on_node_dead(self, topic: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        targets = payload.get("targets")
        if not isinstance(targets, list) or BACKEND_TARGETS.isdisjoint(map(str, targets)):
            return
        name = str(payload.get("name") or payload.get("id", "?"))
        self.backend_dead.add(name)
        log.warning("backend %s lost: logins, alarm state and history unavailable", name)
        self._alarms_lost()
        self._render_bus()

    def _on_node_alive(self, topic: str, payload: Any) -> None:
        # A restarted backend says hello before its services expose their targets: know it
        # by its name.
        if self.backend_dead and isinstance(payload, dict):
            name = str(payload.get("name") or payload.get("id", ""))
            if name in self.backend_dead:
                self.backend_dead.discard(name)
                self._render_bus()

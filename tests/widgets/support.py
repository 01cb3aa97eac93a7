"""Shared helpers for GUI tests: the demo plant's store, a session, normal plant values."""

from __future__ import annotations

from pathlib import Path

from hmi.core import Quality, Reason, Sample, TagStore
from hmi.project import load_project
from hmi.qt.context import HmiContext

DEMO = Path(__file__).parents[2] / "examples" / "demo-plant.yaml"
NOW = 1_700_000_000.0

#: a quiet, normal plant: nothing in alarm
NORMAL = {
    "area1/t101/level": 2.41,
    "area1/t101/temperature": 41.2,
    "area1/t101/level_ll": False,
    "area1/t101/level_hh": False,
    "area1/fv101/command": 46.0,
    "area1/fv101/position": 46.0,
    "area1/fv101/deviation": False,
    "area1/fv101/interlock": False,
    "area1/ft101/flow": 12.3,
    "area1/ft102/flow": 11.8,
    "area1/hv102/opening": 60.0,
    "area1/p101/start": True,
    "area1/p101/running": True,
    "area1/p101/tripped": False,
    "area1/p101/reset": False,
    "area1/e101/enable": True,
    "area1/e101/power_cmd": 35.0,
    "area1/e101/on": True,
    "area1/e101/power": 35.0,
    "area1/e101/interlock": False,
    "area1/lic101/auto": True,
    "area1/lic101/sp": 2.5,
    "area1/lic101/output": 46.0,
    "area1/lic101/kp": 40.0,
    "area1/lic101/ti": 120.0,
    "area1/plc1/heartbeat": 1234,
    "area1/plc1/uptime": 3600,
}


def demo_store() -> TagStore:
    """The demo plant's tags, no values yet."""
    return TagStore(load_project(DEMO).tags.values())


def feed_normal(store: TagStore, t: float = NOW) -> None:
    """Give every demo tag a GOOD, normal value."""
    store.apply({name: Sample(v, source_time=t, receive_time=t) for name, v in NORMAL.items()})


def make_context(store: TagStore, roles: frozenset[str] = frozenset({"operator"})) -> HmiContext:
    """A session of an operator (in tests: a recording sink, a fixed clock)."""
    return HmiContext(store, user="op", roles=roles, clock=lambda: NOW, timeout=0)


def bad(reason: Reason = Reason.NO_COMMUNICATION) -> Quality:
    """A BAD quality."""
    return Quality.bad(reason)

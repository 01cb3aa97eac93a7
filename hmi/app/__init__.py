"""The composition root: every ``hmi`` command builds its process from here.

- :mod:`hmi.app.deployment`: where this node's broker is and which keys it uses, from the
  project's ``bus:`` section, overridden by flags and the environment;
- :mod:`hmi.app.connect`: the bus of a node (in memory, or joined to the broker; never an
  exit for a broker that is not there yet);
- :mod:`hmi.app.plant`: the plant's actors (simulator, drivers with their token check,
  security, audit, alarm engine, historian), one supervisor owning them;
- :mod:`hmi.app.headless`: ``hmi node`` and ``hmi backend`` on a plain asyncio loop;
- :mod:`hmi.app.gui` (with :mod:`~hmi.app.session`, :mod:`~hmi.app.alarms` and
  :mod:`~hmi.app.links`): the operator application of ``hmi demo`` and ``hmi run``.

Commands stay thin: they parse their flags and call one function here. Nothing but this
package wires actors together, so what a test wires is what a user runs.
"""

from __future__ import annotations

from pathlib import Path

#: the demo's project file, in the source tree (and in the packaged application)
DEMO_PROJECT = Path(__file__).resolve().parents[2] / "examples" / "demo-plant.yaml"
#: who ``hmi demo`` logs in as, and the documented demo password (examples/demo-plant.yaml)
DEMO_USER, DEMO_PASSWORD = "operator", "demo-operator"

__all__ = ["DEMO_PASSWORD", "DEMO_PROJECT", "DEMO_USER"]

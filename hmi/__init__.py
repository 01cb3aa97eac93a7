"""hmi: a desktop HMI/SCADA application and toolkit.

Layers (see docs/architecture.md): ``hmi.core`` is pure data and logic; ``hmi.project``
loads and validates project files; the bus, drivers, simulator and services run without
Qt; ``hmi.qt``, ``hmi.widgets`` and ``hmi.screens`` are the GUI; ``hmi.app`` and
``hmi.cli`` compose them.
"""

__version__ = "0.1.0"

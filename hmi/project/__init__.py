"""Project files: one YAML file describes a plant (devices, tags, screens, users, services).

``load_project(path)`` returns a validated :class:`Project` or raises :class:`ProjectError`
listing every problem as ``file:line: field: message``.
"""

from hmi.project.errors import ConfigError, ProjectError
from hmi.project.loader import load_project, parse_project
from hmi.project.model import (
    BusConfig,
    CurveConfig,
    DeviceConfig,
    HistorianConfig,
    Project,
    ScreenConfig,
    SystemAlarmsConfig,
    UserConfig,
)

__all__ = [
    "BusConfig",
    "ConfigError",
    "CurveConfig",
    "DeviceConfig",
    "HistorianConfig",
    "Project",
    "ProjectError",
    "ScreenConfig",
    "SystemAlarmsConfig",
    "UserConfig",
    "load_project",
    "parse_project",
]

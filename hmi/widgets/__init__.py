"""HMI widgets, one per module; each binds to tags through hmi.qt, never the bus.

Importing this package registers every widget with the screen loader and Designer.
"""

from hmi.widgets.alarm_banner import AlarmBanner
from hmi.widgets.alarm_list import AlarmList
from hmi.widgets.analog_indicator import AnalogIndicator
from hmi.widgets.command_button import CommandButton
from hmi.widgets.gauge import Gauge
from hmi.widgets.heater import Heater
from hmi.widgets.navigation_button import NavigationButton
from hmi.widgets.pump import Motor, Pump
from hmi.widgets.setpoint_entry import SetpointEntry
from hmi.widgets.state_indicator import StateIndicator
from hmi.widgets.tank import Tank
from hmi.widgets.trend import Trend
from hmi.widgets.value_label import ValueLabel
from hmi.widgets.valve import Valve

__all__ = [
    "AlarmBanner",
    "AlarmList",
    "AnalogIndicator",
    "CommandButton",
    "Gauge",
    "Heater",
    "Motor",
    "NavigationButton",
    "Pump",
    "SetpointEntry",
    "StateIndicator",
    "Tank",
    "Trend",
    "ValueLabel",
    "Valve",
]

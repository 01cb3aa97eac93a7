"""Pure core: tags, samples and quality, the tag store, addressing and decoding.

Nothing here does I/O, imports Qt, zmq or pymodbus, or reads the clock: time is passed in.
"""

from hmi.core.command import Command, CommandResult, CommandState
from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import AlarmLimits, DataType, Limits, Scaling, Tag
from hmi.core.tagstore import TagStore

__all__ = [
    "AlarmLimits",
    "Command",
    "CommandResult",
    "CommandState",
    "DataType",
    "Limits",
    "Quality",
    "Reason",
    "Sample",
    "Scaling",
    "Severity",
    "Tag",
    "TagStore",
]

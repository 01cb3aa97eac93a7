"""How a Modbus request fails, as the driver reports it: our exceptions, never pymodbus'.

Every message starts with the device's name and says in plain words what happened
(``plc1: no answer to hr:0+10 (timeout 0.5 s)``): it becomes the device's
``last_error``, the detail of its tags' quality, a write's result and a log line, and
an operator reads all of those without knowing which device a bare pymodbus text was
about. ``kind`` is the key the error is counted under in the device status.
"""

from __future__ import annotations

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target failed to respond",
}


class LinkError(Exception):
    """Any failure of a request."""

    #: the error count it goes under (DeviceStatus.errors)
    kind = "error"


class CommError(LinkError):
    """No valid answer: a timeout, a late answer, the connection lost."""

    kind = "timeout"


class NotConnected(CommError):
    """The link is down; the driver reconnects on its own schedule."""

    kind = "connection"


class MalformedReply(CommError):
    """The device answered, but not to this request: a wrong function code, unit,
    transaction id, byte count or echo, or a frame that cannot be decoded."""

    kind = "response"


class DeviceException(LinkError):
    """The device answered with a Modbus exception code (it refuses, but it is there)."""

    kind = "exception"

    def __init__(self, device: str, code: int, request: str) -> None:
        self.code = code
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        super().__init__(f"{device}: exception {code} ({name}) for {request}")

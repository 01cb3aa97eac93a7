"""Every Modbus reply checked against its request, and pymodbus' failures in plain words.

What pymodbus 3.11 checks itself (the minor version is pinned in pyproject.toml):

- the unit id and transaction id of a TCP frame: a frame for another unit or transaction
  is skipped, and the request then times out; a reply with transaction id 0, or any
  unit when unit 0 was asked, is refused after decoding (ModbusIOException);
- that a register read's byte count does not run past the frame.

What it does not check, and :mod:`hmi.drivers.link` does with :func:`read_fault` and
:func:`write_fault`:

- the function code: an FC 4 answer to an FC 3 read decodes as input registers and was
  published as GOOD data; an exception response for another function passes as this
  request's refusal;
- the byte count against the request and the frame: a register reply may carry fewer
  registers than asked, or a byte count shorter than its frame; a bit reply's byte count
  is not read at all (pymodbus unpacks whatever bytes follow);
- the echo of a write: FC 5/6 repeat the address, FC 15/16 address and count.

And where pymodbus' own decoders fail on a frame (an unknown function code, a byte count
past the frame, a truncated PDU), its transport callback raises inside asyncio's
``data_received``: asyncio logs a full traceback and drops the connection, for every
such reply. :func:`install` gives the client a decoder that turns such a frame into an
:class:`Undecodable` reply instead, so the request fails at once with a reason, without
a traceback, and the connection stays up.

Frames pymodbus skips (another unit, another transaction id) are noted by
:class:`ReplyWatch`, so a request that then times out is reported as what happened: a
wrong reply, or a device answering too late (an answer to an earlier request).
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

from pymodbus.framer import FramerSocket
from pymodbus.pdu import DecodePDU, ModbusPDU

from hmi.drivers.errors import CommError, DeviceException, MalformedReply, NotConnected

#: the attribute of a decoded reply holding its frame (function code and data)
FRAME = "hmi_frame"

#: the reads whose answers are a byte count and bits (FC 1, 2) or registers (FC 3, 4)
_BIT_READS = (1, 2)
_REGISTER_READS = (3, 4)


@functools.cache
def _registers(count: int) -> struct.Struct:
    """The layout of ``count`` big-endian registers."""
    return struct.Struct(f">{count}H")


#: transaction ids at most this far behind the expected one are late answers
_LATE_WINDOW = 16
#: pymodbus wraps transaction ids from 65000 to 1
_TID_WRAP = 65000


class Undecodable(ModbusPDU):
    """A reply pymodbus could not decode; ``why`` says what is wrong with it."""

    def __init__(self, frame: bytes, why: str) -> None:
        super().__init__()
        self.frame = frame
        self.why = why
        self.function_code = frame[0] if frame else 0

    def encode(self) -> bytes:
        """The frame's data, as received."""
        return self.frame[1:]

    def decode(self, data: bytes) -> None:
        """Nothing to decode: the frame is kept as it came."""


class _StrictDecoder(DecodePDU):
    """pymodbus' response decoder that never fails: a bad frame becomes Undecodable.

    A read's answer of the exact shape (FC 1 to 4, a byte count equal to the data that
    follows, even for registers) is decoded here: registers in one ``unpack``, bits by
    pymodbus' own PDU. pymodbus' decoder would also unpack each register apart and format
    the whole reply as a debug string whether or not debug logging is on, which cost more
    than all the rest of a read's work on our side (bench_modbus). The result is the
    object pymodbus makes, with the same values (tests/drivers/test_reply_decoder.py);
    any other frame takes pymodbus' path.
    """

    def __init__(self, is_server: bool) -> None:
        super().__init__(is_server)
        self._reads: dict[int, type[ModbusPDU]] = {
            code: classes[self.pdu_inx]
            for code, classes in self.pdu_table.items()
            if code in _BIT_READS or code in _REGISTER_READS
        }

    def decode(self, frame: bytes) -> ModbusPDU | None:
        pdu = self._exact_read(frame)
        if pdu is None:
            try:
                pdu = super().decode(frame)
            except Exception as exc:  # pymodbus' PDU decoders raise struct.error and more
                return Undecodable(frame, f"cannot be decoded ({type(exc).__name__})")
            if pdu is None:
                return Undecodable(frame, self._why(frame))
        setattr(pdu, FRAME, frame)
        return pdu

    def _exact_read(self, frame: bytes) -> ModbusPDU | None:
        """A read's answer of the exact shape, decoded; None for any other frame."""
        size = len(frame) - 2
        if size <= 0 or frame[1] != size or (reply := self._reads.get(frame[0])) is None:
            return None
        pdu = reply()
        if frame[0] in _BIT_READS:
            pdu.decode(frame[1:])
        elif size & 1:
            return None
        else:
            pdu.registers = list(_registers(size >> 1).unpack_from(frame, 2))
        return pdu

    def lookupPduClass(self, data: bytes) -> type[ModbusPDU] | None:
        # The RTU framer asks this to size a frame while it hunts for one in noise.
        try:
            return super().lookupPduClass(data)
        except Exception:
            return None

    def _why(self, frame: bytes) -> str:
        if not frame:
            return "empty"
        code = frame[0]
        if code < 0x80 and code not in self.pdu_table:
            return f"unknown function code {code}"
        if len(frame) < 2:
            return f"function code {code} without data"
        return f"cannot be decoded (byte count {frame[1]} with {len(frame) - 2} data bytes)"


@dataclass(slots=True)
class ReplyWatch:
    """Frames pymodbus skipped, or failed on, during the current request."""

    #: the unit of a skipped TCP frame of another unit
    unit: int | None = None
    #: the transaction id of a skipped frame of another transaction
    tid: int | None = None
    #: the request's transaction id when ``tid`` was seen
    expected_tid: int = 0
    #: why pymodbus' receive callback failed, if it did
    broken: str = ""
    seen: bool = False

    def clear(self) -> None:
        """Forget the previous request's frames."""
        self.unit = self.tid = None
        self.broken = ""
        self.seen = False


def install(client: Any) -> ReplyWatch:
    """Give a pymodbus client the strict decoder and the frame watch; returns the watch.

    Relies on pymodbus 3.11's ``client.ctx`` (its transaction manager), ``ctx.framer``
    with its ``decoder`` and ``decode``, and ``ctx.callback_data``; the link's tests
    (tests/drivers/test_hostile.py, test_replies.py) fail if a new version moves them.
    """
    ctx = client.ctx
    framer = ctx.framer
    framer.decoder = _StrictDecoder(False)
    watch = ReplyWatch()
    # On an RTU line a frame from another unit is that unit answering late (a shared,
    # half-duplex line), not a wrong reply of the one asked.
    units_checked = isinstance(framer, FramerSocket)
    decode_adu = framer.decode

    def watched_decode(data: bytes) -> tuple[int, int, int, bytes]:
        used, unit, tid, pdu = decode_adu(data)
        if used and pdu:
            want_unit, want_tid = ctx.request_dev_id, ctx.request_transaction_id
            if want_unit and unit != want_unit:
                if units_checked:
                    watch.unit, watch.seen = unit, True
            elif want_tid and tid and tid != want_tid:
                watch.tid, watch.expected_tid, watch.seen = tid, want_tid, True
        return used, unit, tid, pdu

    receive = ctx.callback_data

    def guarded_receive(data: bytes, addr: tuple[Any, ...] | None = None) -> int:
        # Belt and braces: an exception here would reach asyncio's data_received (a
        # traceback per reply, and the connection dropped). Drop the bytes instead; the
        # request times out and the watch says why.
        try:
            return int(receive(data, addr))
        except Exception as exc:
            watch.broken, watch.seen = f"cannot be decoded ({type(exc).__name__})", True
            return len(data)

    # Instance attributes shadow the methods pymodbus calls through self.
    setattr(framer, "decode", watched_decode)  # noqa: B010
    setattr(ctx, "callback_data", guarded_receive)  # noqa: B010
    return watch


def read_fault(
    device: str, response: ModbusPDU, *, function: int, count: int, bits: bool, what: str
) -> DeviceException | MalformedReply:
    """Why ``response`` is not a valid answer to a read (the caller's fast check failed)."""
    fault = _other_answer(device, response, function=function, what=what)
    if fault is not None:
        return fault
    frame: bytes = getattr(response, FRAME, b"")
    size = (count + 7) >> 3 if bits else 2 * count
    byte_count = frame[1] if len(frame) > 1 else 0
    return MalformedReply(
        f"{device}: wrong reply to {what}: byte count {byte_count} with "
        f"{max(len(frame) - 2, 0)} data bytes, expected {size}"
    )


def write_fault(
    device: str, response: ModbusPDU, *, function: int, address: int, count: int | None, what: str
) -> DeviceException | MalformedReply | None:
    """Why ``response`` is not the answer to a write of ``address`` (and of ``count``
    coils or registers for FC 15/16; None for FC 5/6), or None when it is.

    The value an FC 5/6 reply repeats is not compared: the specification says echo, but
    pymodbus' own server (and so the simulated plant) answers with the value the point
    holds after the write, which the read-back judges anyway (overridden, a pulse).
    """
    fault = _other_answer(device, response, function=function, what=what)
    if fault is not None:
        return fault
    frame: bytes = getattr(response, FRAME, b"")
    if len(frame) != 5:
        return MalformedReply(f"{device}: wrong reply to {what}: {len(frame)} bytes, expected 5")
    echoed, amount = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
    if echoed != address:
        return MalformedReply(
            f"{device}: wrong reply to {what}: address {echoed}, expected {address}"
        )
    if count is not None and amount != count:
        return MalformedReply(f"{device}: wrong reply to {what}: count {amount}, expected {count}")
    return None


def _other_answer(
    device: str, response: ModbusPDU, *, function: int, what: str
) -> DeviceException | MalformedReply | None:
    """The device's refusal, or why ``response`` is no answer to ``function`` at all
    (undecodable, another function code); None when it answers ``function``."""
    got = response.function_code
    if isinstance(response, Undecodable):
        return MalformedReply(f"{device}: wrong reply to {what}: {response.why}")
    if got == function | 0x80:
        return DeviceException(device, int(getattr(response, "exception_code", 0)), what)
    if got != function:
        return MalformedReply(_wrong_function(device, what, got, function))
    return None


def _wrong_function(device: str, what: str, got: int, function: int) -> str:
    if got & 0x80:
        return (
            f"{device}: wrong reply to {what}: an exception for function code {got & 0x7F}, "
            f"expected function code {function}"
        )
    return f"{device}: wrong reply to {what}: function code {got}, expected {function}"


def failure(
    device: str, text: str, what: str, *, watch: ReplyWatch, timeout: float, retries: int
) -> CommError:
    """pymodbus' error ``text`` for the request ``what``, in plain words with the device.

    pymodbus says e.g. "No response received after 1 retries, continue with next
    request": the operator reads "plc1: no answer to hr:0+10 (timeout 0.5 s, 2 tries)".
    A frame pymodbus skipped while it waited says more than its timeout does.
    """
    wrong = f"{device}: wrong reply to {what}"
    if watch.unit is not None:
        return MalformedReply(f"{wrong}: from unit {watch.unit}")
    if watch.tid is not None:
        behind = (watch.expected_tid - watch.tid) % _TID_WRAP
        if 0 < behind <= _LATE_WINDOW:
            return CommError(f"{device}: answers too late ({what}: timeout {timeout:g} s)")
        return MalformedReply(f"{wrong}: transaction id {watch.tid}, expected {watch.expected_tid}")
    if watch.broken:
        return MalformedReply(f"{wrong}: {watch.broken}")
    tries = f", {retries + 1} tries" if retries else ""
    if "No response received after" in text:
        return CommError(f"{device}: no answer to {what} (timeout {timeout:g} s{tries})")
    if "CLOSING CONNECTION" in text:
        return NotConnected(f"{device}: no answer to several requests in a row; disconnected")
    if "transaction id" in text:
        return MalformedReply(f"{wrong}: {_after_received(text, 'transaction id')}")
    if "device id" in text:
        return MalformedReply(f"{wrong}: {_after_received(text, 'from unit')}")
    return CommError(f"{device}: no valid answer to {what} ({_short(text)})")


def _after_received(text: str, label: str) -> str:
    # "ERROR: request uses transaction id=1 but received 0." -> "transaction id 0"
    _, found, rest = text.partition("received ")
    number = rest.strip().rstrip(".") if found else "?"
    return f"{label} {number}"


def _short(text: str) -> str:
    # pymodbus prefixes its messages with "Modbus Error: [Input/Output] ".
    return text.rsplit("] ", 1)[-1].strip()

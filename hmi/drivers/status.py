"""Per-device communication statistics, published on ``$sys/device/<name>``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

#: where each failure is reported besides the counters: ``(device, kind, message)``
ErrorReport = Callable[[str, str, str], None]


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What an engineer needs to see about one device's link, at one moment."""

    device: str
    #: the link (TCP connection, serial port) is up
    connected: bool
    #: the device answered its last request (a Modbus exception response is an answer);
    #: False while the link is down or after a timeout, a lost connection or garbage
    communicating: bool = False
    #: what went wrong in the current outage, in plain words with the device's name,
    #: e.g. "plc1: cannot connect to 10.0.0.5:502", "plc1: no answer to hr:0+10 (timeout
    #: 0.5 s)", "plc1: wrong reply to hr:0+10: function code 4, expected 3", or a refusal
    #: ("plc1: exception 2 (illegal data address) for hr:100+1") since the device last
    #: came back; "" when none
    last_error: str = ""
    last_error_time: float = 0.0
    #: requests answered per second over the last status interval
    requests_per_s: float = 0.0
    #: mean and worst round trip over the last status interval, in milliseconds
    latency_ms: float = 0.0
    latency_max_ms: float = 0.0
    requests: int = 0
    #: cumulative error counts by kind: timeout/comm, exception, response, connect
    errors: dict[str, int] = field(default_factory=dict)
    #: scans that started later than one period after their due time
    overruns: int = 0
    time: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain data for the bus (MessagePack-friendly)."""
        return asdict(self)


class DeviceStats:
    """Mutable counters behind :class:`DeviceStatus`; the line updates them per request.

    The line publishes a status at once when :attr:`changed` (connected or
    communicating differ from the last status published), so a communication failure is
    known within a request's timeout, not a status interval later.
    """

    def __init__(self, device: str, report: ErrorReport | None = None) -> None:
        self.device = device
        #: each failure also goes here (the line's rate-limited log)
        self.report = report
        self.connected = False
        self.communicating = False
        self.last_error = ""
        self.last_error_time = 0.0
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.overruns = 0
        self._window_requests = 0
        self._window_latency = 0.0
        self._window_max = 0.0
        self._window_start = 0.0
        #: (connected, communicating, failing) of the last status published; None: none
        self._published: tuple[bool, bool, bool] | None = None

    @property
    def changed(self) -> bool:
        """True when connected or communicating changed since the last snapshot, or a
        device that does not communicate got its first error (until then its status
        means "not asked yet", and with it "failing": the comm alarm must not wait)."""
        return self._state() != self._published

    def _state(self) -> tuple[bool, bool, bool]:
        return self.connected, self.communicating, not self.communicating and bool(self.last_error)

    @property
    def outage(self) -> str:
        """The error of the current outage; "" while the device communicates."""
        return "" if self.communicating else self.last_error

    def ok(self, latency: float) -> None:
        """One poll request answered after ``latency`` seconds."""
        if not self.communicating:
            self.answered()
        self.requests += 1
        self._window_requests += 1
        self._window_latency += latency
        self._window_max = max(self._window_max, latency)

    def error(self, kind: str, message: str, now: float) -> None:
        """One failed request (or connection attempt) of ``kind``.

        Kinds: ``exception`` (the device answered with an exception code: it
        communicates), ``timeout``, ``connection``, ``response`` (an answer that is not
        the answer to the request: wrong function code, unit, transaction id, byte
        count), ``connect`` (a failed connection attempt).
        """
        if kind == "exception":  # an answer: the device refused, but it communicates
            self.answered()
        else:
            self.communicating = False
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.last_error = message
        self.last_error_time = now
        if self.report is not None:
            self.report(self.device, kind, message)

    def still_failing(self, message: str, now: float) -> None:
        """A scan that got valid answers too ends with ``message``'s failure: the device
        is not communicating (without counting the failure again).

        A device with one block it always answers wrongly would otherwise flip between
        communicating (a good block) and not (the bad one) within every scan, and its
        status would depend on which block came last.
        """
        self.communicating = False
        self.last_error = message
        self.last_error_time = now

    def disconnected(self) -> None:
        """The link went down."""
        self.connected = self.communicating = False

    def answered(self) -> None:
        """The device answered a request (a poll, a write, or with an exception code)."""
        if not self.communicating:
            # The device is back: an outage's error must not describe the next one.
            self.communicating = True
            self.last_error = ""
            self.last_error_time = 0.0

    def snapshot(self, now: float, monotonic: float, *, window: bool = True) -> DeviceStatus:
        """The status now; starts a new rate window unless ``window`` is False (a status
        published between two intervals because the link changed)."""
        span = monotonic - self._window_start if self._window_start else 0.0
        count = self._window_requests
        status = DeviceStatus(
            device=self.device,
            connected=self.connected,
            communicating=self.communicating,
            last_error=self.last_error,
            last_error_time=self.last_error_time,
            requests_per_s=round(count / span, 1) if span > 0 else 0.0,
            latency_ms=round(1000 * self._window_latency / count, 3) if count else 0.0,
            latency_max_ms=round(1000 * self._window_max, 3),
            requests=self.requests,
            errors=dict(self.errors),
            overruns=self.overruns,
            time=now,
        )
        self._published = self._state()
        if not window:
            return status
        self._window_requests = 0
        self._window_latency = self._window_max = 0.0
        self._window_start = monotonic
        return status

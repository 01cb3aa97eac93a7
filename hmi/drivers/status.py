"""Per-device communication statistics, published on ``$sys/device/<name>``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """What an engineer needs to see about one device's link, at one moment."""

    device: str
    connected: bool
    #: e.g. "timeout", "exception 2 (illegal data address) for hr:100+1"; "" when none yet
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
    """Mutable counters behind :class:`DeviceStatus`; the line updates them per request."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.connected = False
        self.last_error = ""
        self.last_error_time = 0.0
        self.requests = 0
        self.errors: dict[str, int] = {}
        self.overruns = 0
        self._window_requests = 0
        self._window_latency = 0.0
        self._window_max = 0.0
        self._window_start = 0.0

    def ok(self, latency: float) -> None:
        """One request answered after ``latency`` seconds."""
        self.requests += 1
        self._window_requests += 1
        self._window_latency += latency
        self._window_max = max(self._window_max, latency)

    def error(self, kind: str, message: str, now: float) -> None:
        """One failed request (or connection attempt)."""
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.last_error = message
        self.last_error_time = now

    def snapshot(self, now: float, monotonic: float) -> DeviceStatus:
        """The status now; starts a new rate window."""
        span = monotonic - self._window_start if self._window_start else 0.0
        count = self._window_requests
        status = DeviceStatus(
            device=self.device,
            connected=self.connected,
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
        self._window_requests = 0
        self._window_latency = self._window_max = 0.0
        self._window_start = monotonic
        return status

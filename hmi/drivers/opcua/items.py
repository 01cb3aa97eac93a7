"""A tag's monitored item: its request to the server and the samples of its notifications.

Per notification the work is one dictionary look-up, the status code's quality (cached),
the value's conversion and one :class:`~hmi.core.sample.Sample`: the hot path of the
OPC UA driver.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from asyncua import ua
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import get_name_and_doc

from hmi.core.address import ProtocolAddress
from hmi.core.quality import GOOD, Quality, Reason, Severity
from hmi.core.sample import Sample, Value
from hmi.core.tag import Tag
from hmi.drivers.opcua.quality import status_quality
from hmi.drivers.opcua.settings import OpcUaTagOptions
from hmi.drivers.opcua.values import Converter, Mismatch, converter

_UTC = dt.UTC
#: OPC UA's "no timestamp" (1601-01-01) and anything before 1971 is no source time
_NO_TIME = 31_536_000.0


def posix(stamp: dt.datetime | None) -> float:
    """POSIX seconds of an OPC UA timestamp (0.0 for none)."""
    if stamp is None:
        return 0.0
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_UTC)
    seconds = stamp.timestamp()
    return seconds if seconds > _NO_TIME else 0.0


def code_quality(code: int, device: str) -> Quality:
    """The quality of StatusCode ``code``, its name prefixed with the device's."""
    if code == 0:
        return GOOD
    name = get_name_and_doc(code)[0]
    return status_quality(code, f"{device}: {name}")


@dataclass(eq=False, slots=True)
class Item:
    """One tag's monitored item."""

    tag: str
    node: str
    sampling_interval: float
    options: OpcUaTagOptions
    deadband: float
    convert: Converter
    device: str

    @classmethod
    def of(cls, tag: Tag, device: str, period: float) -> Item:
        """The item of a device tag whose poll group has ``period`` seconds."""
        source = tag.source
        assert source is not None and isinstance(source.address, ProtocolAddress)
        options = source.address.options
        assert isinstance(options, OpcUaTagOptions)
        interval = options.sampling_interval
        return cls(
            tag.name,
            source.address.text,
            period if interval is None else interval,
            options,
            source.deadband,
            converter(tag),
            device,
        )

    def request(self, handle: int, numeric: bool) -> ua.MonitoredItemCreateRequest:
        """The item's creation request under client handle ``handle``."""
        read = ua.ReadValueId()
        read.NodeId = ua.NodeId.from_string(self.node)
        read.AttributeId = AttributeIds.Value
        parameters = ua.MonitoringParameters()
        parameters.ClientHandle = handle
        parameters.SamplingInterval = self.sampling_interval * 1000.0
        parameters.QueueSize = self.options.queue_size
        parameters.DiscardOldest = True
        if numeric and (self.deadband > 0 or self.options.deadband_type == "percent"):
            # The server filters too: changes within the deadband never cross the wire.
            data_filter = ua.DataChangeFilter()
            data_filter.Trigger = ua.DataChangeTrigger.StatusValue
            data_filter.DeadbandType = 2 if self.options.deadband_type == "percent" else 1
            data_filter.DeadbandValue = self.deadband
            parameters.Filter = data_filter
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = read
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = parameters
        return request

    def sample(self, value: ua.DataValue, now: float, last: Sample | None) -> Sample:
        """The sample of one notification (or read) ``value`` received at ``now``."""
        code = value.StatusCode.value if value.StatusCode is not None else 0
        quality = code_quality(code, self.device)
        variant = value.Value
        raw = variant.Value if variant is not None else None
        source = posix(value.SourceTimestamp) or posix(value.ServerTimestamp) or now
        if raw is None and quality.severity is not Severity.GOOD:
            # A bad value often comes without one: the last known value stays, marked.
            return Sample(last.value if last is not None else None, quality, source, now)
        try:
            converted: Value = self.convert(raw)
        except Mismatch as exc:
            bad = Quality.bad(Reason.CONFIG_ERROR, f"{self.device}: {self.node}: {exc}")
            return Sample(last.value if last is not None else None, bad, source, now)
        return Sample(converted, quality, source, now)

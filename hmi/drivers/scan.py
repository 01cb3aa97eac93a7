"""One scan of one poll group of one device: read its blocks, isolate refused tags, decode.

This is the hot path of polling, so it does per request only what a request needs: the
read, two clock readings for the latency statistics, and a comparison with the block's
last answer. An unchanged block is not decoded again (its samples would be identical,
and report-by-exception would not publish them); only its freshness is recorded.
"""

from __future__ import annotations

from collections.abc import Callable

from hmi.core.modbus import ResponseError, decode_block
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.drivers.device import DeviceState, PollGroup
from hmi.drivers.errors import CommError, DeviceException, MalformedReply
from hmi.drivers.link import ModbusLink

#: exception codes that mean "this address", worth splitting a block to find it
ADDRESS_EXCEPTIONS = (2, 3)


async def scan_group(
    link: ModbusLink,
    device: DeviceState,
    group: PollGroup,
    clock: Callable[[], float],
    wall: Callable[[], float],
) -> tuple[dict[str, Sample], str]:
    """Read every block of ``group`` once, one request at a time.

    Returns the scan's samples (not yet filtered) and the communication failure that
    cut the scan short ("" when none). A block answered with exception 2 or 3 is split
    in halves until the refused tags stand alone; only those go BAD, and the split is
    kept so later scans do not search again. A block answered wrongly (another function
    code, a wrong byte count: :class:`MalformedReply`) goes BAD at once, never GOOD with
    data that is not its own, and the scan goes on with the next block; the device then
    ends the scan not communicating. ``clock`` is monotonic (latency, freshness),
    ``wall`` gives the samples' timestamps.
    """
    unit, stats, reads = device.config.unit_id, device.stats, group.reads
    samples: dict[str, Sample] = {}
    wrong = ""
    i = 0
    while i < len(reads):
        read = reads[i]
        block = read.block
        sent = device.asking = clock()
        try:
            data = await link.read(unit, block.table, block.start, block.count)
        except DeviceException as exc:
            stats.ok(clock() - sent)  # an answer: the link itself works
            stats.error("exception", str(exc), wall())
            halves = read.split() if exc.code in ADDRESS_EXCEPTIONS else None
            if halves is not None:
                reads[i : i + 1] = halves
                continue
            reason = Reason.CONFIG_ERROR if exc.code <= 3 else Reason.DEVICE_FAILURE
            samples.update(device.refused(read, Quality.bad(reason, str(exc)), wall()))
            i += 1
            continue
        except MalformedReply as exc:
            wrong = str(exc)
            stats.error(exc.kind, wrong, wall())
            samples.update(device.refused(read, Quality.bad(Reason.DEVICE_FAILURE, wrong), wall()))
            i += 1
            continue
        except CommError as exc:
            stats.error(exc.kind if link.connected else "connection", str(exc), wall())
            return samples, str(exc)
        done = clock()
        stats.ok(done - sent)
        i += 1
        if data == read.data:
            read.last_ok = done
            continue
        try:
            decoded = decode_block(block, data, wall())
        except ResponseError as exc:  # what the link's check lets through, the decoder does not
            wrong = f"{device.name}: wrong reply to {exc}"
            stats.error("response", wrong, wall())
            samples.update(device.refused(read, Quality.bad(Reason.DEVICE_FAILURE, wrong), wall()))
            continue
        samples.update(decoded)
        read.data, read.last_ok = data, done
    if wrong:
        stats.still_failing(wrong, wall())
    return samples, ""

"""One scan of one poll group of one device: read its blocks, isolate refused tags, decode.

This is the hot path of polling, so it does per request only what a request needs: the
read, two clock readings for the latency statistics, and a comparison with the block's
last answer. An unchanged block is not decoded again (its samples would be identical,
and report-by-exception would not publish them); only its freshness is recorded.

Writes queued on the line meanwhile go between two reads (``between``): an operator's
write waits for one read at most, not for the rest of the scan. A sample this scan read
before a write to its tag is dropped (the write published the read-back, a newer value
of the device); the line has that block decoded again at its next scan.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from hmi.core.modbus import ResponseError, decode_block
from hmi.core.quality import Quality, Reason
from hmi.core.sample import Sample
from hmi.drivers.device import DeviceState, PollGroup
from hmi.drivers.errors import CommError, DeviceException, MalformedReply
from hmi.drivers.link import ModbusLink

#: exception codes that mean "this address", worth splitting a block to find it
ADDRESS_EXCEPTIONS = (2, 3)

#: the writes waiting on the line, to run before the next read of a scan (None when none
#: wait: the check is a call per read); they return the names of the tags written
BetweenReads = Callable[[], Awaitable[Collection[str]] | None]


async def scan_group(
    link: ModbusLink,
    device: DeviceState,
    group: PollGroup,
    clock: Callable[[], float],
    wall: Callable[[], float],
    *,
    between: BetweenReads | None = None,
) -> tuple[dict[str, Sample], str]:
    """Read every block of ``group`` once, one request at a time.

    Returns the scan's samples (not yet filtered) and the communication failure that
    cut the scan short ("" when none). A block answered with exception 2 or 3 is split
    in halves until the refused tags stand alone; only those go BAD, and the split is
    kept so later scans do not search again. A block answered wrongly (another function
    code, a wrong byte count: :class:`MalformedReply`) goes BAD at once, never GOOD with
    data that is not its own, and the scan goes on with the next block; the device then
    ends the scan not communicating. ``clock`` is monotonic (latency, freshness),
    ``wall`` gives the samples' timestamps. ``between`` runs the line's waiting writes
    before a read (see the module docstring).
    """
    unit, stats, reads = device.config.unit_id, device.stats, group.reads
    samples: dict[str, Sample] = {}
    wrong = ""
    i = 0
    while i < len(reads):
        if between is not None and (writes := between()) is not None:
            device.asking = 0.0  # no read of ours in flight during the writes
            for name in await writes:
                samples.pop(name, None)  # read before the write: older than its read-back
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

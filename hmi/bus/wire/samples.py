"""Samples on the wire: a batch ``Mapping[str, Sample]`` <-> a MessagePack-able list.

Format (documented in docs/bus-protocol.md): a list of ``[name, value, quality,
source_time]``; ``quality`` is ``0`` for GOOD (nearly always, so it costs one byte) or
``[severity, reason, detail]`` with severity 0/1/2 and reason the text of
:class:`hmi.core.Reason`. ``receive_time`` is not sent: the receiver stamps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hmi.core.quality import GOOD, Quality, Reason, Severity
from hmi.core.sample import Sample

_REASONS = {reason.value: reason for reason in Reason}
_VALUE_TYPES = (bool, int, float, str, type(None))


# Sample is a frozen dataclass with slots: its ``__init__`` sets each field through
# ``object.__setattr__``, which was over half of the time to decode a batch into a tag store
# (measured). decode_samples sets the slots through their descriptors instead: the same
# object (a test compares them) in about half the time. If Sample's slots ever change, the
# constructor is used.
_FAST_SAMPLE = getattr(Sample, "__slots__", None) == (
    "value",
    "quality",
    "source_time",
    "receive_time",
)
_make: Any = Sample.__new__
_set_value: Any = Sample.__dict__["value"].__set__ if _FAST_SAMPLE else None
_set_quality: Any = Sample.__dict__["quality"].__set__ if _FAST_SAMPLE else None
_set_source: Any = Sample.__dict__["source_time"].__set__ if _FAST_SAMPLE else None
_set_receive: Any = Sample.__dict__["receive_time"].__set__ if _FAST_SAMPLE else None


class MalformedPayload(ValueError):
    """A payload that does not have the documented shape (dropped and counted)."""


def encode_quality(quality: Quality) -> int | list[Any]:
    """``0`` for GOOD, else ``[severity, reason, detail]``."""
    if quality is GOOD or quality == GOOD:
        return 0
    return [int(quality.severity), quality.reason.value, quality.detail]


_quality_cache: dict[tuple[Any, ...], Quality] = {}


def decode_quality(data: Any) -> Quality:
    """The inverse of :func:`encode_quality`; raises MalformedPayload on anything else."""
    if data == 0 and type(data) is int:
        return GOOD
    if type(data) is not list and type(data) is not tuple:
        raise MalformedPayload(f"quality must be 0 or [severity, reason, detail], not {data!r}")
    key = tuple(data)
    cached = _quality_cache.get(key)
    if cached is not None:
        return cached
    if len(key) != 3:
        raise MalformedPayload(f"quality needs [severity, reason, detail], not {data!r}")
    severity, reason, detail = key
    if type(severity) is not int or not 0 <= severity <= 2:
        raise MalformedPayload(f"quality severity must be 0, 1 or 2, not {severity!r}")
    if not isinstance(reason, str) or not isinstance(detail, str):
        raise MalformedPayload(f"quality reason and detail must be text: {data!r}")
    # An unknown reason from a newer peer keeps its severity; the text survives in detail.
    known = _REASONS.get(reason)
    if known is None:
        quality = Quality(
            Severity(severity), Reason.NONE, f"{reason}: {detail}" if detail else reason
        )
    else:
        quality = Quality(Severity(severity), known, detail)
    if len(_quality_cache) < 4096:
        _quality_cache[key] = quality
    return quality


def encode_samples(batch: Mapping[str, Sample]) -> list[list[Any]]:
    """A batch of samples as a MessagePack-able list (one message per driver scan)."""
    out: list[list[Any]] = []
    append = out.append
    for name, sample in batch.items():
        quality = sample.quality
        q: int | list[Any] = 0 if quality is GOOD else encode_quality(quality)
        append([name, sample.value, q, sample.source_time])
    return out


def decode_samples(payload: Any, receive_time: float = 0.0) -> dict[str, Sample]:
    """The samples of a payload made by :func:`encode_samples`, stamped ``receive_time``.

    Raises :class:`MalformedPayload` for anything not of the documented shape, so a bad
    peer costs a counted drop, never a crash or a wrong value.
    """
    if type(payload) is not list and type(payload) is not tuple:
        raise MalformedPayload(f"samples must be a list, not {type(payload).__name__}")
    out: dict[str, Sample] = {}
    good = GOOD
    fast = _FAST_SAMPLE
    make, cls = _make, Sample
    set_value, set_quality = _set_value, _set_quality
    set_source, set_receive = _set_source, _set_receive
    try:
        for name, value, q, source_time in payload:
            if type(name) is not str or type(value) not in _VALUE_TYPES:
                raise MalformedPayload(f"bad sample entry for {name!r}")
            if type(source_time) is not float and type(source_time) is not int:
                raise MalformedPayload(f"bad source time for {name!r}")
            quality = good if q == 0 else decode_quality(q)
            if fast:
                sample = make(cls)
                set_value(sample, value)
                set_quality(sample, quality)
                set_source(sample, source_time)
                set_receive(sample, receive_time)
                out[name] = sample
            else:
                out[name] = cls(value, quality, source_time, receive_time)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, MalformedPayload):
            raise
        raise MalformedPayload(f"malformed samples: {exc}") from None
    return out

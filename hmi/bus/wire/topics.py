"""Topics and MQTT-like patterns: ``+`` matches one level, ``#`` the rest.

Topics are ``/``-separated paths whose first segment is the class (``tag``, ``cmd``,
``result``, ``alarm``, ``rpc``, ``msg``, ``$sys``). Matching is by whole segments, so
``tag/line1/#`` matches ``tag/line1`` and ``tag/line1/x`` but never ``tag/line10/x``.
"""

from __future__ import annotations

from collections.abc import Callable

#: the topic classes of ARCHITECTURE.md
TAG = "tag/"
CMD = "cmd/"
RESULT = "result/"
ALARM = "alarm/"
#: the alarm engine's count of published transitions (``{"epoch", "seq"}``), sent a moment
#: after the last one so a client notices that one was lost; ``$`` is never in a tag name
ALARM_SEQ = "alarm/$seq"
MSG = "msg/"
SYS = "$sys/"
#: the broker's heartbeats (and the node's control messages to it)
BROKER_TOPIC = "$sys/broker"
#: delivered locally by a node whose broker went silent: ``{"broker": id, "address": front}``
BROKER_LOST = "$sys/broker/lost"


class TopicError(ValueError):
    """A topic or pattern that cannot be used (empty, wildcard in a topic, misplaced ``#``)."""


def validate_topic(topic: str) -> str:
    """Return ``topic`` if it is a concrete topic (no wildcards), else raise TopicError."""
    if not topic or "+" in topic or "#" in topic:
        raise TopicError(f"topic {topic!r} must be non-empty and without wildcards")
    return topic


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if well formed (``#`` only as the whole last level)."""
    if not pattern:
        raise TopicError("empty pattern")
    levels = pattern.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise TopicError(f"pattern {pattern!r}: '#' must be the whole last level")
        if "+" in level and level != "+":
            raise TopicError(f"pattern {pattern!r}: '+' must be a whole level")
    return pattern


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A fast predicate ``topic -> bool`` for ``pattern``."""
    validate_pattern(pattern)
    if "+" not in pattern and "#" not in pattern:
        return pattern.__eq__
    levels = pattern.split("/")
    if "+" not in pattern:
        # Only a trailing '#': a prefix test on whole levels, the common case ("tag/#").
        base = pattern[:-2]  # without "/#"
        if not base:  # "#" alone
            return lambda topic: True
        prefix = base + "/"
        return lambda topic: topic == base or topic.startswith(prefix)
    rest = levels[-1] == "#"
    fixed = levels[:-1] if rest else levels
    n = len(fixed)

    def match(topic: str) -> bool:
        parts = topic.split("/")
        if rest:
            # MQTT: "a/#" also matches "a" itself.
            if len(parts) < n:
                return False
        elif len(parts) != n:
            return False
        return all(want in ("+", got) for want, got in zip(fixed, parts, strict=False))

    return match


def matches(pattern: str, topic: str) -> bool:
    """True when ``topic`` matches ``pattern`` (see the module docstring)."""
    return compile_pattern(pattern)(topic)


def literal_prefix(pattern: str) -> str:
    """The longest literal prefix of ``pattern``: what a ZeroMQ SUB socket subscribes to.

    ZeroMQ filters by byte prefix, so ``tag/line1/#`` subscribes to ``tag/line1``; the
    receiving side still filters with :func:`compile_pattern`, because ``tag/line10/x``
    arrives too.
    """
    levels = pattern.split("/")
    out: list[str] = []
    for level in levels:
        if level == "#":
            # No trailing "/": "tag/line1/#" also matches "tag/line1" itself (MQTT).
            return "/".join(out)
        if level == "+":
            return "/".join(out) + "/" if out else ""
        out.append(level)
    return pattern


def tag_topic(group: str) -> str:
    """``tag/<group>``: the topic a batch of samples of ``group`` is published on."""
    return TAG + group


def cmd_topic(tag: str) -> str:
    """``cmd/<tag>``: where write requests for ``tag`` go."""
    return CMD + tag


def result_topic(tag: str) -> str:
    """``result/<tag>``: where the outcome of a command on ``tag`` goes."""
    return RESULT + tag


def msg_topic(name: str) -> str:
    """``msg/<Name>``: actor messages of that name (``Actor.send_<Name>``)."""
    return MSG + name

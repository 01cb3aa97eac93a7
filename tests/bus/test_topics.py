"""Topic patterns: MQTT-like, matched on whole levels."""

from __future__ import annotations

import pytest

from hmi.bus.wire.topics import (
    TopicError,
    literal_prefix,
    matches,
    validate_pattern,
    validate_topic,
)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("tag/line1/#", "tag/line1/x", True),
        ("tag/line1/#", "tag/line1", True),
        ("tag/line1/#", "tag/line10/x", False),
        ("tag/line1/#", "tag/line10", False),
        ("tag/+/pump", "tag/line1/pump", True),
        ("tag/+/pump", "tag/line1/pump/x", False),
        ("tag/+/#", "tag/a/b/c", True),
        ("tag/+/#", "tag", False),
        ("#", "anything/at/all", True),
        ("+", "one", True),
        ("+", "one/two", False),
        ("cmd/a/b", "cmd/a/b", True),
        ("cmd/a/b", "cmd/a/bc", False),
        ("+/+/+", "a/b/c", True),
    ],
)
def test_matching(pattern, topic, expected):
    assert matches(pattern, topic) is expected


@pytest.mark.parametrize("bad", ["", "a/#/b", "a/b#", "a/x+/c"])
def test_bad_patterns_are_refused(bad):
    with pytest.raises(TopicError):
        validate_pattern(bad)


@pytest.mark.parametrize("bad", ["", "a/+", "a/#"])
def test_topics_have_no_wildcards(bad):
    with pytest.raises(TopicError):
        validate_topic(bad)


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("tag/line1/#", "tag/line1"),
        ("tag/+/x", "tag/"),
        ("#", ""),
        ("+/x", ""),
        ("cmd/a/b", "cmd/a/b"),
    ],
)
def test_literal_prefix_is_what_zmq_subscribes(pattern, prefix):
    assert literal_prefix(pattern) == prefix

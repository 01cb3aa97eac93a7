"""The Sparkplug B codec and the edge node's protocol state, without sockets."""

from __future__ import annotations

import pytest

from hmi.core.quality import Quality, Reason, Severity
from hmi.core.sample import Sample
from hmi.core.tag import DataType
from hmi.drivers.sparkplug import payload as sp
from hmi.drivers.sparkplug.edge import REBIRTH, EdgeNode, Rebirth, Refused, Write
from hmi.drivers.sparkplug.topics import MessageType, TopicError, parse, topic

TAGS = [
    ("area1/t101/level", DataType.FLOAT32),
    ("area1/p101/start", DataType.BOOL),
    ("area1/plc1/heartbeat", DataType.UINT16),
    ("area1/x/offset", DataType.INT16),
    ("area1/x/count", DataType.INT64),
    ("area1/x/name", DataType.STRING),
]


def edge() -> EdgeNode:
    return EdgeNode("site-a", "control-room", "plant", TAGS)


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (sp.INT8, -128),
        (sp.INT16, -2),
        (sp.INT32, -(2**31)),
        (sp.INT64, -(2**63)),
        (sp.UINT16, 65535),
        (sp.UINT32, 2**32 - 1),
        (sp.UINT64, 2**64 - 1),
        (sp.DOUBLE, -1.25e300),
        (sp.FLOAT, 1.5),
        (sp.BOOLEAN, True),
        (sp.STRING, "héllo"),
        (sp.DOUBLE, None),
    ],
)
def test_values_round_trip(datatype: int, value: object) -> None:
    metric = sp.Metric(name="m", alias=7, datatype=datatype, value=value, quality=64)  # type: ignore[arg-type]
    decoded = sp.decode(sp.encode([metric], timestamp=5, seq=3))
    assert decoded.seq == 3 and decoded.timestamp == 5
    assert decoded.metrics == (metric,)


def test_garbage_is_a_payload_error() -> None:
    with pytest.raises(sp.PayloadError, match="not a Sparkplug B payload"):
        sp.decode(b"\xff\xff\xff\xff")


def test_quality_codes_both_ways() -> None:
    assert sp.quality_code(Quality.good()) == 192
    assert sp.quality_code(Quality.uncertain(Reason.LAST_KNOWN_VALUE)) == 64
    assert sp.quality_code(Quality.bad(Reason.NO_COMMUNICATION)) == 0
    assert sp.quality_of(None).severity is Severity.GOOD
    assert sp.quality_of(192).severity is Severity.GOOD
    assert sp.quality_of(64).severity is Severity.UNCERTAIN
    assert sp.quality_of(0).severity is Severity.BAD
    assert sp.quality_of(500).severity is Severity.BAD


def test_topics() -> None:
    name = topic("g", MessageType.DDATA, "e", "d")
    assert name == "spBv1.0/g/DDATA/e/d"
    assert parse(name).device == "d"
    assert parse("spBv1.0/g/NBIRTH/e").type is MessageType.NBIRTH
    for bad in ("spBv1.0/g/NBIRTH/e/d", "spBv1.0/g/DDATA/e", "spBv1.0/STATE/host", "x/g/NDATA/e"):
        with pytest.raises(TopicError):
            parse(bad)


def test_births_carry_bdseq_names_aliases_and_seq() -> None:
    node = edge()
    will_topic, will = node.session(100.0)
    assert will_topic == "spBv1.0/site-a/NDEATH/control-room"
    death = sp.decode(will)
    assert death.seq is None
    assert death.metrics[0].name == "bdSeq" and death.metrics[0].value == 0
    samples = {"area1/t101/level": Sample(2.5, source_time=99.0)}
    (nt, nbirth), (dt, dbirth) = node.births(samples, 100.0)
    assert nt == "spBv1.0/site-a/NBIRTH/control-room"
    assert dt == "spBv1.0/site-a/DBIRTH/control-room/plant"
    n = sp.decode(nbirth)
    assert n.seq == 0
    assert {m.name: m.value for m in n.metrics} == {"bdSeq": 0, REBIRTH: False}
    d = sp.decode(dbirth)
    assert d.seq == 1
    by_name = {m.name: m for m in d.metrics}
    assert set(by_name) == {name for name, _ in TAGS}
    level = by_name["area1/t101/level"]
    assert (level.alias, level.datatype, level.value, level.quality) == (1, sp.FLOAT, 2.5, 192)
    assert level.timestamp == 99_000
    # a tag without a value yet: null and BAD
    assert by_name["area1/p101/start"].value is None
    assert by_name["area1/p101/start"].quality == 0
    # the next session's will counts on
    assert sp.decode(node.session(101.0)[1]).metrics[0].value == 1


def test_data_by_exception_by_alias_with_seq() -> None:
    node = edge()
    node.session(0.0)
    node.births({"area1/t101/level": Sample(1.0)}, 0.0)
    assert node.data({"area1/t101/level": Sample(1.0)}, 1.0) is None  # unchanged
    assert node.data({"not/published/tag": Sample(1.0)}, 1.0) is None
    message = node.data({"area1/t101/level": Sample(1.5), "area1/plc1/heartbeat": Sample(7)}, 1.0)
    assert message is not None
    assert message[0] == "spBv1.0/site-a/DDATA/control-room/plant"
    data = sp.decode(message[1])
    assert data.seq == 2
    assert [(m.name, m.alias, m.value) for m in data.metrics] == [("", 1, 1.5), ("", 3, 7)]
    # a quality change alone is news
    lost = Sample(1.5, Quality.uncertain(Reason.LAST_KNOWN_VALUE))
    data = sp.decode(node.data({"area1/t101/level": lost}, 2.0)[1])  # type: ignore[index]
    assert data.seq == 3 and data.metrics[0].quality == 64


def test_seq_wraps_at_256() -> None:
    node = edge()
    node.births({}, 0.0)
    seqs = []
    for i in range(300):
        message = node.data({"area1/plc1/heartbeat": Sample(i)}, 0.0)
        assert message is not None
        seqs.append(sp.decode(message[1]).seq)
    assert seqs[253:256] == [255, 0, 1]


def test_a_value_the_type_cannot_hold_goes_out_null_and_bad() -> None:
    node = edge()
    node.births({}, 0.0)
    message = node.data({"area1/plc1/heartbeat": Sample("text")}, 0.0)
    metric = sp.decode(message[1]).metrics[0]  # type: ignore[index]
    assert metric.value is None and metric.quality == 0


def test_commands() -> None:
    node = edge()
    ncmd = parse("spBv1.0/site-a/NCMD/control-room")
    rebirth = sp.encode(
        [sp.Metric(name=REBIRTH, datatype=sp.BOOLEAN, value=True)], timestamp=0, seq=None
    )
    assert node.command(ncmd, rebirth) == [Rebirth()]
    other = parse("spBv1.0/site-a/NCMD/another-node")
    assert node.command(other, rebirth) == []
    dcmd = parse("spBv1.0/site-a/DCMD/control-room/plant")
    body = sp.encode(
        [
            sp.Metric(name="area1/p101/start", datatype=sp.BOOLEAN, value=True),
            sp.Metric(alias=1, datatype=sp.FLOAT, value=3.0),
            sp.Metric(name="area9/nope/x", datatype=sp.DOUBLE, value=1.0),
        ],
        timestamp=0,
        seq=None,
    )
    events = node.command(dcmd, body)
    assert events[0] == Write("area1/p101/start", True)
    assert events[1] == Write("area1/t101/level", 3.0)
    assert isinstance(events[2], Refused) and "area9/nope/x" in events[2].why
    assert isinstance(node.command(dcmd, b"\xff\xff")[0], Refused)


@pytest.mark.parametrize(
    ("datatype", "value", "quality", "stamp"),
    [
        (sp.DOUBLE, 1.25, 192, 1_796_000_000_123),
        (sp.DOUBLE, None, 0, 0),
        (sp.FLOAT, -3.5, 64, 5),
        (sp.BOOLEAN, True, 192, 5),
        (sp.BOOLEAN, False, 0, 5),
        (sp.STRING, "x" * 200, 192, 5),
        (sp.INT16, -2, 192, 5),
        (sp.UINT16, 65535, 192, 5),
        (sp.INT32, -(2**31), 192, 5),
        (sp.UINT32, 2**32 - 1, 192, 5),
        (sp.INT64, -(2**63), 192, 5),
        (sp.UINT64, 2**64 - 1, 500, 5),
    ],
)
def test_the_hot_path_writes_the_bytes_protobuf_writes(
    datatype: int, value: object, quality: int, stamp: int
) -> None:
    from hmi.drivers.sparkplug import wire

    head = (wire.metric_head(300), wire.datatype_field(datatype), datatype)
    ours = wire.data_payload(
        [wire.data_metric(head, wire.stamp_field(stamp), value, wire.quality_field(quality))],  # type: ignore[arg-type]
        1_796_000_000_000,
        17,
    )
    metric = sp.Metric(alias=300, datatype=datatype, value=value, timestamp=stamp, quality=quality)  # type: ignore[arg-type]
    assert ours == sp.encode([metric], timestamp=1_796_000_000_000, seq=17)


def test_a_ddata_of_the_edge_node_is_protobufs_bytes() -> None:
    node = edge()
    node.births({}, 0.0)
    batch = {
        "area1/t101/level": Sample(2.5, source_time=10.0),  # the GOOD float fast path
        "area1/x/name": Sample("abc", Quality.uncertain(Reason.LAST_KNOWN_VALUE), 10.0),
        "area1/p101/start": Sample(True, source_time=11.0),
    }
    _, body = node.data(batch, 12.0)  # type: ignore[misc]
    expected = sp.encode(
        [
            sp.Metric(alias=1, datatype=sp.FLOAT, value=2.5, timestamp=10_000, quality=192),
            sp.Metric(alias=6, datatype=sp.STRING, value="abc", timestamp=10_000, quality=64),
            sp.Metric(alias=2, datatype=sp.BOOLEAN, value=True, timestamp=11_000, quality=192),
        ],
        timestamp=12_000,
        seq=2,
    )
    assert body == expected

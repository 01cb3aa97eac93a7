"""The host's view of foreign edge nodes, without sockets: births, data, deaths, gaps,
staleness and the loss of the broker, as samples with quality and rebirth requests."""

from __future__ import annotations

from hmi.core.quality import Reason, Severity
from hmi.drivers.sparkplug import payload as sp
from hmi.drivers.sparkplug.host import Binding, HostState
from hmi.drivers.sparkplug.topics import parse

G, E, D = "site-b", "gw1", "plc7"
NODE = ("site-b", "gw1")


def state(stale_after: float = 0.0) -> HostState:
    host = HostState(stale_after)
    host.bind(
        [
            Binding("siteb/plc7/temp", G, E, D, "temp"),
            Binding("siteb/plc7/count", G, E, D, "count"),
            Binding("siteb/gw1/uptime", G, E, "", "uptime"),
        ]
    )
    return host


def msg(kind: str, metrics: list[sp.Metric], seq: int | None, device: str = D) -> tuple:
    name = f"spBv1.0/{G}/{kind}/{E}" + (f"/{device}" if kind.startswith("D") else "")
    return parse(name), sp.encode(metrics, timestamp=1000, seq=seq)


def born(host: HostState, bdseq: int = 3) -> None:
    host.receive(
        *msg(
            "NBIRTH",
            [
                sp.Metric(name="bdSeq", datatype=sp.UINT64, value=bdseq),
                sp.Metric(name="uptime", alias=10, datatype=sp.INT64, value=5),
            ],
            0,
        ),
        1.0,
    )
    host.receive(
        *msg(
            "DBIRTH",
            [
                sp.Metric(name="temp", alias=1, datatype=sp.DOUBLE, value=20.5),
                sp.Metric(name="count", alias=2, datatype=sp.INT32, value=-1, quality=64),
                sp.Metric(name="unbound", alias=3, datatype=sp.INT32, value=0),
            ],
            1,
        ),
        1.0,
    )


def test_births_give_values_and_qualities() -> None:
    host = state()
    born(host)
    assert host.online(G, E)
    assert host.last["siteb/gw1/uptime"].value == 5
    assert host.last["siteb/plc7/temp"].value == 20.5
    assert host.last["siteb/plc7/temp"].source_time == 1.0  # the message's metric time
    count = host.last["siteb/plc7/count"]
    assert count.value == -1 and count.quality.severity is Severity.UNCERTAIN


def test_data_by_alias_and_seq_gaps_ask_for_rebirth_once() -> None:
    host = state()
    born(host)
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=21.0)], 2), 2.0
    )
    assert update.samples["siteb/plc7/temp"].value == 21.0 and update.rebirth == []
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=22.0)], 9), 3.0
    )
    assert update.samples["siteb/plc7/temp"].value == 22.0  # applied all the same
    assert update.rebirth == [NODE] and host.gaps == 1
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=23.0)], 5), 3.0
    )
    assert update.rebirth == []  # asked already, until the next NBIRTH
    born(host)
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=1.0)], 3), 3.0
    )
    assert update.rebirth == [NODE]


def test_seq_wraps_without_a_gap() -> None:
    host = state()
    born(host)
    for seq in [*range(2, 256), 0, 1]:
        update = host.receive(
            *msg("DDATA", [sp.Metric(alias=2, datatype=sp.INT32, value=seq)], seq), 2.0
        )
        assert update.rebirth == []
    assert host.gaps == 0


def test_data_before_a_birth_asks_for_one() -> None:
    host = state()
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=1.0)], 4), 1.0
    )
    assert update.samples == {} and update.rebirth == [NODE]


def test_ndeath_of_the_session_turns_every_tag_bad_value_kept() -> None:
    host = state()
    born(host, bdseq=3)
    old_will = host.receive(
        *msg("NDEATH", [sp.Metric(name="bdSeq", datatype=sp.UINT64, value=2)], None), 4.0
    )
    assert old_will.samples == {}  # an older session's will: ignored
    update = host.receive(
        *msg("NDEATH", [sp.Metric(name="bdSeq", datatype=sp.UINT64, value=3)], None), 5.0
    )
    assert set(update.samples) == {"siteb/plc7/temp", "siteb/plc7/count", "siteb/gw1/uptime"}
    temp = update.samples["siteb/plc7/temp"]
    assert temp.value == 20.5 and temp.quality.severity is Severity.BAD
    assert temp.quality.reason is Reason.NO_COMMUNICATION
    assert "gw1 dead (NDEATH)" in temp.quality.detail
    assert not host.online(G, E)


def test_ddeath_turns_the_device_bad_only() -> None:
    host = state()
    born(host)
    update = host.receive(*msg("DDEATH", [], 2), 5.0)
    assert set(update.samples) == {"siteb/plc7/temp", "siteb/plc7/count"}
    assert "plc7 dead (DDEATH)" in update.samples["siteb/plc7/temp"].quality.detail


def test_a_silent_node_turns_uncertain_and_is_asked_again_when_heard() -> None:
    host = state(stale_after=10.0)
    born(host)
    assert host.stale(10.5).samples == {}
    update = host.stale(11.0)
    assert update.samples["siteb/plc7/temp"].quality.severity is Severity.UNCERTAIN
    assert "no message from site-b/gw1 for 10 s" in update.samples["siteb/plc7/temp"].quality.detail
    assert host.stale(30.0).samples == {}  # once
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=5.0)], 2), 31.0
    )
    assert update.rebirth == [NODE]
    assert update.samples["siteb/plc7/temp"].quality.severity is Severity.GOOD


def test_null_keeps_the_value_bad_and_the_broker_lost_makes_good_uncertain() -> None:
    host = state()
    born(host)
    update = host.receive(
        *msg("DDATA", [sp.Metric(alias=1, datatype=sp.DOUBLE, value=None)], 2), 2.0
    )
    assert update.samples["siteb/plc7/temp"].value == 20.5
    assert update.samples["siteb/plc7/temp"].quality.severity is Severity.BAD
    update = host.lost("MQTT broker x lost", 3.0)
    assert set(update.samples) == {"siteb/gw1/uptime"}  # the GOOD one; count was UNCERTAIN
    assert update.samples["siteb/gw1/uptime"].quality.severity is Severity.UNCERTAIN
    assert host.connected().rebirth == [NODE]


def test_unbound_nodes_and_garbage_are_ignored() -> None:
    host = state()
    other = parse("spBv1.0/other/NBIRTH/x")
    assert host.receive(other, b"", 1.0).samples == {}
    assert host.receive(parse(f"spBv1.0/{G}/NBIRTH/{E}"), b"\xff\xff", 1.0).samples == {}
    assert host.malformed == 1


def test_each_node_has_its_own_staleness_bound() -> None:
    host = HostState()  # no default bound
    host.bind(
        [Binding("siteb/plc7/temp", G, E, D, "temp"), Binding("sitec/x/y", G, "gw2", "", "y")]
    )
    host.set_stale_after(G, E, 5.0)
    assert host.shortest_stale_after == 5.0
    born(host)
    host.receive(*_node_birth("gw2", [sp.Metric(name="y", datatype=sp.DOUBLE, value=1.0)]), 1.0)
    update = host.stale(7.0)
    assert set(update.samples) == {"siteb/plc7/temp"}  # gw2 has no bound: never stale


def _node_birth(edge: str, metrics: list[sp.Metric]) -> tuple:
    return parse(f"spBv1.0/{G}/NBIRTH/{edge}"), sp.encode(metrics, timestamp=1000, seq=0)

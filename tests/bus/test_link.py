"""A node's link to its broker (hmi.bus.net.link): values marked while the broker is lost, a
node started before its broker, a key the broker refuses; one log line per change, never
an exception (real brokers on 127.0.0.1, short heartbeats)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hmi.bus import Bus, bind_store, connect
from hmi.bus.broker import Broker
from hmi.bus.net.auth import ClientRule, Policy
from hmi.bus.net.keys import ClientKeys, KeyPair
from hmi.bus.net.link import Link
from hmi.bus.wire.samples import encode_samples
from hmi.core import Quality, Reason, Sample, Severity, TagStore

from .test_zmq_bus import until

BEAT = 0.1
FLOW, MODE, FAULT, OLD = "a/p/flow", "a/p/mode", "a/p/fault", "a/p/old"


def _records(caplog, text):
    return [r for r in caplog.records if r.name == "hmi.bus.net.link" and text in r.getMessage()]


def test_the_link_tells_each_change_once_and_logs_the_first_wait_after_a_grace(caplog):
    async def main():
        link = Link("tcp://h:5570", grace=0.05)
        told = []

        def broken(state, detail):
            raise RuntimeError("a listener's bug")

        link.listeners += [lambda state, detail: told.append((state, detail)), broken]
        link.start()
        link.waiting()  # what it is already: nothing to tell
        assert told == [] and caplog.records == []  # within the grace: not logged yet
        await asyncio.sleep(0.1)
        link.connected("b1")
        link.connected("b1")  # the answer to a repeated hello: no change
        link.lost("b1", 3.5)
        link.connected("b1", ": heard again after 4.0 s, resyncing")
        link.refused()
        link.lost("b1", 3.5)  # silent because it refuses: still refused
        link.handshake_failed()  # not refused any more: no answer
        link.close()
        return told

    with caplog.at_level(logging.INFO, logger="hmi.bus.net.link"):
        told = asyncio.run(main())
    assert [state for state, _ in told] == ["connected", "lost", "connected", "refused", "waiting"]
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if "listener" not in r.msg]
    assert lines == [
        ("WARNING", "bus: waiting for broker tcp://h:5570: no answer yet; still trying"),
        ("WARNING", "bus: connected to broker tcp://h:5570 (id b1)"),
        ("WARNING", "bus: broker tcp://h:5570 (id b1) silent for 3.5 s; still trying"),
        (
            "WARNING",
            "bus: connected to broker tcp://h:5570 (id b1): heard again after 4.0 s, resyncing",
        ),
        (
            "WARNING",
            "bus: broker tcp://h:5570 refused this node's CURVE key (not admitted by its "
            "policy); still trying",
        ),
        (
            "WARNING",
            "bus: waiting for broker tcp://h:5570: no answer yet (a connection is made, but the "
            "security handshake fails: is the broker's public key right, and do both sides use "
            "CURVE?); still trying",
        ),
    ]
    failed = [r for r in caplog.records if "listener" in r.msg]
    assert len(failed) == 5 and all(r.exc_info for r in failed)  # logged, others still told


def test_a_first_connection_within_the_grace_is_only_info_a_new_broker_a_warning(caplog):
    async def main():
        link = Link("tcp://h:5570", grace=0.05)
        link.start()
        link.connected("b1")
        await asyncio.sleep(0.1)
        link.connected("b2", ": a new broker (was b1), resyncing")
        link.close()

    with caplog.at_level(logging.INFO, logger="hmi.bus.net.link"):
        asyncio.run(main())
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "bus: connected to broker tcp://h:5570 (id b1)"),
        (
            "WARNING",
            "bus: connected to broker tcp://h:5570 (id b2): a new broker (was b1), resyncing",
        ),
    ]


def test_values_turn_uncertain_while_the_broker_is_lost_and_good_with_fresh_data(address):
    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False)
        await broker.start()
        driver = await connect(address, name="driver", heartbeat=BEAT)
        hmi = await connect(address, name="hmi", heartbeat=BEAT)
        states = []
        hmi.transport.on_link.append(lambda state, detail: states.append(state))
        store, own = TagStore(), TagStore()
        bind_store(hmi, store, "tag/#")
        bind_store(driver, own, "tag/#")  # its own tags: not from the broker
        try:
            await asyncio.sleep(0.1)
            stale = Quality.uncertain(Reason.LAST_KNOWN_VALUE, "plc1 timeout")
            driver.publish(
                "tag/a/plc",
                encode_samples(
                    {
                        MODE: Sample("auto", source_time=1.0),  # static: published once
                        FAULT: Sample(0, Quality.bad(Reason.DEVICE_FAILURE), 1.0),
                        OLD: Sample(7, stale, 1.0),
                    }
                ),
            )
            driver.publish("tag/a/plc", encode_samples({FLOW: Sample(3.5, source_time=2.0)}))
            await until(lambda: store.get(FLOW).value == 3.5 and store.get(OLD).value == 7)
            assert hmi.transport.link_state == "connected"

            loop = asyncio.get_running_loop()
            await broker.close()
            closed = loop.time()
            timeout = hmi.transport.broker_timeout
            await until(
                lambda: store.get(FLOW).quality.reason is Reason.BROKER_LOST,
                timeout=timeout + 3 * BEAT + 0.5,  # the timeout, checked every heartbeat
            )
            assert loop.time() - closed < timeout + 3 * BEAT + 0.5
            for name, value in ((FLOW, 3.5), (MODE, "auto")):
                sample = store.get(name)
                assert sample.value == value  # never blanked
                assert sample.quality.severity is Severity.UNCERTAIN
                assert sample.quality.detail == f"broker {address} silent"
            assert store.get(FAULT).quality == Quality.bad(Reason.DEVICE_FAILURE)  # stays BAD
            assert store.get(OLD).quality == stale  # keeps its own reason
            assert hmi.transport.link_state == "lost" and states == ["lost"]
            await until(lambda: driver.transport.link_state == "lost")
            assert own.get(FLOW).quality.is_good  # the driver's own values stay GOOD

            broker = Broker(address, heartbeat=BEAT, write_state_file=False)
            await broker.start()
            # no node restarted: the driver refills the new broker, the hmi node resyncs
            await until(lambda: store.get(FLOW).quality.is_good, timeout=8)
            await until(lambda: store.get(MODE).quality.is_good, timeout=8)
            assert store.get(FLOW).value == 3.5 and store.get(MODE).value == "auto"
            assert store.get(FAULT).quality.reason is Reason.DEVICE_FAILURE
            # (the driver's live batch through the new broker may come before our welcome)
            await until(lambda: states == ["lost", "connected"])
            driver.publish("tag/a/plc", encode_samples({FLOW: Sample(4.0, source_time=3.0)}))
            await until(lambda: store.get(FLOW).value == 4.0)
        finally:
            await hmi.close()
            await driver.close()
            await broker.close()

    asyncio.run(main())


def test_a_local_bus_never_loses_a_broker():
    async def main():
        bus = Bus.local()
        store = TagStore()
        binding = bind_store(bus, store, "tag/#")
        bus.publish("tag/a/plc", encode_samples({FLOW: Sample(1.0)}))
        bus.deliver("$sys/broker/lost", {"broker": "b1", "address": "tcp://h:5570"})
        assert store.get(FLOW).quality.is_good
        binding.cancel()
        bus.publish("tag/a/plc", encode_samples({FLOW: Sample(2.0)}))
        assert store.get(FLOW).value == 1.0
        await bus.close()

    asyncio.run(main())


def test_unbinding_a_store_also_ends_its_broker_watch(address):
    async def main():
        broker = Broker(address, heartbeat=BEAT, write_state_file=False)
        await broker.start()
        hmi = await connect(address, name="hmi", heartbeat=BEAT)
        try:
            before = len(hmi._subs)
            binding = bind_store(hmi, TagStore(), "tag/#")
            assert len(hmi._subs) == before + 2  # the batches and $sys/broker/lost
            binding.cancel()
            assert len(hmi._subs) == before
        finally:
            await hmi.close()
            await broker.close()

    asyncio.run(main())


@pytest.mark.parametrize("curve", [False, True], ids=["plain", "curve"])
def test_a_node_started_before_its_broker_joins_when_it_starts(address, curve):
    server, key = KeyPair.generate(), KeyPair.generate()
    keys = ClientKeys(key, server.public) if curve else None
    policy = Policy([ClientRule("early", key.public, ("tag/",))]) if curve else None

    async def main():
        early = await connect(address, name="early", heartbeat=BEAT, keys=keys, wait=None)
        broker = None
        try:
            transport = early.transport
            assert transport.link_state == "waiting"
            assert not await transport.wait_connected(0.3)  # nobody there: False, no error
            # Only the hello sent at start (queued by ZeroMQ while nobody was there), not
            # the ones answering the new broker's heartbeats: it must reach the broker.
            transport.session.hello = lambda: None
            store = TagStore()
            bind_store(early, store, "tag/#")
            broker = Broker(
                address,
                heartbeat=BEAT,
                secret=server if curve else None,
                policy=policy,
                write_state_file=False,
            )
            await broker.start()
            assert await transport.wait_connected(5)
            assert transport.link_state == "connected"
            assert transport.broker_id == broker.id
            assert [n.name for n in broker.nodes.values()] == ["early"]
            early.publish("tag/a/plc", encode_samples({FLOW: Sample(1.0)}))
            await until(lambda: len(broker.cache) == 1)
        finally:
            await early.close()
            if broker is not None:
                await broker.close()

    asyncio.run(main())


def test_a_refused_key_says_so_once_never_raises_and_gets_in_once_admitted(address, caplog):
    server, admitted, stranger = KeyPair.generate(), KeyPair.generate(), KeyPair.generate()
    policy = Policy([ClientRule("hmi", admitted.public, ("cmd/",))])

    async def main():
        broker = Broker(
            address, heartbeat=BEAT, secret=server, policy=policy, write_state_file=False
        )
        await broker.start()
        keys = ClientKeys(stranger, server.public)
        node = await connect(address, name="stranger", heartbeat=BEAT, keys=keys, wait=None)
        other = None
        try:
            states = []
            node.transport.on_link.append(lambda state, detail: states.append((state, detail)))
            await until(lambda: node.transport.link_state == "refused")
            assert "refused this node's CURVE key" in node.transport.link.detail
            # with a deadline, the same refusal is a ConnectionError that says why
            with pytest.raises(ConnectionError, match="not admitted by its policy"):
                await connect(address, name="impatient", keys=keys, wait=0.3)
            await asyncio.sleep(1.0)  # it keeps trying (0.5 s, 1 s ...): one line only
            assert node.transport.link_state == "refused"
            assert len(_records(caplog, "refused this node's CURVE key")) == 2  # one per node
            assert broker.zap.counts["refused"] >= 3

            # the same node, its key admitted meanwhile (no restart, no new node)
            policy.rules[stranger.public] = ClientRule("stranger", stranger.public, ("tag/",))
            assert await node.transport.wait_connected(5)
            assert node.transport.link_state == "connected"
            assert [state for state, _ in states] == ["refused", "connected"]
            assert states[-1][1] == f"connected to broker {address} (id {broker.id})"
            assert any(n.name == "stranger" for n in broker.nodes.values())
            # and a node with a key admitted from the start connects at once
            other = await connect(
                address, name="hmi", heartbeat=BEAT, keys=ClientKeys(admitted, server.public)
            )
            assert other.transport.link_state == "connected"
        finally:
            if other is not None:
                await other.close()
            await node.close()
            await broker.close()

    with caplog.at_level(logging.WARNING):
        asyncio.run(main())
    assert not any(r.exc_info for r in caplog.records)  # one line each, never a traceback


def test_a_wrong_broker_key_is_no_answer_and_still_trying(address):
    server, key = KeyPair.generate(), KeyPair.generate()
    policy = Policy([ClientRule("n", key.public, ("tag/",))])

    async def main():
        broker = Broker(
            address, heartbeat=BEAT, secret=server, policy=policy, write_state_file=False
        )
        await broker.start()
        wrong = ClientKeys(key, KeyPair.generate().public)
        node = await connect(address, name="n", heartbeat=BEAT, keys=wrong, wait=None)
        try:
            await until(lambda: "handshake fails" in node.transport.link.detail)
            assert node.transport.link_state == "waiting"
            assert not await node.transport.wait_connected(0.2)
        finally:
            await node.close()
            await broker.close()

    asyncio.run(main())


def test_waiting_forever_ends_when_the_node_closes(address):
    async def main():
        node = await connect(address, name="n", heartbeat=BEAT, wait=None)
        waiting = asyncio.ensure_future(node.transport.wait_connected())
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await node.close()
        assert await asyncio.wait_for(waiting, 2) is False

    asyncio.run(main())

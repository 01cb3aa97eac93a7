"""A node the broker declared dead that was only paused (a long GC or I/O pause, a network
blip) and is heard again: the broker asks it to republish, and its tags, static ones too,
are GOOD again for every subscriber without the node publishing anything new."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import msgpack
import pytest

from hmi.bus import bind_store, connect, expose
from hmi.bus.broker import Broker
from hmi.bus.broker.roster import Roster
from hmi.bus.net.publisher import Publisher
from hmi.bus.wire.control import Hello
from hmi.bus.wire.samples import encode_samples
from hmi.core import Reason, Sample, Severity, TagStore

from .test_zmq_bus import until

VALVE, SETPOINT, LEVEL = "line1/valve/open", "line1/tank/sp", "line1/tank/level"
NAMES = (VALVE, SETPOINT, LEVEL)


class NodeLoop:
    """An event loop of its own in a thread, for one node; :meth:`pause` blocks it (as a
    long GC or I/O pause would: the node neither beats nor reads) until :meth:`resume`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._gate = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    async def run(self, coro):
        """Run ``coro`` on the node's loop; its result."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def call(self, fn, *args):
        """Call ``fn(*args)`` on the node's loop; its result."""

        async def calling():
            return fn(*args)

        return await self.run(calling())

    async def pause(self) -> None:
        """Block the node's loop; returns once it is blocked."""
        self._gate.clear()
        self._paused.clear()

        def block():
            self._paused.set()
            self._gate.wait(30)

        self.loop.call_soon_threadsafe(block)
        await until(self._paused.is_set)

    def resume(self) -> None:
        """Let the node's loop run again."""
        self._gate.set()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self._gate.set()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Valve:
    @expose
    def position(self):
        return 42


def test_node_loop_pause_blocks_the_loop_until_resumed():
    async def main():
        node = NodeLoop()
        try:
            ticks = []
            await node.call(lambda: node.loop.call_later(0.01, ticks.append, 1))
            await node.pause()
            await asyncio.sleep(0.1)
            assert ticks == []  # due, but the loop is blocked
            node.resume()
            await until(lambda: ticks == [1])
        finally:
            node.close()

    asyncio.run(main())


def _all(store: TagStore, check) -> bool:
    samples = [store.get(name) for name in NAMES]
    return all(s is not None and check(s) for s in samples)


def _dead(sample) -> bool:
    return sample.quality.reason is Reason.NODE_DEAD


def _good(sample) -> bool:
    return sample.quality.is_good


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "checked path"])
def test_a_paused_node_declared_dead_republishes_its_values_when_heard_again(address, fast_path):
    async def main():
        broker = Broker(address, heartbeat=0.1, fast_path=fast_path, write_state_file=False)
        await broker.start()
        paused = NodeLoop()
        driver = await paused.run(connect(address, name="driver", heartbeat=0.1))
        hmi = await connect(address, name="hmi", heartbeat=0.1)
        late = None
        try:
            assert driver.transport.fast_path_ready is fast_path
            store = TagStore()
            bind_store(hmi, store, "tag/#")
            events = []
            hmi.subscribe("$sys/node/+/+", lambda t, p: events.append(t.rsplit("/", 1)[1]))
            # the driver's own subscribers get the node-dead batches too
            own = TagStore()
            own_reasons = []
            await paused.call(bind_store, driver, own, "tag/#")
            await paused.call(
                driver.subscribe,
                "tag/#",
                lambda t, p: own_reasons.extend(e[2] and e[2][1] for e in p),
            )
            await paused.call(driver.expose, "valve1", Valve())
            await until(lambda: "valve1" in broker.targets)
            # static tags, published once; then only the tag that changes
            await paused.call(
                driver.publish,
                "tag/line1/plc",
                encode_samples(
                    {VALVE: Sample(True, source_time=5.0), SETPOINT: Sample(40.0, source_time=5.0)}
                ),
            )
            for level in (1.0, 2.0):
                await paused.call(
                    driver.publish,
                    "tag/line1/plc",
                    encode_samples({LEVEL: Sample(level, source_time=5.0 + level)}),
                )
            await until(lambda: _all(store, _good) and store.get(LEVEL).value == 2.0)
            published = driver.stats.published

            await paused.pause()  # no heartbeat: the broker declares the driver dead
            await until(lambda: "dead" in events)
            await until(lambda: _all(store, _dead))
            assert store.get(SETPOINT).quality.severity is Severity.UNCERTAIN
            assert store.get(SETPOINT).value == 40.0
            assert "valve1" not in broker.targets

            loop = asyncio.get_running_loop()
            paused.resume()
            resumed = loop.time()
            await until(lambda: _all(store, _good), timeout=3)
            assert loop.time() - resumed < 1.0  # within a few of the driver's heartbeats
            assert events[-1] == "alive"
            # the values and source times as published, and nothing new was published
            assert [store.get(n).value for n in NAMES] == [True, 40.0, 2.0]
            assert [store.get(n).source_time for n in NAMES] == [5.0, 5.0, 7.0]
            assert driver.stats.published == published
            # its RPC target is back, and so are its values for its own subscribers
            assert broker.targets.get("valve1") == driver.transport.node_id.encode()
            assert await hmi.call("valve1", "position", timeout=2.0) == 42
            await until(lambda: Reason.NODE_DEAD.value in own_reasons)
            resync = driver.transport.resync
            await until(lambda: not resync.asked and not resync.held)
            assert _all(own, _good)  # node dead first (maybe held for a resync), then GOOD
            # the broker's cache is GOOD again: a late joiner gets GOOD values
            late = await connect(address, name="late", heartbeat=0.1)
            late_store = TagStore()
            bind_store(late, late_store, "tag/#")
            await until(lambda: _all(late_store, _good))
        finally:
            if late is not None:
                await late.close()
            await hmi.close()
            await paused.run(driver.close())
            paused.close()
            await broker.close()

    asyncio.run(main())


def test_the_roster_gives_a_node_back_its_targets_unless_another_took_them():
    roster = Roster(heartbeat=0.1, dead_after=None, senders={})
    a, b = roster.join(b"a", "a"), roster.join(b"b", "b")
    for node in (a, b):
        roster.hello(node, Hello(name=node.sender, heartbeat=0.2))
        node.last_seen = 10.0
    assert roster.claim(a, "pump") == "" and roster.claim(a, "valve") == ""
    assert roster.claim(b, "valve") == "taken"  # a live node serves it: b's claim waits
    assert roster.silent(10.7) == []  # 3.5 x 0.2 s
    b.last_seen = 10.5
    assert roster.silent(10.71) == [a]
    given = roster.dead(a)
    assert given == [("valve", b)]  # the claim that waited gets the name
    assert roster.targets == {"valve": b"b"} and roster.silent(10.71) == []
    assert roster.claim(b, "pump") == ""  # free meanwhile
    roster.back(a)
    assert a.alive and roster.targets == {"pump": b"b", "valve": b"b"}
    assert roster.period(1.0) == 0.2
    # a's claims wait now; withdrawing a name it does not serve changes nothing
    assert roster.withdraw(a, "pump") is None and roster.targets["pump"] == b"b"
    assert roster.withdraw(b, "valve") is a  # b withdraws it: a (waiting) gets it
    assert roster.targets == {"pump": b"b", "valve": b"a"}


def test_a_replay_holds_every_tag_published_and_leaves_out_what_is_not_a_sample():
    sent = []
    transport = SimpleNamespace(
        node_id="n1",
        bus=None,
        send_front=sent.append,
        deliver_own=lambda t, p: sent.append(("local", t, p)),
    )
    publisher = Publisher(transport, fast_path=False)
    publisher.send("tag/a", [["a/x", 1.0, 0, 1.0], ["a/mode", "auto", 0, 1.0]])
    publisher.send("tag/a", [["a/x", 2.0, 0, 2.0]])
    publisher.send("tag/a", [["a/bad", [1], 0, 2.0], "zz"])  # a list is no sample value
    with pytest.raises(TypeError):  # not MessagePack-able: refused, nothing kept
        publisher.send("tag/a", [["a/x", object, 0, 3.0]])
    publisher.send("tag/b", "not a batch")
    publisher.send("tag/b", [["b/y", {}, 0, 1.0]])
    publisher.send("cmd/a/x", {"id": "c"})  # not a tag/ topic: nothing kept
    sent.clear()

    publisher.replay(local=True)
    local = [(t, p) for kind, t, p in (s for s in sent if s[0] == "local")]
    assert local == [("tag/a", [["a/x", 2.0, 0, 2.0], ["a/mode", "auto", 0, 1.0]])]
    wire = [s for s in sent if s[0] != "local"]
    assert [(f[0], msgpack.unpackb(f[1])[3], msgpack.unpackb(f[2])) for f in wire] == [
        (b"tag/a", 4, [["a/x", 2.0, 0, 2.0], ["a/mode", "auto", 0, 1.0]])
    ]

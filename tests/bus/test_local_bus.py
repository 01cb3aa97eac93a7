"""The in-memory bus: pub/sub order, async callbacks, RPC, errors never propagate."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hmi.bus import Bus, RemoteError, RpcTimeout, VirtualClock, bind_store, expose
from hmi.bus.wire.samples import encode_samples
from hmi.core import Quality, Reason, Sample, TagStore


def run(coro):
    return asyncio.run(coro)


def test_publish_reaches_matching_subscribers_only():
    bus = Bus.local()
    got = []
    bus.subscribe("tag/line1/#", lambda t, p: got.append((t, p)))
    bus.publish("tag/line1/pump", 1)
    bus.publish("tag/line10/pump", 2)
    bus.publish("tag/line1", 3)
    assert got == [("tag/line1/pump", 1), ("tag/line1", 3)]


def test_payload_objects_are_passed_as_they_are():
    bus = Bus.local()
    got = []
    bus.subscribe("x/y", lambda t, p: got.append(p))
    payload = object()
    bus.publish("x/y", payload)
    assert got[0] is payload


def test_cancel_stops_delivery():
    bus = Bus.local()
    got = []
    sub = bus.subscribe("a/#", lambda t, p: got.append(p))
    bus.publish("a/b", 1)
    sub.cancel()
    sub.cancel()
    bus.publish("a/b", 2)
    assert got == [1]


def test_a_callback_that_publishes_does_not_reorder_messages():
    bus = Bus.local()
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def a(topic, payload):
        seen["a"].append(topic)
        if topic == "m/1":
            bus.publish("m/2")

    bus.subscribe("m/#", a)
    bus.subscribe("m/#", lambda t, p: seen["b"].append(t))
    bus.publish("m/1")
    # b must see the cause (m/1) before the effect (m/2)
    assert seen == {"a": ["m/1", "m/2"], "b": ["m/1", "m/2"]}


def test_a_failing_callback_is_logged_and_others_still_run(caplog):
    bus = Bus.local()
    got = []

    def boom(topic, payload):
        raise RuntimeError("kaputt")

    bus.subscribe("a/#", boom)
    bus.subscribe("a/#", lambda t, p: got.append(p))
    with caplog.at_level(logging.ERROR):
        bus.publish("a/b", 1)
    assert got == [1]
    assert bus.stats.callback_errors == 1
    assert "a/b" in caplog.text
    assert "kaputt" in caplog.text


def test_async_callbacks_run_as_owned_tasks():
    async def main():
        bus = Bus.local()
        got = []

        async def slow(topic, payload):
            await asyncio.sleep(0)
            got.append(payload)

        bus.subscribe("a/b", slow)
        bus.publish("a/b", 1)
        await bus.drain()
        await bus.close()
        return got

    assert run(main()) == [1]


def test_closed_bus_refuses_publish():
    async def main():
        bus = Bus.local()
        await bus.close()
        with pytest.raises(RuntimeError):
            bus.publish("a/b", 1)

    run(main())


class Calculator:
    def __init__(self):
        self.hidden_called = False

    @expose
    def add(self, a, b):
        return a + b

    @expose
    async def slow(self, delay):
        await asyncio.sleep(delay)
        return "done"

    @expose
    def fail(self):
        raise KeyError("no such pump")

    def hidden(self):
        self.hidden_called = True


def test_rpc_local_calls_results_and_errors():
    async def main():
        bus = Bus.local()
        calc = Calculator()
        bus.expose("calc", calc)
        assert await bus.call("calc", "add", 2, b=3) == 5
        assert await bus.call("calc", "slow", 0) == "done"
        with pytest.raises(RemoteError) as err:
            await bus.call("calc", "fail")
        assert err.value.remote_type == "KeyError"
        assert "no such pump" in err.value.remote_message
        with pytest.raises(RemoteError) as err:
            await bus.call("calc", "hidden")
        assert err.value.remote_type == "AttributeError"
        assert not calc.hidden_called
        with pytest.raises(RemoteError) as err:
            await bus.call("nobody", "add", 1, 2)
        assert err.value.remote_type == "LookupError"
        # many calls in flight at once
        results = await asyncio.gather(*(bus.call("calc", "add", i, i) for i in range(100)))
        assert results == [2 * i for i in range(100)]
        await bus.close()

    run(main())


def test_rpc_timeout_follows_the_bus_clock():
    async def main():
        clock = VirtualClock()
        bus = Bus.local(clock=clock)

        class Never:
            @expose
            async def wait(self):
                await asyncio.Event().wait()

        bus.expose("never", Never())
        call = asyncio.create_task(bus.call("never", "wait", timeout=2.0))
        await clock.run_for(1.9)
        assert not call.done()
        await clock.run_for(0.2)
        with pytest.raises(RpcTimeout):
            await call
        await bus.close()

    run(main())


def test_bind_store_applies_each_batch_once():
    async def main():
        clock = VirtualClock(start=500.0)
        bus = Bus.local(clock=clock)
        store = TagStore()
        batches = []
        store.observe(batches.append)
        sub = bind_store(bus, store, "tag/line1/#")
        bus.publish(
            "tag/line1/plc",
            encode_samples({"line1/p/flow": Sample(1.0), "line1/p/run": Sample(True)}),
        )
        bus.publish("tag/line10/plc", encode_samples({"line10/p/flow": Sample(9.0)}))
        bus.publish("tag/line1/plc", "garbage")
        assert len(batches) == 1
        assert store.get("line1/p/flow").value == 1.0
        assert store.get("line1/p/flow").receive_time == 500.0
        assert "line10/p/flow" not in store
        assert bus.stats.malformed == 1
        sub.cancel()
        bad = Quality.bad(Reason.NO_COMMUNICATION)
        bus.publish("tag/line1/plc", encode_samples({"line1/p/flow": Sample(2.0, bad)}))
        assert store.get("line1/p/flow").value == 1.0

    run(main())

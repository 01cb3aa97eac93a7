"""Actors and their supervisor: aktos-style messages, readiness, clean stop, crash isolation."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hmi.bus import Actor, Bus, RemoteError, Supervisor, VirtualClock, expose


class Pinger(Actor):
    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds
        self.pongs: list[int] = []
        self.done = asyncio.Event()

    async def setup(self):
        self.send_PingMessage(n=0)

    def handle_PongMessage(self, msg):
        self.pongs.append(msg["n"])
        if msg["n"] + 1 < self.rounds:
            self.send_PingMessage(n=msg["n"] + 1)
        else:
            self.done.set()


class Ponger(Actor):
    name = "ponger"

    def __init__(self):
        super().__init__()
        self.pings: list[int] = []

    async def handle_PingMessage(self, msg):  # async handlers work too
        self.pings.append(msg["n"])
        self.send_PongMessage(n=msg["n"])

    @expose
    def count(self):
        return len(self.pings)

    @expose
    def fail(self):
        raise ValueError("bad pump")


def test_ping_pong_and_rpc_by_actor_name():
    async def main():
        bus = Bus.local()
        async with Supervisor(bus) as sup:
            ponger = await sup.start(Ponger())
            pinger = await sup.start(Pinger(rounds=5))
            await asyncio.wait_for(pinger.done.wait(), 5)
            assert pinger.pongs == [0, 1, 2, 3, 4]
            assert ponger.pings == [0, 1, 2, 3, 4]
            assert await bus.call("ponger", "count") == 5
            with pytest.raises(RemoteError, match="ValueError: bad pump"):
                await bus.call("ponger", "fail")
            assert set(sup.actors) == {"ponger", "Pinger"}
        assert sup.actors == {}
        assert "ponger" not in bus.targets
        await bus.close()

    asyncio.run(main())


class Echo(Actor):
    """Sends and handles the same message name: must not hear itself."""

    def __init__(self):
        super().__init__("echo")
        self.heard: list[dict] = []

    def handle_Note(self, msg):
        self.heard.append(msg)


def test_an_actor_does_not_receive_its_own_messages():
    async def main():
        bus = Bus.local()
        sup = Supervisor(bus)
        echo = await sup.start(Echo())
        echo.send_Note(text="mine")
        bus.publish("msg/Note", {"text": "theirs"})
        await sup.stop()
        return echo.heard

    assert asyncio.run(main()) == [{"text": "theirs"}]


class Fragile(Actor):
    def __init__(self):
        super().__init__("fragile")
        self.ok = 0

    async def setup(self):
        self.subscribe("tag/#", self.on_tag)

    def on_tag(self, topic, payload):
        if payload == "boom":
            raise RuntimeError("handler exploded")
        self.ok += 1


def test_handler_exception_is_logged_with_actor_and_topic(caplog):
    async def main():
        bus = Bus.local()
        sup = Supervisor(bus)
        actor = await sup.start(Fragile())
        with caplog.at_level(logging.ERROR):
            bus.publish("tag/a/b", "boom")
        bus.publish("tag/a/b", "fine")
        assert actor.ok == 1
        assert "fragile" in sup.actors
        await sup.stop()

    asyncio.run(main())
    assert "actor fragile" in caplog.text
    assert "tag/a/b" in caplog.text


class BadSetup(Actor):
    async def setup(self):
        raise OSError("port in use")


def test_start_raises_what_setup_raised():
    async def main():
        sup = Supervisor(Bus.local())
        with pytest.raises(OSError, match="port in use"):
            await sup.start(BadSetup())
        await sup.stop()

    asyncio.run(main())


class Ticker(Actor):
    """A main loop on the bus clock; teardown runs at stop."""

    def __init__(self):
        super().__init__("ticker")
        self.ticks = 0
        self.torn_down = False

    async def run(self):
        while True:
            await self.clock.sleep(1.0)
            self.ticks += 1
            self.publish("tick/ticker", self.ticks)

    async def teardown(self):
        self.torn_down = True


def test_main_loop_on_virtual_clock_and_clean_stop():
    async def main():
        clock = VirtualClock()
        bus = Bus.local(clock=clock)
        seen = []
        bus.subscribe("tick/#", lambda t, p: seen.append(p))
        sup = Supervisor(bus)
        ticker = await sup.start(Ticker())
        await clock.run_for(10.5)
        await sup.stop()
        await bus.close()
        return ticker, seen

    ticker, seen = asyncio.run(main())
    assert ticker.ticks == 10
    assert seen == list(range(1, 11))
    assert ticker.torn_down


class Crasher(Actor):
    async def run(self):
        raise RuntimeError("main loop died")


def test_a_crashing_actor_is_recorded_and_others_live(caplog):
    async def main():
        bus = Bus.local()
        sup = Supervisor(bus)
        await sup.start(Crasher("crasher"))
        echo = await sup.start(Echo())
        await asyncio.sleep(0.01)
        bus.publish("msg/Note", {"x": 1})
        assert echo.heard == [{"x": 1}]
        assert "crasher" in sup.failed
        assert "crasher" not in sup.actors
        await sup.stop()

    with caplog.at_level(logging.ERROR):
        asyncio.run(main())
    assert "crasher crashed" in caplog.text


def test_unknown_attribute_still_raises():
    with pytest.raises(AttributeError):
        Echo().nothing  # noqa: B018

"""Clocks: the virtual clock fires timers in order and wakes sleepers deterministically."""

from __future__ import annotations

import asyncio

import pytest

from hmi.bus.local.clock import RealClock, ScaledClock, VirtualClock


def test_virtual_clock_fires_due_timers_in_order():
    clock = VirtualClock(start=1000.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(2.0, lambda: fired.append(("b", clock.time())))
    clock.call_later(1.0, lambda: fired.append(("a", clock.time())))
    cancelled = clock.call_later(1.5, lambda: fired.append(("x", clock.time())))
    cancelled.cancel()
    clock.call_later(2.0, lambda: fired.append(("c", clock.time())))
    clock.advance(1.0)
    assert fired == [("a", 1001.0)]
    clock.advance(5.0)
    assert fired == [("a", 1001.0), ("b", 1002.0), ("c", 1002.0)]
    assert clock.time() == 1006.0
    assert clock.monotonic() == 6.0
    assert clock.pending == 0


def test_virtual_clock_wakes_sleeping_tasks():
    async def main():
        clock = VirtualClock()
        log = []

        async def sleeper(name, delay):
            await clock.sleep(delay)
            log.append((name, clock.monotonic()))

        tasks = [asyncio.create_task(sleeper(n, d)) for n, d in (("slow", 10), ("fast", 1))]
        await clock.run_for(0.5)
        assert log == []
        await clock.run_for(3600)
        await asyncio.gather(*tasks)
        return log

    assert asyncio.run(main()) == [("fast", 1.0), ("slow", 10.0)]


def test_scaled_clock_runs_faster_than_real_time():
    async def main():
        clock = ScaledClock(100.0)
        start = clock.monotonic()
        await clock.sleep(2.0)  # 20 ms real
        return clock.monotonic() - start

    elapsed = asyncio.run(main())
    assert 1.9 <= elapsed < 60


def test_scaled_clock_refuses_zero_speed():
    with pytest.raises(ValueError):
        ScaledClock(0)


def test_real_clock_call_later():
    async def main():
        done = asyncio.Event()
        RealClock().call_later(0.001, done.set)
        await asyncio.wait_for(done.wait(), 5)

    asyncio.run(main())

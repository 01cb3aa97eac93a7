"""Bus speed against raw pyzmq, measured in the same run (ratios, not absolute times).

1. Pub/sub through a broker, one sample per message, subscriber on a qasync loop:
   raw (PUB -> zmq.proxy XSUB/XPUB -> SUB, draining, msgpack decode) vs ours (Bus.publish
   -> ``hmi broker`` -> subscriber actor).
2. Batches of 100 samples into a TagStore: raw (same pipeline, hand-written decode into
   Samples) vs ours (``bind_store``).
3. RPC between two processes through the broker: sequential latency and 100 in flight.

Prints one JSON line last with raw_msgs_per_s, hmi_msgs_per_s, ratio,
raw_batched_updates_per_s, hmi_batched_updates_per_s, batched_ratio, rpc_seq_calls_per_s,
rpc_p50_us, rpc_p99_us, rpc_concurrent_calls_per_s, and the CPU seconds the broker
process used in each pub/sub run (broker_cpu_s_single, broker_cpu_s_batched: start-up,
then 200,000 messages or 20,000 batches forwarded with cache and statistics kept). Roles
other than the main one are the child processes (``--role``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import msgpack
import zmq

N_SINGLE = 200_000
N_BATCHED = 20_000
BATCH = 100
N_RPC_SEQ = 3_000
N_RPC_CONC = 20_000
IN_FLIGHT = 100
HWM = 2_000_000


def free_pair() -> int:
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        with socket.socket() as b:
            try:
                b.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def child(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HMI_STATE_DIR": os.environ.get("HMI_STATE_DIR", "/tmp/hmi-bench")}
    return subprocess.Popen([sys.executable, __file__, "--role", *args], env=env)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sample_entries(i: int, n: int) -> list[list[Any]]:
    t = time.time()
    return [[f"line1/dev{j // 10}/p{j}", float(i + j), 0, t] for j in range(n)]


# -- child roles ---------------------------------------------------------------------------
def role_proxy(port: int) -> None:
    ctx = zmq.Context()
    xsub, xpub = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    for s in (xsub, xpub):
        s.sndhwm = s.rcvhwm = HWM
    xsub.bind(f"tcp://127.0.0.1:{port}")
    xpub.bind(f"tcp://127.0.0.1:{port + 1}")
    zmq.proxy(xsub, xpub)


def role_raw_pub(port: int, n: int, batch: int) -> None:
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = HWM
    pub.connect(f"tcp://127.0.0.1:{port}")
    time.sleep(1.0)  # subscriptions propagate (raw PUB drops before that)
    payloads = [msgpack.packb(sample_entries(i, batch)) for i in range(16)]
    topic = b"tag/line1/plc"
    send = pub.send_multipart
    t0 = time.perf_counter()
    for i in range(n):
        send([topic, payloads[i & 15]])
    if os.environ.get("BENCH_DEBUG"):
        print(f"raw pub: {n / (time.perf_counter() - t0):,.0f}/s", file=sys.stderr)
    time.sleep(3)
    pub.close(linger=2000)
    ctx.term()


def role_hmi_pub(address: str, n: int, batch: int) -> None:
    from hmi.bus import Bus

    async def main() -> None:
        bus = await Bus.connect(address, name="bench-pub", hwm=HWM)
        await asyncio.sleep(1.0)
        payloads = [sample_entries(i, batch) for i in range(16)]
        publish = bus.publish
        t0 = time.perf_counter()
        for i in range(n):
            publish("tag/line1/plc", payloads[i & 15])
            if i % 5000 == 0:
                await asyncio.sleep(0)  # let heartbeats out
        if os.environ.get("BENCH_DEBUG"):
            print(f"hmi pub: {n / (time.perf_counter() - t0):,.0f}/s", file=sys.stderr)
        await asyncio.sleep(3)
        await bus.close()

    asyncio.run(main())


def role_broker(address: str) -> None:
    from hmi.bus.broker import BROKER_NICE, Broker

    async def main() -> None:
        # as `hmi broker` runs it (a process of its own: nice=BROKER_NICE)
        await Broker(address, write_state_file=False, hwm=HWM, nice=BROKER_NICE).serve()

    asyncio.run(main())


def role_rpc_server(address: str) -> None:
    from hmi.bus import Actor, Bus, Supervisor, expose

    class Echo(Actor):
        name = "echo"

        @expose
        def echo(self, value: Any) -> Any:
            return value

    async def main() -> None:
        bus = await Bus.connect(address, name="bench-rpc")
        sup = Supervisor(bus)
        await sup.start(Echo())
        await asyncio.Event().wait()

    asyncio.run(main())


# -- measurements in the main process ---------------------------------------------------------
def qasync_run(coro: Any) -> Any:
    from PySide6.QtCore import QCoreApplication
    from qasync import QEventLoop

    app = QCoreApplication.instance() or QCoreApplication([])
    loop = QEventLoop(app)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


async def raw_subscriber(port: int, n: int, batched: bool) -> float:
    """Receive n messages (or until quiet); returns units (messages or samples) per second."""
    import zmq.asyncio

    from hmi.core import Sample, TagStore
    from hmi.core.quality import GOOD

    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.rcvhwm = HWM
    sub.connect(f"tcp://127.0.0.1:{port + 1}")
    sub.subscribe(b"tag/")
    sync = zmq.Socket.shadow(sub.underlying)
    store = TagStore()
    got = units = 0
    first = last = 0.0
    unpack = msgpack.unpackb
    while got < n:
        try:
            await asyncio.wait_for(sub.poll(), 5 if got else 20)
        except TimeoutError:
            break
        while True:
            try:
                _, payload = sync.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            entries = unpack(payload)
            if batched:
                now = time.time()
                store.apply({e[0]: Sample(e[1], GOOD, e[3], now) for e in entries})
                units += len(entries)
            else:
                units += 1
            got += 1
            if got == 1:
                first = time.perf_counter()
        last = time.perf_counter()
    sub.close()
    ctx.term()
    return units / (last - first) if last > first else 0.0


async def hmi_subscriber(address: str, n: int, batched: bool) -> float:
    from hmi.bus import Actor, Bus, Supervisor, bind_store
    from hmi.core import TagStore

    bus = await Bus.connect(address, name="bench-sub", hwm=HWM)
    state = {"got": 0, "first": 0.0, "last": 0.0}
    done = asyncio.Event()
    store = TagStore()

    class Counter(Actor):
        async def setup(self) -> None:
            self.subscribe("tag/#", self.on_tag)

        def on_tag(self, topic: str, payload: Any) -> None:
            state["got"] += 1
            if state["got"] == 1:
                state["first"] = time.perf_counter()
            state["last"] = time.perf_counter()
            if state["got"] >= n:
                done.set()

    sup = Supervisor(bus)
    await sup.start(Counter())
    if batched:
        bind_store(bus, store, "tag/#")
    try:
        while not done.is_set():
            before = state["got"]
            try:
                await asyncio.wait_for(done.wait(), 5 if before else 20)
            except TimeoutError:
                if state["got"] == before:
                    break
    finally:
        await sup.stop()
        await bus.close()
    if os.environ.get("BENCH_DEBUG"):
        print(f"hmi sub got {state['got']} of {n}", file=sys.stderr)
    span = state["last"] - state["first"]
    units = state["got"] * (BATCH if batched else 1)
    return units / span if span > 0 else 0.0


#: CPU seconds the broker process used in each hmi run (its Python thread and the proxy's)
BROKER_CPU: dict[str, float] = {}


def cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def pubsub(kind: str, batched: bool) -> float:
    port = free_pair()
    n, batch = (N_BATCHED, BATCH) if batched else (N_SINGLE, 1)
    if kind == "raw":
        mid = child("proxy", str(port))
        pub = child("raw-pub", str(port), str(n), str(batch))
        sub_coro = raw_subscriber(port, n, batched)
    else:
        address = f"tcp://127.0.0.1:{port}"
        mid = child("broker", address)
        time.sleep(0.5)
        pub = child("hmi-pub", address, str(n), str(batch))
        sub_coro = hmi_subscriber(address, n, batched)
    try:
        rate = float(qasync_run(sub_coro))
        if kind == "hmi":
            BROKER_CPU["batched" if batched else "single"] = cpu_seconds(mid.pid)
        return rate
    finally:
        stop(pub)
        stop(mid)


async def rpc_client(address: str) -> dict[str, float]:
    from hmi.bus import Bus

    bus = await Bus.connect(address, name="bench-client")
    for _ in range(200):
        try:
            await bus.call("echo", "echo", 1, timeout=1.0)
            break
        except Exception:
            await asyncio.sleep(0.05)
    lat = []
    t0 = time.perf_counter()
    for i in range(N_RPC_SEQ):
        s = time.perf_counter()
        await bus.call("echo", "echo", i)
        lat.append((time.perf_counter() - s) * 1e6)
    seq_rate = N_RPC_SEQ / (time.perf_counter() - t0)
    per_worker = N_RPC_CONC // IN_FLIGHT

    async def worker() -> None:
        for i in range(per_worker):
            await bus.call("echo", "echo", i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    conc_rate = per_worker * IN_FLIGHT / (time.perf_counter() - t0)
    await bus.close()
    lat.sort()
    return {
        "rpc_seq_calls_per_s": round(seq_rate),
        "rpc_p50_us": round(statistics.median(lat), 1),
        "rpc_p99_us": round(lat[int(len(lat) * 0.99)], 1),
        "rpc_concurrent_calls_per_s": round(conc_rate),
    }


def rpc() -> dict[str, float]:
    address = f"tcp://127.0.0.1:{free_pair()}"
    broker = child("broker", address)
    server = child("rpc-server", address)
    try:
        return asyncio.run(rpc_client(address))
    finally:
        stop(server)
        stop(broker)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role")
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    roles = {
        "proxy": lambda a: role_proxy(int(a[0])),
        "raw-pub": lambda a: role_raw_pub(int(a[0]), int(a[1]), int(a[2])),
        "hmi-pub": lambda a: role_hmi_pub(a[0], int(a[1]), int(a[2])),
        "broker": lambda a: role_broker(a[0]),
        "rpc-server": lambda a: role_rpc_server(a[0]),
    }
    if ns.role:
        roles[ns.role](ns.args)
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result: dict[str, Any] = {}
    raw = pubsub("raw", batched=False)
    ours = pubsub("hmi", batched=False)
    print(f"single: raw {raw:,.0f} msgs/s, hmi {ours:,.0f} msgs/s", flush=True)
    raw_b = pubsub("raw", batched=True)
    ours_b = pubsub("hmi", batched=True)
    print(f"batched: raw {raw_b:,.0f} updates/s, hmi {ours_b:,.0f} updates/s", flush=True)
    result.update(
        raw_msgs_per_s=round(raw),
        hmi_msgs_per_s=round(ours),
        ratio=round(ours / raw, 3) if raw else 0.0,
        raw_batched_updates_per_s=round(raw_b),
        hmi_batched_updates_per_s=round(ours_b),
        batched_ratio=round(ours_b / raw_b, 3) if raw_b else 0.0,
        broker_cpu_s_single=round(BROKER_CPU.get("single", 0.0), 2),
        broker_cpu_s_batched=round(BROKER_CPU.get("batched", 0.0), 2),
    )
    result.update(rpc())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

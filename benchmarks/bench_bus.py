"""Bus speed against raw pyzmq, measured in the same run (ratios, not absolute times).

1. Pub/sub through a broker, one sample per message, subscriber on a qasync loop:
   raw (PUB -> zmq.proxy XSUB/XPUB -> SUB, draining, msgpack decode) vs ours (Bus.publish
   -> ``hmi broker`` -> subscriber actor).
2. Batches of 100 samples into a TagStore: raw (same pipeline, hand-written decode into
   Samples) vs ours (``bind_store``).
3. RPC between two processes through the broker: sequential latency and 100 in flight.
4. The checked path (docs/security.md): a broker with CURVE and a client policy (keys
   made in a temporary folder, a policy admitting the bench's nodes), so that every
   publication passes the broker's doors on its front: pub/sub as in 1, against 1's
   figure measured just before it, in CHECKED_ROUNDS rounds (medians of the figures and
   of the rounds' ratios: ``checked_ratio``, target >= 0.5); and RPC through it to a
   method declared ``@expose(permission=...)`` on a node whose bus has an authorizer
   (the composition root's, ``hmi.app.plant.rpc_authorizer``, with the JWT verified by
   ``hmi.core.identity.verify_token`` in the server, as on the backend's node: the
   token, the node it was issued for, the grants; accepted verdicts kept 0.5 s): the
   issue's "rpc_p50_us with authorization on" is ``checked_rpc_p50_us`` (target
   <= 250 us: one session calling again and again), ``checked_rpc_uncached_p50_us`` the
   same with a new session at every call (each verified: no verdict kept);
   ``checked_rpc_plain_p50_us`` is a plain method on the same path, so the cost of the
   check shows in the same run (each the median of CHECKED_ROUNDS rounds).
   ``rpc_p50_us`` stays the default path's (direct routes, no CURVE; on Linux the
   target's Unix stream endpoint), comparable with earlier runs.
5. RPC against aiomas 2.0.1 (its msgpack codec, TCP on loopback; issue 17): the default
   path's sequential p50 and calls/s with 100 in flight beside aiomas', in
   :data:`ROUNDS` interleaved rounds (medians, of the ratios too, each taken in its
   round): ``rpc_p50_vs_aiomas`` (target <= 1.0) and ``rpc_concurrent_vs_aiomas``
   (target >= 1.2); both sides make N_WARM calls first. aiomas is a benchmark-only dependency
   (``pip install -e '.[bench]'``); without it these figures are null.
6. Broker CPU per million published updates (100-sample batches, 3 subscribers), against
   a raw ``zmq.proxy`` XSUB/XPUB hub in the same run: the same publisher (a raw PUB
   sending the same three frames, into the hub's XSUB or ``hmi broker``'s fast path) and
   the same three SUB sockets; the hub's process CPU from the first message the
   subscribers get to the last, in :data:`ROUNDS` interleaved rounds (medians):
   ``hub_cpu_s_per_m_updates``, ``raw_hub_cpu_s_per_m_updates``, ``hub_cpu_ratio``
   (target <= 1.3).

Prints one JSON line last with raw_msgs_per_s, hmi_msgs_per_s, ratio,
raw_batched_updates_per_s, hmi_batched_updates_per_s, batched_ratio, checked_msgs_per_s,
checked_ratio, rpc_seq_calls_per_s, rpc_p50_us, rpc_p99_us, rpc_concurrent_calls_per_s,
checked_rpc_p50_us, checked_rpc_p99_us, checked_rpc_uncached_p50_us,
checked_rpc_plain_p50_us, aiomas_rpc_p50_us, aiomas_concurrent_calls_per_s,
rpc_p50_vs_aiomas, rpc_concurrent_vs_aiomas, hub_cpu_s_per_m_updates,
raw_hub_cpu_s_per_m_updates, hub_cpu_ratio, and the CPU seconds
the broker process used in each pub/sub run (broker_cpu_s_single, broker_cpu_s_batched,
broker_cpu_s_checked: start-up, then 200,000 messages or 20,000 batches forwarded with
cache and statistics kept). Roles other than the main one are the child processes
(``--role``).
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
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq

from hmi.bus import connect

N_SINGLE = 200_000
N_BATCHED = 20_000
BATCH = 100
N_RPC_SEQ = 3_000
N_RPC_CONC = 40_000
IN_FLIGHT = 100
#: calls made before any is timed (each path, ours and aiomas alike)
N_WARM = 1_000
HWM = 2_000_000
#: interleaved rounds of the comparisons with aiomas and with the raw hub (medians)
ROUNDS = 5
#: rounds of the checked path beside the default one (medians)
CHECKED_ROUNDS = 3
#: 100-sample batches through the hub per round (6 M updates: 0.5-0.6 s of CPU on each
#: side; with 2 M a round's ratio moved 0.9-1.43 on a quiet machine), and its subscribers
N_HUB = 60_000
HUB_SUBSCRIBERS = 3


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


# -- the checked path: keys, policy, session token -----------------------------------------
#: the bench's nodes and what the broker's policy lets each do
POLICY = """\
clients:
  - {name: bench-pub, key_file: keys/bench-pub.key, publish: ["tag/"]}
  - {name: bench-sub, key_file: keys/bench-sub.key}
  - {name: bench-rpc, key_file: keys/bench-rpc.key, serve: ["echo"]}
  - {name: bench-client, key_file: keys/bench-client.key, publish: ["rpc/echo"]}
"""
#: the caller's node id (its session token names it: the authorizer checks it)
CLIENT_ID = "bench-client"


def make_plant(folder: Path) -> None:
    """CURVE keys of the broker and each node, the policy, the key sessions are signed with."""
    from hmi.bus.net.keys import create_keys

    for name in ("broker", "bench-pub", "bench-sub", "bench-rpc", "bench-client"):
        create_keys(folder / "keys", name)
    (folder / "clients.yaml").write_text(POLICY)
    (folder / "plant.key").write_bytes(os.urandom(32))


def client_keys(folder: str, name: str) -> Any:
    """What node ``name`` needs to reach the checked broker (None: no folder, no CURVE)."""
    from hmi.bus.net.keys import ClientKeys, KeyPair, public_key_of

    if not folder:
        return None
    keys = Path(folder) / "keys"
    pair = KeyPair.load(keys / f"{name}.key_secret")
    return ClientKeys(pair, public_key_of(str(keys / "broker.key")))


def session_token(folder: str, session: str = "session-1") -> str:
    """An engineer's session on the client's node, as the security service issues one."""
    from hmi.core.identity import Identity, issue_token

    now = time.time()
    who = Identity("bench", frozenset({"engineer"}), CLIENT_ID, now + 3600, session)
    return issue_token(who, (Path(folder) / "plant.key").read_bytes(), issued_at=now)


def local_authorizer(folder: str) -> Any:
    """The bus's check of methods with a permission, as the composition root makes it
    (``hmi.app.plant.rpc_authorizer``: its verdicts kept 0.5 s), with the token verified
    here by ``hmi.core.identity.verify_token`` rather than by the security service's RPC
    (which the backend's own node does in-process too)."""
    from hmi.app.plant import rpc_authorizer
    from hmi.core.identity import Identity, verify_token
    from hmi.core.permissions import Grants

    key = (Path(folder) / "plant.key").read_bytes()

    async def verify(token: str) -> Identity:
        return verify_token(token, key, time.time())

    def refused(*_: Any) -> None:
        pass

    return rpc_authorizer(Grants(), verify, refused)


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


def role_raw_pub(port: int, n: int, batch: int, endpoint: str = "") -> None:
    """Two frames per message to the raw proxy; with ``endpoint`` (the hub figure), the
    bus's three (``[topic][header][payload]``, a sequence number each) to it."""
    from hmi.bus.wire.frames import Kind, pack_header

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = HWM
    pub.connect(endpoint or f"tcp://127.0.0.1:{port}")
    time.sleep(1.0)  # subscriptions propagate (raw PUB drops before that)
    payloads = [msgpack.packb(sample_entries(i, batch)) for i in range(16)]
    topic = b"tag/line1/plc"
    send = pub.send_multipart
    if endpoint:
        now = time.time()
        headers = [pack_header(Kind.PUB, "bench-hub-pub", i + 1, now) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(n):
        if endpoint:
            send([topic, headers[i], payloads[i & 15]])
        else:
            send([topic, payloads[i & 15]])
    if os.environ.get("BENCH_DEBUG"):
        print(f"raw pub: {n / (time.perf_counter() - t0):,.0f}/s", file=sys.stderr)
    time.sleep(3)
    pub.close(linger=2000)
    ctx.term()


def role_hmi_pub(address: str, n: int, batch: int, folder: str = "") -> None:

    async def main() -> None:
        keys = client_keys(folder, "bench-pub")
        bus = await connect(address, name="bench-pub", hwm=HWM, keys=keys)
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


def role_broker(address: str, folder: str = "") -> None:
    from hmi.bus.broker import BROKER_NICE, Broker
    from hmi.bus.net.auth import Policy
    from hmi.bus.net.keys import KeyPair

    async def main() -> None:
        # as `hmi broker` runs it (a process of its own: nice=BROKER_NICE); with a folder,
        # as `hmi broker --secret-key ... --clients ...` (CURVE and a policy: checked path)
        secret = KeyPair.load(Path(folder) / "keys" / "broker.key_secret") if folder else None
        policy = Policy.load(Path(folder) / "clients.yaml") if folder else None
        broker = Broker(
            address, write_state_file=False, hwm=HWM, nice=BROKER_NICE, secret=secret, policy=policy
        )
        await broker.serve()

    asyncio.run(main())


def role_rpc_server(address: str, folder: str = "") -> None:
    from hmi.bus import Actor, Supervisor, expose
    from hmi.core.permissions import Permission

    class Echo(Actor):
        name = "echo"

        @expose
        def echo(self, value: Any) -> Any:
            return value

        @expose(permission=Permission.EDIT_DEVICES)
        def checked_echo(self, value: Any) -> Any:
            return value

    async def main() -> None:
        bus = await connect(address, name="bench-rpc", keys=client_keys(folder, "bench-rpc"))
        if folder:
            bus.authorizer = local_authorizer(folder)
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


async def hmi_subscriber(address: str, n: int, batched: bool, folder: str = "") -> float:
    from hmi.bus import Actor, Supervisor, bind_store
    from hmi.core import TagStore

    keys = client_keys(folder, "bench-sub")
    bus = await connect(address, name="bench-sub", hwm=HWM, keys=keys)
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
    """CPU seconds of every thread of ``pid`` so far: nanoseconds on the CPU from each
    thread's ``/proc/.../schedstat`` on Linux (user and system times tick at 10 ms, which
    is +-10% of the hub's 0.1-0.2 s per round); psutil's times elsewhere."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        return (
            sum(int((task / "schedstat").read_text().split()[0]) for task in tasks.iterdir()) / 1e9
        )
    except (OSError, ValueError, IndexError):
        import psutil

        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)


def pubsub(kind: str, batched: bool, folder: str = "") -> float:
    """``raw``, ``hmi`` (the default broker: fast path) or ``checked`` (``folder``: CURVE
    keys and the policy)."""
    port = free_pair()
    n, batch = (N_BATCHED, BATCH) if batched else (N_SINGLE, 1)
    if kind == "raw":
        mid = child("proxy", str(port))
        pub = child("raw-pub", str(port), str(n), str(batch))
        sub_coro = raw_subscriber(port, n, batched)
    else:
        address = f"tcp://127.0.0.1:{port}"
        extra = [folder] if kind == "checked" else []
        mid = child("broker", address, *extra)
        time.sleep(0.5)
        pub = child("hmi-pub", address, str(n), str(batch), *extra)
        sub_coro = hmi_subscriber(address, n, batched, *extra)
    try:
        rate = float(qasync_run(sub_coro))
        if kind != "raw":
            name = "checked" if kind == "checked" else "batched" if batched else "single"
            BROKER_CPU[name] = cpu_seconds(mid.pid)
        return rate
    finally:
        stop(pub)
        stop(mid)


async def sequential(bus: Any, method: str, **kwargs: Any) -> tuple[float, list[float]]:
    """N_RPC_SEQ calls one after the other: calls/s and the latencies (us), sorted."""
    lat = []
    t0 = time.perf_counter()
    for i in range(N_RPC_SEQ):
        s = time.perf_counter()
        await bus.call("echo", method, i, **kwargs)
        lat.append((time.perf_counter() - s) * 1e6)
    rate = N_RPC_SEQ / (time.perf_counter() - t0)
    lat.sort()
    return rate, lat


async def first_call(bus: Any, method: str, **kwargs: Any) -> None:
    """Until the server is there (it connects and exposes its target meanwhile), then
    N_WARM calls before any is timed (the processes just started: the first thousands of
    calls were slower, ~250-330 us against ~200 us after, on every path)."""
    for _ in range(200):
        try:
            await bus.call("echo", method, 1, timeout=1.0, **kwargs)
            break
        except Exception:
            await asyncio.sleep(0.05)
    for i in range(N_WARM):
        await bus.call("echo", method, i, **kwargs)


async def rpc_client(address: str) -> dict[str, float]:

    bus = await connect(address, name="bench-client")
    await first_call(bus, "echo")
    seq_rate, lat = await sequential(bus, "echo")
    per_worker = N_RPC_CONC // IN_FLIGHT

    async def worker() -> None:
        for i in range(per_worker):
            await bus.call("echo", "echo", i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    conc_rate = per_worker * IN_FLIGHT / (time.perf_counter() - t0)
    await bus.close()
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


async def checked_rpc_client(address: str, folder: str) -> dict[str, float]:
    """Calls through a broker with CURVE and a policy: a method with a permission (checked
    by the server's authorizer: a burst of one session's calls, as an operator's screen
    makes them, verified once per 0.5 s), the same with a new session at every call (each
    verified: the first call of a burst), then a plain method."""

    keys = client_keys(folder, "bench-client")
    bus = await connect(address, name="bench-client", keys=keys, node_id=CLIENT_ID)
    token = session_token(folder)
    await first_call(bus, "checked_echo", token=token)
    _, checked = await sequential(bus, "checked_echo", token=token)
    tokens = iter([session_token(folder, f"session-{i}") for i in range(N_RPC_SEQ)])
    uncached = []
    for i in range(N_RPC_SEQ):
        fresh = next(tokens)
        began = time.perf_counter()
        await bus.call("echo", "checked_echo", i, token=fresh)
        uncached.append((time.perf_counter() - began) * 1e6)
    _, plain = await sequential(bus, "echo")
    await bus.close()
    return {
        "checked_rpc_p50_us": round(statistics.median(checked), 1),
        "checked_rpc_p99_us": round(checked[int(len(checked) * 0.99)], 1),
        "checked_rpc_uncached_p50_us": round(statistics.median(uncached), 1),
        "checked_rpc_plain_p50_us": round(statistics.median(plain), 1),
    }


def checked_rpc(folder: str) -> dict[str, float]:
    address = f"tcp://127.0.0.1:{free_pair()}"
    broker = child("broker", address, folder)
    server = child("rpc-server", address, folder)
    try:
        return asyncio.run(checked_rpc_client(address, folder))
    finally:
        stop(server)
        stop(broker)


# -- RPC against aiomas (issue 17) ------------------------------------------------------------
def aiomas_codec() -> Any:
    """aiomas' msgpack codec, decoding as msgpack 1.x wants (aiomas 2.0.1 passes the
    ``encoding`` argument msgpack 1.0 removed; otherwise the same calls)."""
    import aiomas.codecs

    class MsgPack(aiomas.codecs.MsgPack):  # type: ignore[misc]
        def decode(self, data: bytes) -> Any:
            return msgpack.unpackb(
                data, object_hook=self.deserialize_obj, use_list=False, raw=False
            )

    return MsgPack


def role_aiomas_server(port: int) -> None:
    import aiomas

    class Echo:
        router = aiomas.rpc.Service()

        @aiomas.expose
        def echo(self, value: Any) -> Any:
            return value

    async def main() -> None:
        await aiomas.rpc.start_server(("127.0.0.1", port), Echo(), codec=aiomas_codec())
        await asyncio.Event().wait()

    asyncio.run(main())


async def aiomas_client(port: int) -> dict[str, float]:
    """As :func:`rpc_client`, on aiomas: the same calls, sequential and 100 in flight."""
    import aiomas

    for _ in range(200):
        try:
            con = await aiomas.rpc.open_connection(("127.0.0.1", port), codec=aiomas_codec())
            break
        except OSError:
            await asyncio.sleep(0.05)
    echo = con.remote.echo
    for i in range(N_WARM):
        await echo(i)
    lat = []
    for i in range(N_RPC_SEQ):
        began = time.perf_counter()
        await echo(i)
        lat.append((time.perf_counter() - began) * 1e6)
    per_worker = N_RPC_CONC // IN_FLIGHT

    async def worker() -> None:
        for i in range(per_worker):
            await echo(i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    conc_rate = per_worker * IN_FLIGHT / (time.perf_counter() - t0)
    await con.close()
    return {"p50": statistics.median(lat), "concurrent": conc_rate}


def aiomas_rpc() -> dict[str, float] | None:
    """aiomas' figures (None when it is not installed: ``pip install -e '.[bench]'``)."""
    try:
        import aiomas  # noqa: F401
    except ImportError:
        print("aiomas not installed (pip install -e '.[bench]'): no RPC baseline", flush=True)
        return None
    port = free_pair()
    server = child("aiomas-server", str(port))
    try:
        return asyncio.run(aiomas_client(port))
    finally:
        stop(server)


# -- broker CPU per million updates against a raw hub (issue 17) ------------------------------
def fast_endpoint_of(address: str) -> str:
    """The fast path endpoint ``hmi broker`` at ``address`` names in its welcome."""
    from hmi.bus.wire.frames import Kind, pack_header

    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.routing_id = b"bench-hub-hello"
    dealer.linger = 0
    dealer.connect(address)
    header = pack_header(Kind.HELLO, "bench-hub-hello", 0, time.time())
    dealer.send_multipart([b"$sys/broker", header, msgpack.packb({"name": "bench"})])
    try:
        if not dealer.poll(10_000):
            raise RuntimeError("no welcome from the broker")
        return str(msgpack.unpackb(dealer.recv_multipart()[2])["pub"])
    finally:
        dealer.close()
        ctx.term()


def hub_cpu(kind: str) -> float:
    """CPU seconds of the hub's process per million updates: ``raw`` (zmq.proxy) or
    ``hmi`` (``hmi broker``, fast path), N_HUB batches to HUB_SUBSCRIBERS subscribers."""
    port = free_pair()
    if kind == "raw":
        hub = child("proxy", str(port))
        endpoint = f"tcp://127.0.0.1:{port}"
    else:
        hub = child("broker", f"tcp://127.0.0.1:{port}")
        endpoint = fast_endpoint_of(f"tcp://127.0.0.1:{port}")
    ctx = zmq.Context()
    subs = []
    for _ in range(HUB_SUBSCRIBERS):
        sub = ctx.socket(zmq.SUB)
        sub.rcvhwm = HWM
        sub.linger = 0
        sub.connect(f"tcp://127.0.0.1:{port + 1}")
        sub.subscribe(b"tag/")
        subs.append(sub)
    pub = child("raw-pub", str(port), str(N_HUB), str(BATCH), endpoint)
    poller = zmq.Poller()
    for sub in subs:
        poller.register(sub, zmq.POLLIN)
    counts = [0] * HUB_SUBSCRIBERS
    start = 0.0
    try:
        while min(counts) < N_HUB:
            if not poller.poll(5_000 if start else 20_000):
                break
            for i, sub in enumerate(subs):
                while True:
                    try:
                        sub.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    counts[i] += 1
            if not start:
                start = cpu_seconds(hub.pid)
                first = min(counts)
        used = cpu_seconds(hub.pid) - start
        updates = (min(counts) - first) * BATCH
        if os.environ.get("BENCH_DEBUG"):
            print(f"hub {kind}: {counts} messages, {used:.3f} s", file=sys.stderr)
        return used / updates * 1e6 if updates > 0 else 0.0
    finally:
        for sub in subs:
            sub.close()
        ctx.term()
        stop(pub)
        stop(hub)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role")
    parser.add_argument("args", nargs="*")
    ns = parser.parse_args()
    roles = {
        "proxy": lambda a: role_proxy(int(a[0])),
        "raw-pub": lambda a: role_raw_pub(int(a[0]), int(a[1]), int(a[2]), *a[3:]),
        "aiomas-server": lambda a: role_aiomas_server(int(a[0])),
        "hmi-pub": lambda a: role_hmi_pub(a[0], int(a[1]), int(a[2]), *a[3:]),
        "broker": lambda a: role_broker(*a),
        "rpc-server": lambda a: role_rpc_server(*a),
    }
    if ns.role:
        roles[ns.role](ns.args)
        return
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="hmi-bench-") as folder:
        make_plant(Path(folder))
        run(folder)


def run(folder: str) -> None:
    """Every measurement, in one run (``folder``: the checked path's keys and policy)."""
    result: dict[str, Any] = {}
    raw = pubsub("raw", batched=False)
    # the checked path beside the default one, back to back, in rounds (medians)
    pairs = []
    for _ in range(CHECKED_ROUNDS):
        fast = pubsub("hmi", batched=False)
        pairs.append((fast, pubsub("checked", batched=False, folder=folder)))
        print(f"round: hmi {fast:,.0f} msgs/s, checked {pairs[-1][1]:,.0f} msgs/s", flush=True)
    ours = pairs[0][0]
    checked = statistics.median(c for _, c in pairs)
    checked_ratio = statistics.median(c / f for f, c in pairs if f)
    print(f"single: raw {raw:,.0f} msgs/s, hmi {ours:,.0f} msgs/s", flush=True)
    print(f"checked: {checked:,.0f} msgs/s (CURVE, policy: through the broker)", flush=True)
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
        checked_msgs_per_s=round(checked),
        checked_ratio=round(checked_ratio, 3),
        broker_cpu_s_checked=round(BROKER_CPU.get("checked", 0.0), 2),
    )
    result.update(against_baselines())
    # the checked calls' figures: medians of rounds, as the others (a single run's p50
    # moved 238-399 us between runs on 2 shared cores)
    checked_rounds = [checked_rpc(folder) for _ in range(CHECKED_ROUNDS)]
    for row in checked_rounds:
        print(f"checked rpc round: {row}", flush=True)
    result.update({key: median_of(checked_rounds, key) for key in checked_rounds[0]})
    print(json.dumps(result))


def median_of(rounds: list[dict[str, float]], key: str) -> float:
    """The median of one figure over the rounds."""
    return float(statistics.median(r[key] for r in rounds))


def against_baselines() -> dict[str, Any]:
    """RPC beside aiomas and the hub's CPU beside a raw proxy: ROUNDS rounds, each
    measuring ours and the baseline back to back (the same load on the machine), the
    ratios taken per round; every figure is the median over the rounds."""
    rounds: list[dict[str, float]] = []
    for _ in range(ROUNDS):
        row: dict[str, float] = dict(rpc())
        base = aiomas_rpc()
        if base is not None:
            row["aiomas_rpc_p50_us"] = base["p50"]
            row["aiomas_concurrent_calls_per_s"] = base["concurrent"]
            row["rpc_p50_vs_aiomas"] = row["rpc_p50_us"] / base["p50"]
            row["rpc_concurrent_vs_aiomas"] = row["rpc_concurrent_calls_per_s"] / base["concurrent"]
        row["raw_hub_cpu_s_per_m_updates"] = hub_cpu("raw")
        row["hub_cpu_s_per_m_updates"] = hub_cpu("hmi")
        row["hub_cpu_ratio"] = row["hub_cpu_s_per_m_updates"] / max(
            row["raw_hub_cpu_s_per_m_updates"], 1e-9
        )
        rounds.append(row)
        print("round:", {key: round(value, 3) for key, value in row.items()}, flush=True)
    digits = {"rpc_p50_vs_aiomas": 3, "rpc_concurrent_vs_aiomas": 3, "hub_cpu_ratio": 3}
    digits.update(raw_hub_cpu_s_per_m_updates=3, hub_cpu_s_per_m_updates=3)
    out: dict[str, Any] = {
        key: round(median_of(rounds, key), digits.get(key, 1)) for key in rounds[0]
    }
    for key in ("rpc_seq_calls_per_s", "rpc_concurrent_calls_per_s"):
        out[key] = round(out[key])
    if "aiomas_rpc_p50_us" in out:
        out["aiomas_concurrent_calls_per_s"] = round(out["aiomas_concurrent_calls_per_s"])
    else:  # aiomas is not installed
        for key in (
            "aiomas_rpc_p50_us",
            "aiomas_concurrent_calls_per_s",
            "rpc_p50_vs_aiomas",
            "rpc_concurrent_vs_aiomas",
        ):
            out[key] = None
    print(
        f"rpc: p50 {out['rpc_p50_us']} us ({out['rpc_p50_vs_aiomas']} x aiomas), "
        f"{out['rpc_concurrent_calls_per_s']:,} calls/s in flight "
        f"({out['rpc_concurrent_vs_aiomas']} x aiomas); hub CPU per M updates "
        f"{out['hub_cpu_s_per_m_updates']} s ({out['hub_cpu_ratio']} x a raw proxy)",
        flush=True,
    )
    return out


if __name__ == "__main__":
    main()

"""What the broker counts and shows: per-topic rates, totals, nodes with cpu/memory.

Counting is two integer additions per message; rates are computed once per interval.
The table is what pyGecko's geckocore showed, for ``hmi broker`` in a terminal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from hmi.bus.net.auth import ClientRule

#: distinct topics counted one by one; further ones are summed under OTHER
MAX_TOPICS = 5000
OTHER = b"(other)"


@dataclass
class NodeInfo:
    """A node as the broker sees it."""

    ident: bytes
    sender: str
    #: the CURVE key (Z85) that first used this id ('' without CURVE): it keeps the id
    #: while the node lives (see hmi.bus.broker.doors)
    key: str = ""
    #: the policy's rule of that key (None without a policy): what it may publish, serve
    rule: ClientRule | None = None
    name: str = ""
    pid: int = 0
    host: str = ""
    last_seen: float = 0.0
    alive: bool = True
    said_hello: bool = False
    #: seconds between the node's heartbeats, as it told them (0: it did not)
    heartbeat: float = 0.0
    #: where the node takes RPC requests directly (plain sockets only), or ''
    rpc: str = ""
    #: where it takes them on a Unix stream (``unix:@name``), or ''
    rpc_stream: str = ""
    #: it dials stream endpoints (its HELLO said ``streams``)
    streams: bool = False
    #: the key of the tickets for its stream endpoint (hmi.bus.net.tickets), sent to it
    #: alone in its welcome; b'' while it has no stream endpoint
    ticket_key: bytes = b""
    #: the RPC targets it served when it was declared dead (given back if it is heard again)
    withdrawn: list[str] = field(default_factory=list)
    #: every RPC target it ever served: a node that withdrew them before its BYE (a clean
    #: stop) is still a server gone, which its death notice must say
    served: set[str] = field(default_factory=set)
    messages: int = 0
    cpu: float | None = None
    mem: float | None = None
    _process: psutil.Process | None = None

    def sample_usage(self) -> None:
        """cpu % and memory % of the node's process when it runs on this machine."""
        if not self.pid or self.host != socket.gethostname():
            return
        try:
            if self._process is None or self._process.pid != self.pid:
                self._process = psutil.Process(self.pid)
                self._process.cpu_percent(None)  # first call primes the measurement
            self.cpu = self._process.cpu_percent(None)
            self.mem = self._process.memory_percent()
        except psutil.Error:
            self.cpu = self.mem = None


class OwnUsage:
    """The broker process's own cpu % and memory %, for ``$sys/stats``.

    psutil measures cpu % between two calls *on the same Process object*: one made anew
    for each report measured nothing and said 0.0 every time (issue 17). This one is made
    (and primed) once, so each report covers the time since the previous one; a fork
    (another pid) starts a new measurement.
    """

    def __init__(self) -> None:
        self._process = self._start()

    @staticmethod
    def _start() -> psutil.Process:
        process = psutil.Process(os.getpid())
        process.cpu_percent(None)  # the start of the first interval
        return process

    def sample(self) -> tuple[float, float]:
        """``(cpu %, memory %)`` since the previous sample (cpu % of one core: a busy
        process with several threads may show more than 100)."""
        if self._process.pid != os.getpid():
            self._process = self._start()  # (a forked child: measure it anew)
        return self._process.cpu_percent(None), self._process.memory_percent()


@dataclass
class BrokerStats:
    """Counters and the rates of the last interval."""

    messages: int = 0
    total_bytes: int = 0
    topic_msgs: Counter[bytes] = field(default_factory=Counter)
    topic_bytes: Counter[bytes] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    #: messages refused by the broker's doors (hmi.bus.broker.doors), and by reason
    refused: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    gaps: int = 0
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)
    _last_msgs: Counter[bytes] = field(default_factory=Counter)
    _last_bytes: Counter[bytes] = field(default_factory=Counter)
    #: the broker's own cpu and memory (one psutil object, kept: see OwnUsage)
    usage: OwnUsage = field(default_factory=OwnUsage)

    def count(self, topic: bytes, size: int) -> None:
        """One routed message."""
        self.messages += 1
        self.total_bytes += size
        msgs = self.topic_msgs
        if topic not in msgs and len(msgs) >= MAX_TOPICS:
            topic = OTHER
        msgs[topic] += 1
        self.topic_bytes[topic] += size

    def count_run(self, topic: bytes, n: int, size: int) -> None:
        """``n`` routed messages of ``size`` bytes in all, on ``topic``."""
        self.messages += n
        self.total_bytes += size
        msgs = self.topic_msgs
        if topic not in msgs and len(msgs) >= MAX_TOPICS:
            topic = OTHER
        msgs[topic] += n
        self.topic_bytes[topic] += size

    def count_many(self, counts: dict[bytes, list[Any]]) -> None:
        """Routed messages: ``{topic: [messages, bytes, ...]}``."""
        msgs = self.topic_msgs
        sizes = self.topic_bytes
        for name, (n, size, *_) in counts.items():
            self.messages += n
            self.total_bytes += size
            topic = OTHER if name not in msgs and len(msgs) >= MAX_TOPICS else name
            msgs[topic] += n
            sizes[topic] += size

    def roll(self, interval: float) -> None:
        """Compute msgs/s and kB/s per topic over the last ``interval`` seconds."""
        rates = {}
        for topic, count in self.topic_msgs.items():
            msgs = (count - self._last_msgs[topic]) / interval
            kbytes = (self.topic_bytes[topic] - self._last_bytes[topic]) / interval / 1000
            rates[topic.decode(errors="replace")] = (msgs, kbytes)
        self.rates = rates
        self._last_msgs = Counter(self.topic_msgs)
        self._last_bytes = Counter(self.topic_bytes)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere)."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (or no libc): nothing to trim
        return None
    return trim


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give the memory freed since the last call back to the system (glibc only).

    The messages a flood queued in ZeroMQ's pipes are allocated by libzmq's I/O thread and
    freed by another: glibc keeps the freed pages in its arenas, and the broker's RSS
    stays at its peak for good (measured: 424 MB after a 2M-topic flood with a bounded
    cache; 85 MB with this called once a second). A call costs 0.1 to 10 ms.
    """
    if _TRIM is not None:
        _TRIM(0)


def report(
    stats: BrokerStats, nodes: list[NodeInfo], broker_id: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """The ``$sys/stats`` payload."""
    cpu, mem = stats.usage.sample()
    return {
        "broker": broker_id,
        "messages": stats.messages,
        "bytes": stats.total_bytes,
        "refused": stats.refused,
        "refusals": dict(stats.refusals),
        "gaps": stats.gaps,
        "drops": dict(stats.drops),
        "cpu": cpu,
        "mem": mem,
        "topics": {t: [round(m, 1), round(k, 2)] for t, (m, k) in stats.rates.items()},
        "nodes": [
            {
                "id": n.sender,
                "name": n.name,
                "pid": n.pid,
                "host": n.host,
                # Only a node that said HELLO promised heartbeats: one that did not is
                # never counted alive, however much it talks (it is listed while known)
                "alive": n.alive and n.said_hello,
                "hello": n.said_hello,
                "heartbeat": n.heartbeat,
                "cpu": n.cpu,
                "mem": n.mem,
                "messages": n.messages,
            }
            for n in nodes
        ],
        **extra,
    }


def render(data: dict[str, Any], width: int = 78, top: int = 15) -> str:
    """A terminal table of a ``$sys/stats`` payload."""
    bar = "+" + "-" * (width - 1)
    lines = [
        bar,
        f"| hmi broker {data['broker']}  cpu {data['cpu']:5.1f}%  mem {data['mem']:5.2f}%",
        f"| messages {data['messages']}  bytes {data['bytes']}  refused {data['refused']}"
        f"  gaps {data['gaps']}  dropped {sum(data['drops'].values())}",
        *(
            ["| refused: " + ", ".join(f"{k} {v}" for k, v in sorted(refusals.items()))]
            if (refusals := data.get("refusals"))
            else []
        ),
        bar,
        f"| {'topic':<44} {'msgs/s':>12} {'kB/s':>12}",
    ]
    topics = sorted(data["topics"].items(), key=lambda kv: -kv[1][0])
    for topic, (msgs, kbytes) in topics[:top]:
        lines.append(f"| {topic[:44]:<44} {msgs:>12.1f} {kbytes:>12.2f}")
    if len(topics) > top:
        lines.append(f"| ... {len(topics) - top} more topics")
    lines += [bar, f"| {'node':<30} {'pid':>7} {'state':>6} {'cpu%':>6} {'mem%':>6} {'msgs':>10}"]
    for node in data["nodes"]:
        cpu = "-" if node["cpu"] is None else f"{node['cpu']:.1f}"
        mem = "-" if node["mem"] is None else f"{node['mem']:.2f}"
        # (a node without a HELLO is neither: it promised no heartbeat)
        state = "up" if node["alive"] else "DEAD" if node.get("hello", True) else "anon"
        lines.append(
            f"| {node['id'][:30]:<30} {node['pid']:>7} {state:>6} {cpu:>6} {mem:>6}"
            f" {node['messages']:>10}"
        )
    lines.append(bar)
    return "\n".join(lines)

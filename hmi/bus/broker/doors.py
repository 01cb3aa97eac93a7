"""The broker's doors: who is talking on its front, and what each may say.

Pure (no sockets, no clock: the broker passes the time in). The broker asks here before
it acts on a message from its front (docs/bus-protocol.md, "Who is talking"):

- **identity**: the header's sender must be the routing id of the connection the message
  came on (a node's DEALER sets it to its node id), and with CURVE the key that first
  used an id keeps it while its node lives: HELLO, HEARTBEAT, BYE, EXPOSE, snapshot
  requests and RPC for another node's id are refused (:func:`identity_refusal`);
- **``$sys/`` is the broker's**: a node may publish only under :data:`NODE_SYS` there
  (drivers' device status; with a policy, only with a right for it), never the broker's
  heartbeats, statistics, births and deaths (:func:`broker_only`);
- **RPC replies** answer requests: the broker accepts an ``RPC_REP`` only for a request it
  routed to that node (:class:`PendingCalls`);
- **RPC targets**: exposing one needs a ``serve`` right (with a policy), and a name a live
  node serves cannot be taken (:class:`hmi.bus.broker.roster.Roster` keeps the names).

:class:`Doors` asks all of it for one broker. Every refusal is counted by reason
(``$sys/stats`` ``refused`` and ``refusals``) and logged at most once per
:data:`LOG_EVERY` seconds per reason (:class:`Refusals`): an attacker cannot flood the log.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from hmi.bus.broker.brokerstats import BrokerStats, NodeInfo
from hmi.bus.broker.roster import SERVE, TAKEN, TARGETS, Roster
from hmi.bus.net.auth import Policy
from hmi.bus.wire.control import Expose
from hmi.bus.wire.frames import Kind
from hmi.bus.wire.throttle import LOG_EVERY, Throttle

log = logging.getLogger(__name__)

#: the broker's own topics start with this
SYS = b"$sys/"
#: a node's probes (see hmi.bus.net.resync): ``$probe/<its id>/...``, allowed whatever its rights
PROBE_PREFIX = b"$probe/"
#: ``$sys/`` topics nodes publish (drivers' device status): all others are the broker's
NODE_SYS = (b"$sys/device/",)
#: seconds a routed request waits for its reply; a later reply is refused (calls time
#: out after seconds: ``bus.call``'s default is 5)
REPLY_WITHIN = 120.0
#: requests of one caller waiting for replies; beyond it its oldest is forgotten
MAX_PENDING = 10_000
#: requests of all callers waiting for replies; beyond it the oldest of the caller with
#: the most is forgotten
MAX_PENDING_ALL = 100_000

# The reasons of refusals (keys of ``stats.refusals``).
#: the header's sender is not the connection's routing id
SENDER = "sender"
#: the id is bound to another CURVE key (or the key has no rule)
KEY = "key"
#: a publication or call outside the key's publish prefixes
PUBLISH = "publish"
#: a node publishing on the broker's ``$sys/`` topics
SYS_TOPIC = "sys"
#: an RPC_REP for no request the broker routed to that node
REPLY = "reply"
#: (an EXPOSE outside the key's serve rights: SERVE; of a name a live node serves: TAKEN;
#: of more names than a node may serve: TARGETS)
REASONS = (SENDER, KEY, PUBLISH, SYS_TOPIC, SERVE, TAKEN, TARGETS, REPLY)
#: the drop reason of a message from a new node while the broker knows MAX_NODES live ones
NODES = "nodes_full"


def identity_refusal(ident: bytes, sender: str, key: str, node: NodeInfo | None) -> str:
    """Why a message from connection ``ident`` with header sender ``sender`` and CURVE
    ``key`` ('' without CURVE) is refused, or '' when it may go on.

    ``node`` is what the broker knows under ``ident`` (its ``sender`` was checked against
    ``ident`` when it joined). A key other than the node's is refused while the node
    lives; once it is dead the id is free again (the broker takes it for a new node).
    """
    if node is None:
        return SENDER if sender.encode() != ident else ""
    if sender != node.sender:
        return SENDER
    if key != node.key and node.alive:
        return KEY
    return ""


def broker_only(topic_b: bytes) -> bool:
    """True for a ``$sys/`` topic no node may publish (all but :data:`NODE_SYS`)."""
    return topic_b.startswith(SYS) and not topic_b.startswith(NODE_SYS)


class Refusals:
    """Counts refusals in ``stats`` and logs them, at most once per ``every`` seconds
    per reason (saying how many were not logged meanwhile)."""

    def __init__(self, stats: BrokerStats, every: float = LOG_EVERY) -> None:
        self._stats = stats
        self._throttle = Throttle(every)

    def refuse(self, reason: str, now: float, detail: str) -> None:
        """Count one refusal of ``reason``; ``detail`` says who tried what."""
        stats = self._stats
        stats.refused += 1
        stats.refusals[reason] += 1
        stats.drops["refused"] += 1
        more = self._throttle(reason, now)
        if more is not None:
            log.warning("refused (%s): %s%s", reason, detail, more)

    def drop(self, reason: str, now: float, detail: str) -> None:
        """Count one message dropped for a bound of the broker (``drops``, not a refusal:
        nobody broke a rule), logged as refusals are."""
        self._stats.drops[reason] += 1
        more = self._throttle(reason, now)
        if more is not None:
            log.warning("dropped (%s): %s%s", reason, detail, more)


class PendingCalls:
    """The RPC requests the broker routed and that wait for their replies.

    Keyed by caller, then (callee, call id): call ids are the caller's own counter, so
    two callers may use the same one. Each caller's requests are kept in the order they
    were routed, which is the order they expire in (:data:`REPLY_WITHIN`), and at most
    :data:`MAX_PENDING` of them (its oldest is forgotten first): one caller flooding a
    callee that never answers cannot push out the others' requests. All callers together
    have at most :data:`MAX_PENDING_ALL` (beyond it, the caller with the most loses its
    oldest).
    """

    def __init__(
        self, within: float = REPLY_WITHIN, most: int = MAX_PENDING, total: int = MAX_PENDING_ALL
    ) -> None:
        self._within = within
        self._most = most
        self._total = total
        self._by_caller: dict[bytes, OrderedDict[tuple[bytes, int], float]] = {}
        self._count = 0
        #: requests forgotten because a caller (or all of them) had too many waiting
        self.overflow = 0

    def routed(self, caller: bytes, callee: bytes, call_id: int, now: float) -> None:
        """The broker routed request ``call_id`` of ``caller`` to ``callee``."""
        waiting = self._by_caller.get(caller)
        if waiting is None:
            waiting = self._by_caller[caller] = OrderedDict()
        key = (callee, call_id)
        if key in waiting:  # the same id again: it expires from now
            del waiting[key]
            self._count -= 1
        waiting[key] = now + self._within
        self._count += 1
        if len(waiting) > self._most:
            waiting.popitem(last=False)
            self._count -= 1
            self.overflow += 1
        if self._count > self._total:
            greedy = max(self._by_caller, key=lambda who: len(self._by_caller[who]))
            most = self._by_caller[greedy]
            most.popitem(last=False)
            if not most:
                del self._by_caller[greedy]
            self._count -= 1
            self.overflow += 1

    def answered(self, caller: bytes, callee: bytes, call_id: int) -> bool:
        """True (and forgotten) when ``callee`` was asked ``call_id`` by ``caller``."""
        waiting = self._by_caller.get(caller)
        if waiting is None or waiting.pop((callee, call_id), None) is None:
            return False
        self._count -= 1
        if not waiting:
            del self._by_caller[caller]
        return True

    def expire(self, now: float) -> int:
        """Forget the requests older than :data:`REPLY_WITHIN`; how many."""
        expired = 0
        for caller in list(self._by_caller):
            waiting = self._by_caller[caller]
            while waiting:
                key, deadline = next(iter(waiting.items()))
                if deadline > now:
                    break
                del waiting[key]
                expired += 1
            if not waiting:
                del self._by_caller[caller]
        self._count -= expired
        return expired

    def forget(self, caller: bytes) -> None:
        """A caller left: its requests wait for nothing any more."""
        self._count -= len(self._by_caller.pop(caller, ()))

    def __len__(self) -> int:
        return self._count


class Doors:
    """The checks of one broker's front, with its ``policy`` (None: no CURVE policy, so
    no rights to check; identities and ``$sys/`` still are), its ``roster`` and the
    ``stats`` refusals are counted in. Each method that may refuse counts and logs the
    refusal itself and answers whether the message may go on."""

    def __init__(self, policy: Policy | None, roster: Roster, stats: BrokerStats) -> None:
        self.policy = policy
        self.roster = roster
        self.refusals = Refusals(stats)
        #: RPC requests routed and not answered yet (a reply must answer one)
        self.calls = PendingCalls()

    def refuse(self, reason: str, ident: bytes, now: float, detail: str) -> None:
        """Count and (at most once per interval) log a refusal of connection ``ident``."""
        who = ident.decode(errors="replace")
        self.refusals.refuse(reason, now, f"connection {who!r}: {detail}")

    def identify(  # noqa: PLR0917 - the fields of the message, as the front read them
        self, ident: bytes, sender: str, key: str, node: NodeInfo | None, kind: int, now: float
    ) -> NodeInfo | None:
        """The node a message comes from (joined if new), or None when it is refused: its
        sender is not its connection's routing id, or (CURVE) its id is bound to a live
        node's key, or its key has no rule. A dead node's id with another key is a new
        node. The front calls this only when ``node`` is None or does not match."""
        reason = identity_refusal(ident, sender, key, node)
        rule = None
        if not reason and self.policy is not None:
            rule = self.policy.rule(key)
            if rule is None:
                reason = KEY
        if reason:
            what = Kind(kind).name
            if reason == SENDER:
                detail = f"{what} with sender {sender!r}"
            else:
                detail = f"{what} with an id bound to another key (key {key!r})"
            self.refuse(reason, ident, now, detail)
            return None
        if node is not None:  # dead, and its id comes with another key: a new node
            log.warning("node %s: its id comes with another key: a new node", node.sender)
            self.roster.leave(node)
        joined = self.roster.join(ident, sender, key, rule)
        if joined is None:  # as many live nodes as the broker keeps: not heard
            self.refusals.drop(NODES, now, f"connection {ident.decode(errors='replace')!r}")
        return joined

    def may_publish(self, node: NodeInfo, topic_b: bytes, topic: str, now: float) -> bool:
        """A publication of ``node`` on ``topic``: never on the broker's ``$sys/`` topics,
        and with a policy only under the key's prefixes (or its own probes)."""
        if broker_only(topic_b):
            self.refuse(SYS_TOPIC, node.ident, now, f"publication on {topic!r}")
            return False
        rule = node.rule
        if rule is not None and not (
            rule.may_publish(topic) or topic_b.startswith(PROBE_PREFIX + node.ident + b"/")
        ):
            self.refuse(PUBLISH, node.ident, now, f"key {rule.name!r} publishing {topic!r}")
            return False
        return True

    def may_call(self, node: NodeInfo, topic: str, now: float) -> bool:
        """An RPC request of ``node`` on ``rpc/<target>``: with a policy, only under the
        key's publish prefixes."""
        rule = node.rule
        if rule is not None and not rule.may_publish(topic):
            self.refuse(PUBLISH, node.ident, now, f"key {rule.name!r} calling {topic!r}")
            return False
        return True

    def routed(self, caller: bytes, callee: bytes, call_id: int, now: float) -> None:
        """The broker routed request ``call_id`` of ``caller`` to ``callee``."""
        self.calls.routed(caller, callee, call_id, now)

    def may_reply(self, ident: bytes, topic_b: bytes, call_id: int, now: float) -> bool:
        """An RPC reply of ``ident`` (to call ``call_id``) on ``rpc/<caller>``: only to a
        request the broker routed to it (which it answers, once)."""
        if topic_b.startswith(b"rpc/") and self.calls.answered(
            topic_b[len("rpc/") :], ident, call_id
        ):
            return True
        self.refuse(REPLY, ident, now, f"a reply on {topic_b.decode()!r} to no request")
        return False

    def expose(self, node: NodeInfo, expose: Expose, now: float) -> None:
        """An EXPOSE: a claim (refused without a serve right, or while another live node
        serves the name: it waits), or a withdrawal (which changes nothing unless the
        node serves the name)."""
        if expose.exposed:
            self.claim(node, expose.target, now)
            return
        heir = self.roster.withdraw(node, expose.target)
        if heir is not None:
            log.info("RPC target %r: now served by %s (it waited)", expose.target, heir.sender)

    def claim(self, node: NodeInfo, name: str, now: float) -> str:
        """``node`` exposes ``name`` (an EXPOSE, or a target its HELLO lists); why it does
        not serve it now ("" when it does)."""
        reason = self.roster.claim(node, name)
        if not reason:
            return ""
        if reason == SERVE:
            rule = node.rule.name if node.rule is not None else "?"
            detail = f"key {rule!r} may not serve RPC target {name!r}"
        elif reason == TARGETS:
            detail = f"RPC target {name!r}: the node serves {len(node.served)} names already"
        else:
            owner = self.roster.nodes.get(self.roster.targets.get(name, b""))
            held = owner.sender if owner is not None else "?"
            detail = f"RPC target {name!r} is served by live node {held} (the claim waits)"
        self.refuse(reason, node.ident, now, detail)
        return detail

    def gone(self, node: NodeInfo) -> None:
        """``node`` died or left: its targets go to the nodes waiting for them."""
        for name, heir in self.roster.dead(node):
            log.info("RPC target %r: now served by %s (it waited)", name, heir.sender)

    def left(self, node: NodeInfo) -> None:
        """``node`` said BYE (after :meth:`gone`): forgotten, and its calls' waits."""
        self.roster.leave(node)
        self.calls.forget(node.ident)

"""The typed payloads of the bus's control messages and RPC (docs/bus-protocol.md, "Message
frames"): one msgspec Struct per shape, decoded and validated in one pass.

Each payload the broker or a node acts on has its Struct here, the one definition of its
shape on the wire: a list-shaped payload is an ``array_like`` Struct (``[call_id, method,
args, kwargs]``: exactly these elements, as documented), a map-shaped one a plain Struct
(``{"name", "pid", ...}``) whose missing keys take their defaults and whose unknown keys
are ignored (later versions may add some). A payload that does not fit raises
:class:`~hmi.bus.wire.frames.FrameError` with the receiver's drop counter as its ``reason`` and
msgspec's words for what is wrong as its ``detail`` (for example "Expected `int`, got
`str` - at `$.pid`"); the receiver counts and drops it, having applied nothing of it.

Where the bytes are at hand (the broker's front, a node's DEALER and its direct RPC
sockets) they are decoded straight into the Struct (:func:`decode`); a payload that the
transport already unpacked for the subscribers of its topic (``$sys/broker`` heartbeats,
``$sys/node/...``) is converted (:func:`convert`). The broker and the nodes encode their
control messages from the Structs (:func:`pack_control`). RPC arguments and results are
the callers' data: they are packed with MessagePack as before (:func:`pack_call`,
:func:`pack_reply`), which carries only what the bus promises to carry (msgspec would
quietly carry more: dataclasses, sets, datetimes); the broker reads them as
:class:`msgspec.Raw` (``Call[Raw]``, ``Reply[Raw]``: the shape checked, the values
skipped, never built).
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import msgspec

from hmi.bus.wire.frames import FrameError, pack_payload

T = TypeVar("T")
#: text that may not be empty (ids)
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
#: a Decoder of payloads into ``T``
Decoder = msgspec.msgpack.Decoder
#: the reason of a payload that is not MessagePack at all (else: the message's own reason)
NOT_MSGPACK = "payload_msgpack"

#: ``pack_control(message)``: the payload frame of a control message (a Struct here, or a
#: prefix, or nil)
pack_control = msgspec.msgpack.Encoder().encode


# -- node -> broker -------------------------------------------------------------------------
class Hello(msgspec.Struct, frozen=True, gc=False):
    """HELLO: who the node is, the RPC ``targets`` it serves, where it takes calls
    directly (``rpc``: '' for nowhere; ``rpc_stream``: on a Unix stream, ``unix:@name``),
    whether it dials stream endpoints (``streams``) and its ``heartbeat`` interval (s; 0:
    not told)."""

    name: str = ""
    pid: int = 0
    host: str = ""
    targets: list[str] = []
    rpc: str = ""
    heartbeat: float = 0.0
    rpc_stream: str = ""
    streams: bool = False


class Heartbeat(msgspec.Struct, frozen=True, gc=False):
    """HEARTBEAT: the node's pid (None: not told), its interval (s; 0: not told), and
    its counters."""

    pid: int | None = None
    heartbeat: float = 0.0
    published: int = 0
    received: int = 0
    malformed: int = 0
    gaps: int = 0
    dropped: int = 0


class Expose(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """EXPOSE ``[target, exposed]``: claim (True) or withdraw (False) an RPC target."""

    target: str
    exposed: bool


# -- broker -> node -------------------------------------------------------------------------
class Welcome(msgspec.Struct, frozen=True, gc=False):
    """HELLO from the broker (the welcome): its ``id``, its fast path endpoint (``pub``:
    '' for none), its heartbeat interval (s; 0: not told), to a node with a stream
    endpoint the key that signs the tickets for it (``ticket_key``; empty: none), under a
    policy the topic prefixes this connection's key may publish (``publish``) and the RPC
    targets it may serve (``serve``; None: no policy, anything), and why RPC targets its
    hello named are not served by it (``refused``), so a node whose key lacks a right can
    say so itself."""

    id: NonEmpty
    pub: str = ""
    heartbeat: float = 0.0
    ticket_key: bytes = b""
    publish: list[str] | None = None
    serve: list[str] | None = None
    refused: list[str] = msgspec.field(default_factory=list)


class Route(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """ROUTE ``[target, endpoint]``: the target takes calls directly there."""

    target: str
    endpoint: str


# -- the broker's publications (subscribers get them as maps) ---------------------------------
class BrokerBeat(msgspec.Struct, frozen=True, gc=False):
    """``$sys/broker``: the broker's ``id``, ``time`` and ``heartbeat`` interval (s)."""

    id: NonEmpty
    time: float = 0.0
    heartbeat: float = 0.0


class NodeAlive(msgspec.Struct, frozen=True, gc=False):
    """``$sys/node/<id>/alive``: the node's id, name and host (as its HELLO told them),
    and the RPC targets it serves. The broker sends every field; a subscriber reading it
    takes a missing one for empty (``targets``: None, not told)."""

    id: str = ""
    name: str = ""
    host: str = ""
    targets: list[str] | None = None


class NodeDead(NodeAlive, frozen=True, gc=False):
    """``$sys/node/<id>/dead``: as alive (``targets``: those it served until then), and
    ``why``: ``silent`` or ``stopped``."""

    why: str = ""


# -- RPC --------------------------------------------------------------------------------------
class Call(
    msgspec.Struct, Generic[T], array_like=True, forbid_unknown_fields=True, frozen=True, gc=False
):
    """RPC_REQ ``[call_id, method, [args], {kwargs}]``; ``Call[Any]`` for the target,
    ``Call[Raw]`` for the broker, which routes it without building the arguments."""

    call_id: int
    method: str
    args: list[T]
    kwargs: dict[str, T]


class Reply(
    msgspec.Struct, Generic[T], array_like=True, forbid_unknown_fields=True, frozen=True, gc=False
):
    """RPC_REP ``[call_id, ok, value]``: the result when ``ok``, else a :class:`Fault`."""

    call_id: int
    ok: bool
    value: T


class Fault(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True, gc=False):
    """What an RPC method raised: ``[type, message]`` (the value of a reply not ok)."""

    type: str
    message: str


def pack_call(call_id: int, method: str, args: list[Any], kwargs: dict[str, Any]) -> bytes:
    """The payload of an RPC_REQ (a :class:`Call`); TypeError for arguments MessagePack
    cannot carry."""
    return pack_payload([call_id, method, args, kwargs])


def pack_reply(call_id: int, ok: bool, value: Any) -> bytes:
    """The payload of an RPC_REP (a :class:`Reply`): ``value`` the result, or when not
    ``ok`` a fault ``[type, message]``. A result MessagePack cannot carry is answered
    as a TypeError."""
    try:
        return pack_payload([call_id, ok, value])
    except (TypeError, ValueError, OverflowError) as exc:
        return pack_payload([call_id, False, ["TypeError", f"result not serializable: {exc}"]])


# -- decoding -------------------------------------------------------------------------------
def decode(decoder: Decoder[T], data: bytes, reason: str) -> T:
    """``data`` decoded by ``decoder``; FrameError(``reason``) when it does not have the
    shape, FrameError(:data:`NOT_MSGPACK`) when it is not MessagePack at all."""
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise FrameError(reason, str(exc)) from None
    except msgspec.DecodeError as exc:
        raise FrameError(NOT_MSGPACK, str(exc)) from None


def convert(payload: Any, kind: type[T], reason: str) -> T:
    """``payload`` (already unpacked) as a ``kind``; FrameError(``reason``) otherwise."""
    try:
        return msgspec.convert(payload, kind)
    except msgspec.ValidationError as exc:
        raise FrameError(reason, str(exc)) from None


def node_notice(topic: str, payload: Any) -> NodeAlive | None:
    """The :class:`NodeDead` or :class:`NodeAlive` a subscriber of ``$sys/node/+/dead``
    or ``/alive`` received (None: another topic); FrameError (reason ``node_notice``)
    for a payload of another shape. The id is the topic's, whatever the payload says."""
    head, _, rest = topic.partition("$sys/node/")
    node_id, _, what = rest.rpartition("/")
    if head or not node_id or what not in ("dead", "alive"):
        return None
    notice = convert(payload, NodeDead if what == "dead" else NodeAlive, "node_notice")
    return msgspec.structs.replace(notice, id=node_id)


#: the decoders of the payloads a broker or node reads from bytes
HELLO = Decoder(Hello)
HEARTBEAT = Decoder(Heartbeat)
EXPOSE = Decoder(Expose)
WELCOME = Decoder(Welcome)
ROUTE = Decoder(Route)
#: SNAPSHOT_REQ and the SNAPSHOT end: the topic prefix
PREFIX = Decoder(str)
CALL = Decoder(Call[Any])
CALL_RAW = Decoder(Call[msgspec.Raw])
REPLY = Decoder(Reply[Any])
REPLY_RAW = Decoder(Reply[msgspec.Raw])
#: any MessagePack value (BYE, REPUBLISH: nothing is read from their payloads)
ANY: Decoder[Any] = Decoder()

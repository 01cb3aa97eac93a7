"""RPC pieces shared by every transport: ``@expose``, permissions checked at dispatch, the
errors, and method lookup.

A caller ``await bus.call(target, method, *args, timeout=...)``; the target is a name given
to :meth:`hmi.bus.Bus.expose` (an actor's name). Only methods marked ``@expose`` can be
called: a remote peer must never reach arbitrary attributes of an object.

A method that changes the plant's configuration or reads what not everyone may read
declares its permission, ``@expose(permission=Permission.EDIT_DEVICES)``, and is run only
for a caller who proves one: the caller passes its session token as the reserved keyword
``token=``, which the dispatcher consumes, and the bus's :data:`Authorizer` (installed by
the composition root) verifies it and checks the permission (one that keeps its verdicts a
moment, :class:`hmi.bus.local.verdicts.CachedAuthorizer`, lets the next calls of a burst run
at once). No authorizer, no token, an
invalid one or a role without the permission: the method is not run and the caller gets a
``PermissionError`` (a :class:`RemoteError` with ``remote_type`` ``"PermissionError"``). A
method that declares an ``identity`` parameter is given the verified
:class:`~hmi.core.identity.Identity` (never one a caller passes). Plain ``@expose`` is for
what anyone connected may call (snapshots, limits, history, login itself); nothing is
added to those calls, which stay the bound methods themselves.

Every call, local or remote, runs the callables of :meth:`hmi.bus.Bus.target_methods`
(:func:`invoke`, ``Bus.handle_call`` and the node transport's server alike), which is where
:func:`dispatched` puts the check.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from hmi.core.identity import Identity
from hmi.core.permissions import Permission

F = TypeVar("F", bound=Callable[..., Any])

_EXPOSED = "__hmi_expose__"
_PERMISSION = "__hmi_permission__"
_WANTS_IDENTITY = "__hmi_identity__"

#: the keyword of a call that carries the caller's session token (consumed at dispatch)
TOKEN = "token"
#: the keyword a method declares to be given the verified identity of its caller
IDENTITY = "identity"


@overload
def expose(func: F, /) -> F: ...
@overload
def expose(*, permission: Permission) -> Callable[[F], F]: ...
def expose(
    func: F | None = None, /, *, permission: Permission | None = None
) -> F | Callable[[F], F]:
    """Mark a method (sync or async) as callable over RPC; with ``permission``, only for
    a caller whose verified session has it (see the module docstring)."""

    def mark(method: F) -> F:
        params = inspect.signature(method).parameters
        if permission is None and IDENTITY in params:
            # Only the dispatcher of a checked method fills it in: on a plain method a
            # caller could pass any identity it likes.
            raise TypeError(f"{method.__qualname__}: an identity parameter needs a permission")
        if permission is not None and TOKEN in params:
            raise TypeError(f"{method.__qualname__}: token= is the dispatcher's, not the method's")
        setattr(method, _EXPOSED, True)
        setattr(method, _PERMISSION, permission)
        setattr(method, _WANTS_IDENTITY, IDENTITY in params)
        return method

    return mark if func is None else mark(func)


def exposed_methods(obj: object) -> dict[str, Callable[..., Any]]:
    """The bound ``@expose`` methods of ``obj`` by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for name in dir(type(obj)):
        attr = getattr(type(obj), name, None)
        if attr is not None and getattr(attr, _EXPOSED, False):
            methods[name] = getattr(obj, name)
    return methods


def permission_of(method: Callable[..., Any]) -> Permission | None:
    """The permission an exposed method declares (None: anyone connected may call it)."""
    permission: Permission | None = getattr(method, _PERMISSION, None)
    return permission


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """A call of a method that declares a permission, as the authorizer sees it."""

    target: str
    method: str
    permission: Permission
    #: the session token the caller passed ("" when none)
    token: str
    #: the verified id of the node the call came from (the transport's ``current_sender``);
    #: None for a call made in this process, or a transport that cannot tell
    sender: str | None


#: ``await authorize(request)``: the verified identity that may make ``request``. It raises
#: PermissionError (and records the refusal) otherwise: it never returns to say no. One
#: that also has ``cached(request) -> Identity | None`` (:class:`hmi.bus.local.verdicts.
#: CachedAuthorizer`) is asked that first, synchronously: an identity there is a verdict
#: it accepted a moment ago, and the call is dispatched without awaiting anything.
Authorizer = Callable[[RpcRequest], Awaitable[Identity]]


def dispatched(
    method: Callable[..., Any],
    target: str,
    name: str,
    authorizer: Callable[[], Authorizer | None],
    sender: Callable[[], str | None],
) -> Callable[..., Any]:
    """``method`` as the bus runs it: the method itself when it declares no permission
    (dispatch costs nothing more), else a callable that checks the caller first.

    ``authorizer()`` and ``sender()`` are asked when a call arrives: the authorizer may be
    installed after the target is exposed, and the sender is only known while the
    transport delivers the call (so it is read before the check's first ``await``).
    """
    permission = permission_of(method)
    if permission is None:
        return method
    wants_identity = bool(getattr(method, _WANTS_IDENTITY, False))

    @functools.wraps(method)
    def checked(*args: Any, **kwargs: Any) -> Any:
        token = kwargs.pop(TOKEN, "")
        kwargs.pop(IDENTITY, None)  # who the caller is, is the authorizer's to say
        request = RpcRequest(
            target, name, permission, token if isinstance(token, str) else "", sender()
        )
        authorize = authorizer()
        cached = getattr(authorize, "cached", None)
        if cached is not None:
            # An authorizer that keeps its verdicts (hmi.bus.local.verdicts) answers at once for
            # a call it accepted a moment ago: the method runs now, as a plain method
            # would (a synchronous one answers without a task or a turn of the loop).
            identity = cached(request)
            if isinstance(identity, Identity):
                if wants_identity:
                    kwargs[IDENTITY] = identity
                return method(*args, **kwargs)
        return _authorized(request, authorize, method, args, kwargs, wants=wants_identity)

    return checked


async def _authorized(
    request: RpcRequest,
    authorize: Authorizer | None,
    method: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    wants: bool,
) -> Any:
    """Run ``method`` once ``authorize`` accepts ``request``; fail closed otherwise."""
    where = f"{request.target}.{request.method}"
    if authorize is None:
        raise PermissionError(
            f"{where} needs the {request.permission.value} permission and this node checks "
            "none (no authorizer): refused"
        )
    try:
        identity = await authorize(request)
    except PermissionError as exc:
        # One exception type for every refusal, whatever the authorizer's subclass.
        raise PermissionError(str(exc)) from None
    except Exception as exc:  # a broken authorizer refuses too: never run unchecked
        raise PermissionError(f"{where}: cannot check the caller ({type(exc).__name__})") from exc
    if not isinstance(identity, Identity):
        raise PermissionError(f"{where}: the authorizer gave no identity")
    if wants:
        kwargs[IDENTITY] = identity
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class RemoteError(Exception):
    """The remote method raised: ``remote_type`` is its exception's class name."""

    def __init__(self, remote_type: str, message: str, target: str = "", method: str = "") -> None:
        super().__init__(f"{remote_type}: {message}")
        self.remote_type = remote_type
        self.remote_message = message
        self.target = target
        self.method = method

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.remote_type, self.remote_message, self.target, self.method))


class RpcTimeout(TimeoutError):
    """No reply within the call's timeout (the remote may still run the call)."""


def no_target(target: str, method: str) -> RemoteError:
    """The error of a call to a target nobody exposes."""
    return RemoteError("LookupError", f"no RPC target {target!r}", target, method)


async def invoke(
    methods: Mapping[str, Callable[..., Any]],
    target: str,
    method: str,
    args: tuple[Any, ...] | list[Any],
    kwargs: Mapping[str, Any],
) -> Any:
    """Run ``method`` of an exposed target; any failure becomes a :class:`RemoteError`.

    ``methods`` are a target's dispatch table (:meth:`hmi.bus.Bus.target_methods`): a
    method with a permission is checked there, by :func:`dispatched`.
    """
    func = methods.get(method)
    if func is None:
        raise RemoteError(
            "AttributeError", f"{target!r} exposes no method {method!r}", target, method
        )
    try:
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
    except RemoteError:
        raise
    except Exception as exc:
        raise RemoteError(type(exc).__name__, str(exc), target, method) from exc
    return result

"""RPC pieces shared by every transport: ``@expose``, the errors, and method lookup.

A caller ``await bus.call(target, method, *args, timeout=...)``; the target is a name given
to :meth:`hmi.bus.Bus.expose` (an actor's name). Only methods marked ``@expose`` can be
called: a remote peer must never reach arbitrary attributes of an object.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_EXPOSED = "__hmi_expose__"


def expose(func: F) -> F:
    """Mark a method (sync or async) as callable over RPC."""
    setattr(func, _EXPOSED, True)
    return func


def exposed_methods(obj: object) -> dict[str, Callable[..., Any]]:
    """The bound ``@expose`` methods of ``obj`` by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for name in dir(type(obj)):
        attr = getattr(type(obj), name, None)
        if attr is not None and getattr(attr, _EXPOSED, False):
            methods[name] = getattr(obj, name)
    return methods


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
    """Run ``method`` of an exposed target; any failure becomes a :class:`RemoteError`."""
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

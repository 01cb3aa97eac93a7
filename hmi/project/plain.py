"""A validated project as plain data, and back, by the type hints of its dataclasses.

:func:`encode` writes a project's frozen dataclasses as MessagePack maps (msgspec, in C:
unlike JSON it keeps ``.inf`` and ``nan``, which an alarm's ``state`` may be);
:func:`builder` makes, once per type, a function that rebuilds the objects of that type from
the decoded data, so the cache of validated projects (:mod:`hmi.project.cache`) follows the
model as it grows without a schema of its own. Nothing is ever looked up by a name found in
the data: the type hints say what to build, and the data only fills it.

What cannot be rebuilt faithfully raises :class:`Unrepresentable` (a field typed ``object``
holding anything but a plain value, a union of two dataclasses whose data fits neither or
both); the cache then reads the file instead.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

#: rebuilds one value from its decoded data
Build = Callable[[Any], Any]


class Unrepresentable(ValueError):
    """A value the plain data cannot carry, or data that does not fit its type."""


def encode(value: object) -> bytes:
    """``value`` (frozen dataclasses, paths, read-only mappings, enums...) as MessagePack."""
    return msgspec.msgpack.encode(value, enc_hook=_enc_hook)


def decode(data: bytes | memoryview, cls: type) -> Any:
    """The object of type ``cls`` whose data :func:`encode` wrote; raises
    :class:`Unrepresentable` (or msgspec.DecodeError) on data that does not fit."""
    raw = msgspec.msgpack.decode(data)
    try:
        return builder(cls)(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Unrepresentable(f"{type(exc).__name__}: {exc}") from None


def _enc_hook(value: object) -> object:
    if isinstance(value, types.MappingProxyType):
        return dict(value)
    if isinstance(value, Path):
        return str(value)
    raise Unrepresentable(f"cannot write a {type(value).__name__}")


_builders: dict[object, Build] = {}


def builder(hint: Any) -> Build:
    """The function that rebuilds a value of type ``hint`` from its data (memoised)."""
    known = _builders.get(hint)
    if known is None:
        known = _builders[hint] = _make(hint)
    return known


def _plain(raw: Any) -> Any:
    return raw


def _make(hint: Any) -> Build:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint in (str, int, float, bool) or origin is typing.Literal:
        return _plain
    if hint is object or hint is Any:
        return _opaque
    if hint is type(None):
        return _none
    if origin in (typing.Union, types.UnionType):
        return _union(args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # a dict lookup: a tenth of the time of calling the enum (KeyError when unknown)
        return {member.value: member for member in hint}.__getitem__
    if hint is Path:
        return Path
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _dataclass(hint)
    if origin is frozenset:
        item = builder(args[0])
        return lambda raw: frozenset(map(item, raw))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = builder(args[0])
            return lambda raw: tuple(map(item, raw))
        items = [builder(arg) for arg in args]
        return lambda raw: tuple(b(v) for b, v in zip(items, raw, strict=True))
    if origin is list:
        item = builder(args[0])
        return lambda raw: list(map(item, raw))
    if origin in (types.MappingProxyType, Mapping, dict):
        key, value = builder(args[0]), builder(args[1])
        wrap = dict if origin is dict else types.MappingProxyType
        if key is _plain and value is _plain:
            return lambda raw: wrap(dict(raw))
        return lambda raw: wrap({key(k): value(v) for k, v in raw.items()})
    raise Unrepresentable(f"no plain form for {hint!r}")


def _opaque(raw: Any) -> Any:
    # a field typed ``object`` (a plug-in's settings): only a plain value is itself again
    if raw is None or type(raw) in (str, int, float, bool):
        return raw
    raise Unrepresentable("an object the plain data cannot carry")


def _none(raw: Any) -> None:
    if raw is not None:
        raise Unrepresentable(f"expected null, found {type(raw).__name__}")


def _union(args: tuple[Any, ...]) -> Build:
    """``X | None``, unions of plain values, or of dataclasses told apart by their fields."""
    members = [arg for arg in args if arg is not type(None)]
    optional = len(members) < len(args)
    classes = [m for m in members if dataclasses.is_dataclass(m)]
    if not classes:
        builds = [builder(m) for m in members]
        if all(b is _plain for b in builds):
            return _plain
        if len(builds) == 1:
            only = builds[0]
            return lambda raw: None if raw is None else only(raw)
        raise Unrepresentable(f"no plain form for a union of {members!r}")
    if len(classes) != len(members):
        raise Unrepresentable(f"no plain form for a union of {members!r}")
    by_fields = {
        frozenset(f.name for f in dataclasses.fields(cls)): builder(cls) for cls in classes
    }
    if len(by_fields) != len(classes):
        raise Unrepresentable(f"the dataclasses of {members!r} have the same fields")

    def build(raw: Any) -> Any:
        if raw is None and optional:
            return None
        return by_fields[frozenset(raw)](raw)

    return build


def _recursive(raw: Any) -> Any:
    raise Unrepresentable("a dataclass that holds its own type")


def _dataclass(cls: type) -> Build:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    if any(not f.init or f.kw_only for f in fields):
        raise Unrepresentable(f"{cls.__name__} has fields not given in order to __init__")
    _builders[cls] = _recursive  # until built: a dataclass that holds its own type
    # (name, None) for a field whose data is its value: most are, and calls cost
    spec = tuple((f.name, _or_none(builder(hints[f.name]))) for f in fields)
    count = len(spec)

    def build(raw: Any) -> Any:
        if len(raw) != count:  # and a name missing is a KeyError
            raise Unrepresentable(f"{cls.__name__}: fields {sorted(raw)}")
        return cls(*[raw[name] if make is None else make(raw[name]) for name, make in spec])

    return build


def _or_none(build: Build) -> Build | None:
    return None if build is _plain else build

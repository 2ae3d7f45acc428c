"""The node registry: the only way a manifest's ``node_type`` becomes a class.

Lookup order: types registered with :func:`register`, the built-in nodes
(a fixed table inside this package), then installed plug-ins declared in
the ``remotemedia.nodes`` entry-point group (only the entry point whose
name equals the requested type is loaded). A manifest can never name a
module or a dotted path: loading one imports nothing beyond the package
and the plug-ins the user installed.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from remotemedia.core.node import Node
from remotemedia.errors import RemoteMediaError

ENTRY_POINT_GROUP = "remotemedia.nodes"

# Built-in node types: fixed (module, class) pairs inside this package,
# imported on first use so that importing the core stays light.
_BUILTINS = {
    "AudioResampleNode": ("remotemedia.nodes.resample", "AudioResampleNode"),
    "VADNode": ("remotemedia.nodes.vad", "VADNode"),
    "FormatConverterNode": ("remotemedia.nodes.convert", "FormatConverterNode"),
    "DownmixNode": ("remotemedia.nodes.channels", "DownmixNode"),
    "AudioFileSource": ("remotemedia.nodes.files", "AudioFileSource"),
    "AudioFileSink": ("remotemedia.nodes.files", "AudioFileSink"),
}

_lock = threading.Lock()
_registered: dict[str, type[Node]] = {}

N = TypeVar("N", bound=type[Node])


class UnknownNodeTypeError(RemoteMediaError, LookupError):
    """No registered, built-in or plug-in node type has this name."""


def entry_points(**select: Any) -> Any:
    """Installed plug-in entry points (importlib.metadata, ~10 ms to import: only when a lookup needs it)."""
    from importlib.metadata import entry_points as found

    return found(**select)


def register(cls: N | None = None, *, name: str | None = None, replace: bool = False) -> N | Callable[[N], N]:
    """Register a Node subclass under ``name`` (default: its ``type_name()``).

    Usable as ``register(MyNode)`` or as a decorator ``@register`` /
    ``@register(name="x")``.

    Raises
    ------
    TypeError
        ``cls`` is not a Node subclass.
    ValueError
        The name is taken by another class (pass ``replace=True``) or is a
        built-in name.
    """

    def do(c: N) -> N:
        if not (isinstance(c, type) and issubclass(c, Node)):
            raise TypeError(f"register() expects a Node subclass, got {c!r}")
        key = name or c.type_name()
        with _lock:
            if key in _BUILTINS:
                raise ValueError(f"node type {key!r} is a built-in; register under another name")
            old = _registered.get(key)
            if old is not None and old is not c and not replace:
                raise ValueError(
                    f"node type {key!r} is already registered to {old.__module__}.{old.__qualname__}; "
                    "pass replace=True to override"
                )
            _registered[key] = c
        return c

    return do if cls is None else do(cls)


def unregister(name: str) -> None:
    """Remove a registered type (no error if absent)."""
    with _lock:
        _registered.pop(name, None)


def get(node_type: str) -> type[Node]:
    """The class registered as ``node_type``.

    Raises
    ------
    UnknownNodeTypeError
        Unknown name (the message lists the known ones).
    """
    with _lock:
        cls = _registered.get(node_type)
    if cls is not None:
        return cls
    if node_type in _BUILTINS:
        module, attr = _BUILTINS[node_type]
        return getattr(importlib.import_module(module), attr)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=node_type):
        loaded = ep.load()
        if not (isinstance(loaded, type) and issubclass(loaded, Node)):
            raise UnknownNodeTypeError(
                f"entry point {ENTRY_POINT_GROUP}:{node_type} = {ep.value} is not a Node subclass"
            )
        return loaded
    raise UnknownNodeTypeError(
        f"unknown node_type {node_type!r}; known: {', '.join(available())}. Register custom nodes with "
        f"remotemedia.register_node(cls) or an entry point in the {ENTRY_POINT_GROUP!r} group"
    )


def name_of(cls: type[Node]) -> str:
    """The name ``cls`` is registered under.

    Raises
    ------
    UnknownNodeTypeError
        ``cls`` is not reachable through the registry (so a manifest of it
        could not be loaded back).
    """
    key = cls.type_name()
    with _lock:
        for k, c in _registered.items():
            if c is cls:
                return k
    reachable = key in _BUILTINS or any(True for _ in entry_points(group=ENTRY_POINT_GROUP, name=key))
    if reachable and get(key) is cls:
        return key
    raise UnknownNodeTypeError(
        f"node class {cls.__module__}.{cls.__qualname__} is not registered, so a manifest of it could not be "
        "loaded back; call remotemedia.register_node(cls) first"
    )


def available() -> list[str]:
    """Every known node type name (registered, built-in, plug-in)."""
    with _lock:
        names = set(_registered)
    names.update(_BUILTINS)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)

"""Nodes and graphs built from a checked manifest spec (``Pipeline.from_manifest`` uses this).

Node types come from the registry only (nothing is imported from manifest
text); each node is built by its constructor with its params, then given
its id, hint and retry policy through ``Node.configure``. With a ``root``,
file paths in params (the parameters a node class lists in
``Node.path_params``, e.g. ``AudioFileSink.path``) are confined to it:
they must be relative and stay inside ``root`` once resolved (symbolic
links included); they are rewritten to the resolved path. Without a root
they are taken as written. Every error is a ManifestError naming the node
(``nodes[i]``, its id and type) and the field.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path, PurePath
from typing import Any

from remotemedia.core import registry
from remotemedia.core.errors import GraphError, ManifestError
from remotemedia.core.graph import Graph
from remotemedia.core.manifest import NodeSpec, Spec, parse
from remotemedia.core.node import Node
from remotemedia.core.runtime_select import check_hint


def confine(value: Any, root: str | os.PathLike[str], field: str, who: str) -> str:
    """``value`` (a relative path) resolved under ``root``; refuses absolute paths and escapes.

    Raises
    ------
    ManifestError
        Not a string, absolute, or outside ``root`` once resolved (``..``
        components or a symbolic link leading out).
    """
    if not isinstance(value, (str, PurePath)):
        raise ManifestError(field, f"{who}: a path must be a string, got {type(value).__name__}")
    text = str(value)
    if not text or "\0" in text:
        raise ManifestError(field, f"{who}: {text!r} is not a usable path")
    base = Path(root).resolve()
    rel = PurePath(text)
    if rel.is_absolute() or rel.drive or rel.root:
        raise ManifestError(
            field,
            f"{who}: absolute path {text!r} is not allowed here; paths in this manifest are relative to {base}",
        )
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise ManifestError(
            field, f"{who}: path {text!r} leads outside {base} (to {target}); keep paths inside that folder"
        )
    return str(target)


_TAKES_NAME: dict[type[Node], bool] = {}


def _takes_name(node_cls: type[Node]) -> bool:
    """Whether the constructor takes ``name`` (cached per class: signatures are slow to read)."""
    known = _TAKES_NAME.get(node_cls)
    if known is None:
        sig = inspect.signature(node_cls)
        known = "name" in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        _TAKES_NAME[node_cls] = known
    return known


def _construct(node_cls: type[Node], spec: NodeSpec, params: dict[str, Any]) -> Node:
    return node_cls(name=spec.id, **params) if _takes_name(node_cls) else node_cls(**params)


def _culprit(node_cls: type[Node], spec: NodeSpec, params: dict[str, Any]) -> str | None:
    """The one param whose removal lets the constructor succeed (None if no single one does)."""
    for key in params:
        rest = {k: v for k, v in params.items() if k != key}
        try:
            _construct(node_cls, spec, rest)
        except Exception:  # probing which param is at fault; any failure means "not this one"
            continue
        return key
    return None


def build_node(spec: NodeSpec, root: str | os.PathLike[str] | None = None) -> Node:
    """One node from its spec (see the module doc).

    Raises
    ------
    ManifestError
        Unknown node type, a path outside ``root``, params the constructor
        refuses (any exception it raises), or a bad runtime hint.
    """
    try:
        node_cls = registry.get(spec.node_type)
    except registry.UnknownNodeTypeError as exc:
        raise ManifestError(f"{spec.where}.node_type", str(exc)) from exc
    who = f"{spec.node_type} (id {spec.id!r})"
    params = dict(spec.params)
    if root is not None:
        for key in getattr(node_cls, "path_params", ()):
            if key in params:
                params[key] = confine(params[key], root, f"{spec.where}.params.{key}", who)
    try:
        node = _construct(node_cls, spec, params)
    except Exception as exc:  # a constructor may raise anything on bad params; report it, no traceback
        key = _culprit(node_cls, spec, params)
        field = f"{spec.where}.params" + (f".{key}" if key else "")
        raise ManifestError(field, f"{who} rejected {'it' if key else 'them'}: {type(exc).__name__}: {exc}") from exc
    try:
        node.configure(spec.id, check_hint(spec.runtime_hint), spec.retry)
    except ValueError as exc:  # the schema already checks; kept for specs built by hand
        raise ManifestError(f"{spec.where}.runtime_hint", str(exc)) from exc
    return node


def populate(graph: Graph, spec: Spec, root: str | os.PathLike[str] | None = None) -> str | None:
    """Add the spec's nodes and connections to ``graph`` and check it; return the last node's id.

    Linear in the number of nodes and connections.

    Raises
    ------
    ManifestError
        A node cannot be built (see :func:`build_node`), or the graph is
        invalid (a cycle, a node with no path to an output).
    """
    last = None
    for node_spec in spec.nodes:
        node = build_node(node_spec, root)
        try:
            graph.add(node)
        except GraphError as exc:
            raise ManifestError(f"{node_spec.where}.id", str(exc)) from exc
        last = node.name
    try:
        for a, b in spec.connections:
            graph.connect(a, b)
        if spec.outputs is not None:
            graph.set_outputs(spec.outputs)
        graph.topology()
    except GraphError as exc:
        raise ManifestError("connections", str(exc)) from exc
    return last


def validate(source: dict[str, Any] | str | Path, root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Check a manifest completely: builds every node and the graph, runs nothing.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ManifestError
        The first problem, with ``field`` pointing at it (e.g. ``nodes[1].params.target_rate``).
    """
    spec = parse(source)
    populate(Graph(), spec, root)
    return spec.source

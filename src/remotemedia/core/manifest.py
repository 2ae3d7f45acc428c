"""Pipeline manifests: versioned JSON describing nodes, connections and config.

Format (version 1; the JSON Schema ships as ``manifest.schema.json`` next
to this module)::

    {"version": 1, "name": "speech",
     "nodes": [{"id": "resample", "node_type": "AudioResampleNode",
                "params": {"target_rate": 16000, "quality": "high"},
                "runtime_hint": "auto"}, ...],
     "connections": [{"from": "convert", "to": "resample"}, ...],
     "outputs": ["vad"],                                  # optional
     "config": {"enable_metrics": false,
                "retry": {"max_retries": 3, "initial_delay_ms": 100, ...},
                "circuit_breaker": {"failure_threshold": 5, "reset_timeout_s": 30}}}

Validation runs in layers, each error pointing at its field: the schema
(structure and types), then ids and connections, then node types (through
the registry only: nothing is imported from manifest text), then each
node's constructor with its params, then the graph (cycles).
"""

from __future__ import annotations

import inspect
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotemedia.core import registry
from remotemedia.core.errors import GraphError, ManifestError
from remotemedia.core.node import Node
from remotemedia.core.retry import CircuitBreakerConfig, RetryPolicy
from remotemedia.core.runtime_select import check_hint
from remotemedia.core.schema_check import first_error

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

MANIFEST_VERSION = 1


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The manifest JSON Schema shipped in the package."""
    beside = Path(__file__).with_name("manifest.schema.json")
    if beside.is_file():  # an ordinary install: no need for importlib.resources (it pulls in zipfile)
        return json.loads(beside.read_text(encoding="utf-8"))
    from importlib import resources

    text = resources.files("remotemedia.core").joinpath("manifest.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def load(source: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Read a manifest from a dict (returned as is) or a JSON file path.

    Raises
    ------
    ManifestError
        Unreadable file or invalid JSON (with line and column).
    """
    if isinstance(source, dict):
        return source
    if not isinstance(source, (str, Path)):
        raise TypeError(f"manifest must be a dict or a path, got {type(source).__name__}")
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(str(path), f"cannot read the file: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}") from exc
    return data


def validate(source: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Check a manifest completely (builds the pipeline without running anything).

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    ManifestError
        The first problem, with ``field`` pointing at it (e.g. ``nodes[1].params``).
    """
    from remotemedia.core.pipeline import Pipeline

    data = load(source)
    from_manifest(data, Pipeline).graph.topology()
    return data


def _check_structure(m: Any) -> None:
    if isinstance(m, dict) and "version" in m and m["version"] != MANIFEST_VERSION:
        raise ManifestError(
            "version",
            f"unsupported manifest version {m['version']!r}; this remotemedia reads version {MANIFEST_VERSION}",
        )
    err = first_error(m, schema())
    if err:
        raise ManifestError(*err)
    ids: dict[str, int] = {}
    for i, node in enumerate(m["nodes"]):
        if node["id"] in ids:
            raise ManifestError(f"nodes[{i}].id", f"duplicate node id {node['id']!r} (also nodes[{ids[node['id']]}])")
        ids[node["id"]] = i
    for i, c in enumerate(m.get("connections", [])):
        for end in ("from", "to"):
            if c[end] not in ids:
                raise ManifestError(
                    f"connections[{i}].{end}", f"dangling connection: no node has id {c[end]!r} (ids: {', '.join(ids)})"
                )
    for i, out in enumerate(m.get("outputs", [])):
        if out not in ids:
            raise ManifestError(f"outputs[{i}]", f"no node has id {out!r}")


def from_manifest(source: dict[str, Any] | str | Path, cls: type[Pipeline]) -> Pipeline:
    """Build a pipeline of class ``cls`` from a manifest (see the module doc).

    Raises
    ------
    ManifestError
        The manifest is invalid (``field`` says where).
    """
    m = load(source)
    _check_structure(m)
    config = m.get("config", {})
    pipeline = cls(
        m.get("name"),
        enable_metrics=config.get("enable_metrics", False),
        retry=_build(RetryPolicy, config["retry"], "config.retry") if "retry" in config else None,
        circuit_breaker=(
            _build(CircuitBreakerConfig, config["circuit_breaker"], "config.circuit_breaker")
            if "circuit_breaker" in config
            else None
        ),
        track_memory=config.get("track_memory", False),
    )
    for i, entry in enumerate(m["nodes"]):
        where = f"nodes[{i}]"
        try:
            node_cls = registry.get(entry["node_type"])
        except registry.UnknownNodeTypeError as exc:
            raise ManifestError(f"{where}.node_type", str(exc)) from exc
        kwargs = dict(entry.get("params", {}))
        for reserved in ("name", "runtime_hint", "retry"):
            if reserved in kwargs:
                raise ManifestError(
                    f"{where}.params.{reserved}", f"{reserved!r} belongs in the node entry, not in params"
                )
        retry = _build(RetryPolicy, entry["retry"], f"{where}.retry") if "retry" in entry else None
        try:
            node = _construct(node_cls, entry["id"], kwargs)
        except (TypeError, ValueError) as exc:
            raise ManifestError(
                f"{where}.params", f"{entry['node_type']} (id {entry['id']!r}) rejected them: {exc}"
            ) from exc
        try:
            node.runtime_hint = check_hint(entry.get("runtime_hint", "auto"))
        except ValueError as exc:  # the schema already checks; kept for manifests built by hand
            raise ManifestError(f"{where}.runtime_hint", str(exc)) from exc
        node.retry = retry
        pipeline.graph.add(node)
        pipeline._last = node.name
    try:
        for c in m.get("connections", []):
            pipeline.graph.connect(c["from"], c["to"])
        if "outputs" in m:
            pipeline.graph.set_outputs(m["outputs"])
        pipeline.graph.topology()
    except GraphError as exc:
        raise ManifestError("connections", str(exc)) from exc
    return pipeline


def _construct(node_cls: type[Node], node_id: str, params: dict[str, Any]) -> Node:
    """Build a node from its params; the id, hint and retry policy are set on it afterwards.

    Nodes whose constructor takes ``name`` get it there; the others get it
    assigned, so any Node subclass can be loaded.
    """
    sig = inspect.signature(node_cls)
    takes_name = "name" in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    node = node_cls(name=node_id, **params) if takes_name else node_cls(**params)
    node.name = node_id
    node._auto_named = False
    node._kernels = None
    return node


def _build(kind: Any, d: dict[str, Any], where: str) -> Any:
    try:
        return kind.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise ManifestError(where, str(exc)) from exc


def to_manifest(pipeline: Pipeline) -> dict[str, Any]:
    """The manifest of ``pipeline``; every node parameter and hint is kept.

    Raises
    ------
    TypeError
        A node parameter is not JSON-serialisable, or a node class is not
        registered (the manifest could not be loaded back).
    """
    nodes = []
    for node in pipeline.graph.nodes.values():
        params = node.params()
        try:
            json.dumps(params)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"node {node.describe()}: params are not JSON-serialisable ({exc}): {params!r}") from exc
        try:
            node_type = registry.name_of(type(node))
        except registry.UnknownNodeTypeError as exc:
            raise TypeError(str(exc)) from exc
        entry: dict[str, Any] = {
            "id": node.name,
            "node_type": node_type,
            "params": params,
            "runtime_hint": node.runtime_hint,
        }
        if node.retry is not None:
            entry["retry"] = node.retry.to_dict()
        nodes.append(entry)
    manifest: dict[str, Any] = {
        "version": MANIFEST_VERSION,
        "name": pipeline.name,
        "nodes": nodes,
        "connections": [{"from": a, "to": b} for a, b in pipeline.graph.edges],
        "config": {
            "enable_metrics": pipeline.enable_metrics,
            "track_memory": pipeline.track_memory,
            "retry": pipeline.retry.to_dict(),
            "circuit_breaker": pipeline.circuit_breaker.to_dict(),
        },
    }
    if pipeline.graph.outputs:
        manifest["outputs"] = list(pipeline.graph.outputs)
    return manifest

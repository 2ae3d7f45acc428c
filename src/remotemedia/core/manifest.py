"""Pipeline manifests: read and check a spec, or dump one. Nothing is built here.

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

:func:`parse` turns a dict, a JSON file or JSON text into a checked
:class:`Spec` (plain data); ``Pipeline.from_manifest`` builds itself from
it (:mod:`remotemedia.core.build` makes the nodes). :func:`to_manifest`
dumps a pipeline through its public surface. Checks run in layers, each
error a :class:`ManifestError` pointing at its field: the JSON itself
(UTF-8, syntax, duplicate keys, nesting depth, numbers: no NaN or
Infinity, integers within 64 bits), the schema (structure and types), then
ids and connections. Node types, params and the graph are checked when
the nodes are built.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remotemedia.core import registry
from remotemedia.core.errors import ManifestError
from remotemedia.core.retry import CircuitBreakerConfig, RetryPolicy
from remotemedia.core.schema_check import first_error, path_str

if TYPE_CHECKING:
    from remotemedia.core.pipeline import Pipeline

MANIFEST_VERSION = 1
#: Deepest nesting of JSON arrays / objects a manifest may use.
MAX_DEPTH = 64
#: Integers in a manifest fit in a signed 64-bit value.
MAX_INT = 2**63 - 1


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The manifest JSON Schema shipped in the package."""
    beside = Path(__file__).with_name("manifest.schema.json")
    if beside.is_file():  # an ordinary install: no need for importlib.resources (it pulls in zipfile)
        return json.loads(beside.read_text(encoding="utf-8"))
    from importlib import resources

    text = resources.files("remotemedia.core").joinpath("manifest.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class NodeSpec:
    """One checked node entry: where it is (``nodes[i]``) and what it asks for."""

    where: str
    id: str
    node_type: str
    params: dict[str, Any]
    runtime_hint: str
    retry: RetryPolicy | None


@dataclass(frozen=True)
class Spec:
    """A checked manifest, ready to build (plain data, nothing constructed but config values)."""

    name: str | None
    nodes: tuple[NodeSpec, ...]
    connections: tuple[tuple[str, str], ...]
    outputs: tuple[str, ...] | None
    enable_metrics: bool = False
    track_memory: bool = False
    retry: RetryPolicy | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    source: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


# reading ---------------------------------------------------------------------


class _Odd:
    """A JSON value the decoder met that a manifest refuses; reported with its path by the walk."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


class _Pairs(dict):
    """A decoded JSON object that had a duplicate key (the walk reports it)."""

    duplicate: str = ""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            bad = _Pairs(out)
            bad.duplicate = key
            return bad
        out[key] = value
    return out


def _integer(text: str) -> Any:
    digits = len(text.lstrip("-"))
    if digits > 19:
        return _Odd(f"integer with {digits} digits is out of range (manifest integers fit in 64 bits)")
    return int(text)


def _constant(name: str) -> Any:
    return _Odd(f"{name} is not a number a manifest accepts (JSON has no NaN or Infinity)")


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}:{exc.lineno}:{exc.colno}", f"not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise ManifestError(where, f"nested too deeply (a manifest nests at most {MAX_DEPTH} levels)") from None


def load(source: dict[str, Any] | str | Path) -> dict[str, Any]:
    """Read a manifest: a dict (checked as is), JSON text (a str starting with ``{``) or a JSON file path.

    Raises
    ------
    ManifestError
        Unreadable or non-UTF-8 file, invalid JSON (with line and column),
        duplicate keys, too deep nesting, NaN / Infinity / out-of-range
        numbers, or anything but an object at the top level; ``field``
        points at the value.
    TypeError
        ``source`` is neither a dict, a str nor a Path.
    """
    if isinstance(source, dict):
        data: Any = source
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        data = _decode(source, "(JSON text)")
    elif isinstance(source, (str, Path)):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ManifestError(str(path), f"cannot read the file: {exc.strerror or exc}") from exc
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ManifestError(
                str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
            ) from None
        data = _decode(text, str(path))
    else:
        raise TypeError(f"manifest must be a dict, JSON text or a path, got {type(source).__name__}")
    _walk(data)
    if not isinstance(data, dict):
        got = "null" if data is None else type(data).__name__
        raise ManifestError("(root)", f"a manifest is a JSON object ({{...}}) at the top level, got {got}")
    return data


def _walk(data: Any) -> None:
    """Check every value once, iteratively: depth, duplicate keys, refused numbers."""
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise ManifestError(f"{path_str(path[:4])}...", f"nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(value, _Odd):
            raise ManifestError(path_str(path), value.why)
        if isinstance(value, dict):
            if isinstance(value, _Pairs):
                raise ManifestError(
                    path_str([*path, value.duplicate]),
                    f"duplicate key {value.duplicate!r} in one JSON object; each key may appear once",
                )
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ManifestError(path_str(path), f"object key {k!r} is not a string")
                stack.append((v, [*path, k]))
        elif isinstance(value, (list, tuple)):
            stack.extend((v, [*path, i]) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) > MAX_INT:
                raise ManifestError(path_str(path), "integer is out of range (manifest integers fit in 64 bits)")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ManifestError(path_str(path), f"{value!r} is not a number a manifest accepts (finite only)")


def _check_structure(m: dict[str, Any]) -> None:
    if "version" in m and m["version"] != MANIFEST_VERSION:
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
                known = ", ".join(list(ids)[:10]) + (", ..." if len(ids) > 10 else "")
                raise ManifestError(
                    f"connections[{i}].{end}", f"dangling connection: no node has id {c[end]!r} (ids: {known})"
                )
    for i, out in enumerate(m.get("outputs", [])):
        if out not in ids:
            raise ManifestError(f"outputs[{i}]", f"no node has id {out!r}")


def _config(kind: Any, d: dict[str, Any], where: str) -> Any:
    try:
        return kind.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise ManifestError(where, str(exc)) from exc


def parse(source: dict[str, Any] | str | Path) -> Spec:
    """Read and check a manifest (see :func:`load`) and return its :class:`Spec`.

    Raises
    ------
    ManifestError
        The first problem, with ``field`` pointing at it (e.g. ``nodes[1].retry``).
    """
    m = load(source)
    _check_structure(m)
    config = m.get("config", {})
    nodes = []
    for i, entry in enumerate(m["nodes"]):
        where = f"nodes[{i}]"
        params = dict(entry.get("params", {}))
        for reserved in ("name", "runtime_hint", "retry"):
            if reserved in params:
                raise ManifestError(
                    f"{where}.params.{reserved}", f"{reserved!r} belongs in the node entry, not in params"
                )
        retry = _config(RetryPolicy, entry["retry"], f"{where}.retry") if "retry" in entry else None
        nodes.append(NodeSpec(where, entry["id"], entry["node_type"], params, entry.get("runtime_hint", "auto"), retry))
    return Spec(
        name=m.get("name"),
        nodes=tuple(nodes),
        connections=tuple((c["from"], c["to"]) for c in m.get("connections", [])),
        outputs=tuple(m["outputs"]) if "outputs" in m else None,
        enable_metrics=config.get("enable_metrics", False),
        track_memory=config.get("track_memory", False),
        retry=_config(RetryPolicy, config["retry"], "config.retry") if "retry" in config else None,
        circuit_breaker=(
            _config(CircuitBreakerConfig, config["circuit_breaker"], "config.circuit_breaker")
            if "circuit_breaker" in config
            else None
        ),
        source=m,
    )


# dumping ---------------------------------------------------------------------


def to_manifest(pipeline: Pipeline) -> dict[str, Any]:
    """The manifest of ``pipeline`` (read through its public surface); every node parameter and hint is kept.

    Raises
    ------
    TypeError
        A node parameter is not JSON-serialisable, or a node class is not
        registered (the manifest could not be loaded back).
    """
    nodes = []
    for node in pipeline.nodes:
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

"""A small JSON Schema validator for the keywords the manifest schema uses.

Keywords: type, properties, required, additionalProperties, items,
minItems, enum, const, minimum, minLength, and local ``$ref``
(``#/$defs/...``); annotations ($schema, $id, title, description) are
ignored and any other keyword raises, so the schema cannot silently use
something this checker skips. Written here rather than depending on the
``jsonschema`` package so the SDK keeps numpy as its only dependency; the
test suite checks that ``jsonschema`` (when installed) agrees on the same
documents.
"""

from __future__ import annotations

from typing import Any

_ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "enum",
    "const",
    "minimum",
    "minLength",
    "$ref",
}


def _is_type(value: Any, name: str) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float))
    raise ValueError(f"schema uses unsupported type {name!r}")


def path_str(path: list[str | int]) -> str:
    """``["nodes", 1, "params"]`` -> ``"nodes[1].params"`` (``"(root)"`` when empty)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(root)"


def first_error(instance: Any, schema: dict[str, Any]) -> tuple[str, str] | None:
    """The first violation as ``(path, message)``, or None if ``instance`` is valid."""
    return _check(instance, schema, schema, [])


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: list[str | int]) -> tuple[str, str] | None:
    if not _KNOWN.issuperset(schema):
        unknown = set(schema) - _KNOWN
        raise ValueError(f"schema keyword(s) {sorted(unknown)} not supported by remotemedia's checker")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"only local #/$defs/ references are supported, got {ref!r}")
        return _check(value, root["$defs"][ref[len("#/$defs/") :]], root, path)
    err = _local(value, schema, path)
    if err:
        return err
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            err = _check(item, schema["items"], root, [*path, i])
            if err:
                return err
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                err = _check(item, props[key], root, [*path, key])
            elif extra is False:
                allowed = ", ".join(props)
                return path_str([*path, key]), f"unknown field {key!r} (allowed: {allowed})"
            elif isinstance(extra, dict):
                err = _check(item, extra, root, [*path, key])
            else:
                err = None
            if err:
                return err
    return None


def _local(value: Any, schema: dict[str, Any], path: list[str | int]) -> tuple[str, str] | None:
    """The keywords that look at ``value`` alone (the location string is made only on failure)."""
    err = _local_message(value, schema)
    return (path_str(path), err) if err else None


def _local_message(value: Any, schema: dict[str, Any]) -> str | None:
    if "const" in schema and not _same(value, schema["const"]):
        return f"must be {schema['const']!r}, got {value!r}"
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        allowed = ", ".join(repr(e) for e in schema["enum"])
        return f"must be one of {allowed}, got {value!r}"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return f"must be of type {' or '.join(types)}, got {type(value).__name__} {value!r}"
    if isinstance(value, str) and "minLength" in schema and len(value) < schema["minLength"]:
        return f"must have at least {schema['minLength']} character(s)"
    if _is_type(value, "number") and "minimum" in schema and value < schema["minimum"]:
        return f"must be >= {schema['minimum']}, got {value!r}"
    if isinstance(value, list) and "minItems" in schema and len(value) < schema["minItems"]:
        return f"must have at least {schema['minItems']} item(s)"
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                return f"missing required field {key!r}"
    return None


def _same(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)

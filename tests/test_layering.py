"""Encapsulation across modules (issue 12 item 6), checked on the source.

Import direction is ``tests/test_layers.py``'s job; this file checks that no
module reaches into another object's private attributes: the stream runner
uses ``Pipeline.metrics`` / ``Pipeline.initialized``, manifests build nodes
through ``Node.configure``, the graph reads ``Node.auto_named``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import remotemedia

PACKAGE = Path(remotemedia.__file__).parent
# (module, expression): a class using its own private state on another instance of itself
PRIVATE_ALLOWED = {("core/pipeline.py", "pipeline._last")}
CHECKED = ("core", "nodes", "stream")


def _modules(*packages: str) -> list[Path]:
    return sorted(f for p in packages for f in (PACKAGE / p).rglob("*.py"))


def test_no_module_touches_another_objects_private_attributes() -> None:
    bad = []
    for f in _modules(*CHECKED):
        rel = f.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            expr = ast.unparse(node)
            if (rel, expr) not in PRIVATE_ALLOWED:
                bad.append(f"{rel}:{node.lineno}: {expr}")
    assert not bad, "private attributes used from outside their class:\n" + "\n".join(bad)

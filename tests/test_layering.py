"""Dependencies point down (issue 12 item 6), checked on the source.

- Nodes and the core never import the streaming package, the batch job
  or the CLI above them; the one exception is ``Pipeline``'s own facade
  methods (``stream()``, ``open_stream()``, ``run()`` of a source pipeline)
  that hand over to the stream runner.
- No module reaches into another object's private attributes: the stream
  runner uses ``Pipeline.metrics`` / ``Pipeline.initialized``, manifests
  build nodes through ``Node.configure``, the graph reads ``Node.auto_named``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import remotemedia

PACKAGE = Path(remotemedia.__file__).parent
ABOVE = ("remotemedia.stream", "remotemedia.batch", "remotemedia.cli")
# (module relative to the package, imported module): Pipeline's facade onto the stream runner
IMPORT_ALLOWED = {
    ("core/pipeline.py", "remotemedia.stream.runner"),
    ("core/pipeline.py", "remotemedia.stream.session"),
}
# (module, expression): a class using its own private state on another instance of itself
PRIVATE_ALLOWED = {("core/pipeline.py", "pipeline._last")}
CHECKED = ("core", "nodes", "stream")


def _modules(*packages: str) -> list[Path]:
    return sorted(f for p in packages for f in (PACKAGE / p).rglob("*.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
    return out


def test_nodes_and_core_import_nothing_above_them() -> None:
    bad = []
    for f in _modules("core", "nodes"):
        rel = f.relative_to(PACKAGE).as_posix()
        for line, name in _imports(ast.parse(f.read_text(encoding="utf-8"))):
            if name.startswith(ABOVE) and (rel, name) not in IMPORT_ALLOWED:
                bad.append(f"{rel}:{line} imports {name}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


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

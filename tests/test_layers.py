"""Dependencies in the Python package point down only (docs/architecture.md).

Every import in ``src/remotemedia`` (module level or inside a function) is
resolved to the package component it reaches, and each component may
import only from its own layer or the layers below it. A short allow-list
names the upward imports that exist today, each with the reason; the test
also fails when an allowed one disappears, so the list only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import remotemedia

# The package under test (the source tree in an editable install, the
# installed files otherwise).
PKG = Path(remotemedia.__file__).resolve().parent

# Bottom up. A component is the first path element under remotemedia/
# (a subpackage, or a module without ".py").
LAYERS: list[set[str]] = [
    {"_version", "_build_info", "_lazy", "_quick_exit", "errors"},
    {"_bindings"},
    {"runtime"},
    {"kernels"},
    {"core"},
    {"nodes"},
    {"stream"},
    {"batch", "dataset"},  # dataset outputs are part of the batch job (both ways)
    {"cli", "bench", "testing", "__init__", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}

# Written at install time (pyproject.toml), absent from a source tree.
GENERATED = {"_build_info"}

# (importing module, imported component): why it is allowed for now.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("remotemedia.core.pipeline", "stream"): "Pipeline.stream()/open_stream() call the stream runner "
    "(lazy imports); issue 12 item 6 turns this around (a small public surface for stream/)",
}


def component(module: str) -> str:
    """The component of a dotted module name inside remotemedia ("" for the package root)."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def imported_modules(path: Path) -> list[str]:
    """Names of the remotemedia modules ``path`` imports, anywhere in it (the package root as "remotemedia")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "remotemedia"]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "remotemedia":
            base = node.module or ""
            for alias in node.names:
                # `from remotemedia import runtime` reaches a module; `... import Pipeline` the package's namespace.
                sub = f"{base}.{alias.name}"
                found.append(sub if _is_module(sub) else base)
    return found


def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    if not parts:
        return True
    rel = Path(*parts)
    return parts[-1] in GENERATED or (PKG / rel).with_suffix(".py").is_file() or (PKG / rel / "__init__.py").is_file()


def upward_imports() -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    sources = sorted(PKG.rglob("*.py"))
    assert len(sources) > 40, f"found only {len(sources)} modules under {PKG}"
    for path in sources:
        mod = ".".join(path.relative_to(PKG.parent).with_suffix("").parts).removesuffix(".__init__")
        src = component(mod)
        assert src in LAYER, f"{mod}: component {src!r} is in no layer; add it to LAYERS (and docs/architecture.md)"
        for target in imported_modules(path):
            dst = component(target)
            assert dst in LAYER, f"{mod} imports {target}: component {dst!r} is in no layer"
            if LAYER[dst] > LAYER[src]:
                out[(mod, dst)] = out.get((mod, dst), 0) + 1
    return out


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    found = upward_imports()
    unexpected = sorted(set(found) - set(ALLOWED_UPWARD))
    assert not unexpected, "upward imports (module, component above it): " + ", ".join(map(str, unexpected))
    gone = sorted(set(ALLOWED_UPWARD) - set(found))
    assert not gone, f"allowed upward imports no longer exist, remove them from ALLOWED_UPWARD: {gone}"


def test_only_runtime_loads_a_binding_module() -> None:
    for path in sorted(PKG.rglob("*.py")):
        if path.parent.name == "_bindings":
            continue
        for target in imported_modules(path):
            assert not target.endswith(("cython_binding", "ctypes_binding")), f"{path.name} imports {target}"

"""Lazy exports of a package (PEP 562): its public names imported on first access.

Each package of remotemedia that re-exports names from its submodules
(``remotemedia``, ``core``, ``nodes``, ``stream``, ``batch``, ``dataset``)
builds its module ``__getattr__`` and ``__dir__`` here, so that importing
the package loads no submodule until one of its names is used::

    __getattr__, __dir__ = lazy_exports(__name__, {"Pipeline": ".pipeline", ...})

The package lists the same names under ``if TYPE_CHECKING:`` imports for
type checkers, and in ``__all__``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_exports(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` pair of ``package`` for the names in ``homes``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    homes
        Public name -> where it is defined: a module name, relative to
        ``package`` (``".pipeline"``, ``"..nodes.vad_stream"``) or absolute,
        optionally followed by ``":attribute"`` when the name there differs
        (``".core.registry:register"``). A name whose module is the
        package's submodule of that very name (``"batch": ".batch"``) is
        that submodule.

    The first access imports the module and keeps the value in the
    package, so later accesses are plain attribute lookups. An unknown name
    raises AttributeError as for any module; ``dir()`` lists the
    package's attributes and everything in its ``__all__``.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module

        where, _, attribute = home.partition(":")
        module = import_module(where, package)
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, attribute or name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        namespace = vars(sys.modules[package])
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__

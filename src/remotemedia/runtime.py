"""Finding, loading and reporting the native core.

This module is the only place that reads REMOTEMEDIA_RUNTIME, imports a
binding and decides which one is in use. Probing order: the Cython
extension, then the ctypes library, then none (pure Python). The result is
cached for the life of the process.

REMOTEMEDIA_RUNTIME:
    ``auto`` (default)  Cython, else ctypes, else Python.
    ``rust``            Cython or ctypes; raise if neither loads.
    ``cython``/``ctypes`` that binding; raise if it does not load.
    ``python``          never load native code.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import threading
import warnings
from types import ModuleType
from typing import Any

from remotemedia._bindings.abi import RM_ABI_VERSION
from remotemedia._version import __version__
from remotemedia.errors import RuntimeUnavailableError

ENV_RUNTIME = "REMOTEMEDIA_RUNTIME"
CHOICES = ("auto", "rust", "cython", "ctypes", "python")
BINDINGS = ("cython", "ctypes")
EXPECTED_ABI_VERSION = RM_ABI_VERSION

#: binding name (contract: the "binding" of get_runtime_info) -> its module
_MODULES = {"cython": "remotemedia._bindings.cython_binding", "ctypes": "remotemedia._bindings.ctypes_binding"}
_HOW_TO_GET = (
    "install a prebuilt wheel (pip install --force-reinstall --no-cache-dir remotemedia), "
    "or build from source with cargo and a C compiler on PATH; "
    "set REMOTEMEDIA_RUNTIME=python to choose pure Python and silence this warning"
)

_lock = threading.RLock()
_bindings: dict[str, tuple[ModuleType | None, str | None]] = {}
_selected: tuple[ModuleType | None, str | None] | None = None
_warned = False


def forced_runtime() -> str | None:
    """The REMOTEMEDIA_RUNTIME value if one other than ``auto`` is set.

    Raises
    ------
    ValueError
        If the variable holds an unknown value.
    """
    value = os.environ.get(ENV_RUNTIME, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in CHOICES:
        raise ValueError(f"{ENV_RUNTIME}={value!r} is not one of {', '.join(CHOICES)}")
    return value


def load_binding(name: str) -> tuple[ModuleType | None, str | None]:
    """Import one binding and check its ABI version; cached.

    Returns ``(module, None)`` on success and ``(None, reason)`` otherwise.
    Never consults REMOTEMEDIA_RUNTIME (tests use it to reach each binding).
    """
    if name not in BINDINGS:
        raise ValueError(f"unknown binding {name!r}; expected one of {', '.join(BINDINGS)}")
    with _lock:
        if name not in _bindings:
            _bindings[name] = _import_binding(name)
        return _bindings[name]


def _import_binding(name: str) -> tuple[ModuleType | None, str | None]:
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        return None, f"{name} binding not loadable: {exc}"
    found = module.abi_version()
    if found != EXPECTED_ABI_VERSION:
        return None, (
            f"{name} binding has native ABI version {found}, this package needs {EXPECTED_ABI_VERSION}; "
            "reinstall remotemedia so that package and native core match"
        )
    return module, None


def _select() -> tuple[ModuleType | None, str | None]:
    global _selected
    with _lock:
        if _selected is not None:
            return _selected
        forced = forced_runtime()
        if forced == "python":
            _selected = (None, f"{ENV_RUNTIME}=python: native code is not loaded")
        elif forced in BINDINGS:
            _selected = load_binding(forced)
        else:
            reasons = []
            for name in BINDINGS:
                module, reason = load_binding(name)
                if module is not None:
                    _selected = (module, None)
                    break
                reasons.append(reason)
            else:
                _selected = (None, _unavailable_reason(reasons))
        return _selected


def build_kind() -> tuple[str | None, str | None]:
    """How this install was built: ("native" | "pure", why pure) or (None, None) from a source tree."""
    try:
        build_info = importlib.import_module("remotemedia._build_info")  # generated at install time
    except ImportError:
        return None, None
    return build_info.BUILD, build_info.REASON


def _unavailable_reason(reasons: list[str | None]) -> str:
    detail = "; ".join(r for r in reasons if r)
    kind, why = build_kind()
    if kind == "pure" and why:
        return f"this is a pure-Python install: {why} ({detail})"
    return detail


def _raise_if_forced_unmet() -> None:
    forced = forced_runtime()
    module, reason = _select()
    if module is None and forced in ("rust", "cython", "ctypes"):
        raise RuntimeUnavailableError(f"{ENV_RUNTIME}={forced} was requested but cannot be met: {reason}")


def try_load_rust_runtime() -> tuple[bool, ModuleType | None, str | None]:
    """Try to load the native core; never raises, never warns.

    Returns
    -------
    (ok, module, error)
        ``module`` is the binding module in use; ``error`` says why not.
    """
    module, reason = _select()
    return module is not None, module, reason


def is_rust_runtime_available() -> bool:
    """True if the native core is loaded and will be used.

    The first time the answer is False (and pure Python was not chosen on
    purpose) a single UserWarning says why and how to get the native core.

    Raises
    ------
    RuntimeUnavailableError
        If REMOTEMEDIA_RUNTIME forces a native binding that does not load.
    """
    global _warned
    _raise_if_forced_unmet()
    module, reason = _select()
    if module is None and not _warned and forced_runtime() != "python":
        _warned = True
        warnings.warn(
            f"remotemedia native core unavailable, running pure Python (same results, slower). "
            f"Reason: {reason}. To get it: {_HOW_TO_GET}.",
            UserWarning,
            stacklevel=2,
        )
    return module is not None


def get_rust_runtime() -> ModuleType | None:
    """The binding module in use, or None when running pure Python.

    Raises
    ------
    RuntimeUnavailableError
        If REMOTEMEDIA_RUNTIME forces a native binding that does not load.
    """
    _raise_if_forced_unmet()
    return _select()[0]


def chosen_native() -> bool | None:
    """Whether this process has chosen the native core (True) or pure Python (False); None when
    nothing has chosen yet. Chooses nothing, loads nothing, never raises."""
    with _lock:
        return None if _selected is None else _selected[0] is not None


def _probe() -> tuple[str | None, ModuleType | None, str | None]:
    """(forced, module, reason) for the reports below; never raises."""
    try:
        forced = forced_runtime()
    except ValueError as exc:
        return "invalid", None, str(exc)
    module, reason = _select()
    return forced, module, reason


def runtime_brief() -> dict[str, Any]:
    """The ``binding``, ``rust_available`` and ``version`` entries of :func:`get_runtime_info`, alone.

    What a batch run's summary records. Never raises or warns. It leaves out
    ``platform.platform()``, which runs ``uname -p`` in a child process the
    first time (~4 ms of CPU at the start of every ``remotemedia run``).
    """
    _, module, _ = _probe()
    return {"binding": getattr(module, "BINDING", None), "rust_available": module is not None, "version": __version__}


def get_runtime_info() -> dict[str, Any]:
    """What runs and why, as a JSON-serialisable dict. Never raises or warns."""
    forced, module, reason = _probe()
    import numpy

    info: dict[str, Any] = {
        "version": __version__,
        "rust_available": module is not None,
        "binding": getattr(module, "BINDING", None),
        "reason": reason,
        "native_version": module.version() if module is not None else None,
        "abi_version": module.abi_version() if module is not None else None,
        "cpu_features": module.cpu_features() if module is not None else None,
        "forced": forced,
        "build": build_kind()[0],
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }
    if module is not None and getattr(module, "LIBRARY_PATH", None) is not None:
        info["library"] = str(module.LIBRARY_PATH)
    return info


def _reset_for_tests() -> None:
    """Forget every probe result (tests change the environment)."""
    global _selected, _warned
    with _lock:
        _selected = None
        _warned = False
        _bindings.clear()

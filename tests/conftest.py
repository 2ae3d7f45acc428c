"""Shared fixtures: every kernel and node test runs on every available body.

The ``ks`` fixture is parametrized over the kernel sets that load here:
numpy ("python"), and the native core through each binding ("cython",
"ctypes"). REMOTEMEDIA_RUNTIME narrows the list (``python`` keeps only
numpy; ``cython``/``ctypes`` keep numpy and that binding).
REMOTEMEDIA_EXPECT_BINDINGS (comma-separated) makes a missing binding an
error instead of a shorter list, so CI cannot pass by silently testing less.

Tests that read the shared recordings (``../shared/data`` next to the
clone, or ``$REMOTEMEDIA_SHARED_DIR/data``) ask for the ``shared_data``
fixture (directly or through their own fixtures): where the recordings are
absent they skip, with a reason, so the README's test command passes on a
fresh clone. REMOTEMEDIA_REQUIRE_SHARED=1 (set by .ci/run) turns that skip
into a failure, so CI cannot pass by silently testing less either.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import pytest

import remotemedia
from remotemedia import kernels, runtime
from remotemedia.errors import RuntimeUnavailableError


def _wanted_bindings() -> list[str]:
    forced = runtime.forced_runtime()
    if forced == "python":
        return []
    if forced in ("cython", "ctypes"):
        return [forced]
    return list(runtime.BINDINGS)


def _available_ids() -> list[str]:
    ids = ["python"]
    for binding in _wanted_bindings():
        module, _ = runtime.load_binding(binding)
        if module is not None:
            ids.append(binding)
    return ids


AVAILABLE = _available_ids()
NATIVE = [i for i in AVAILABLE if i != "python"]
# Bindings that load here whatever REMOTEMEDIA_RUNTIME says (for probe tests).
LOADABLE = [b for b in runtime.BINDINGS if runtime.load_binding(b)[0] is not None]


REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ENV = "REMOTEMEDIA_SHARED_DIR"
REQUIRE_SHARED_ENV = "REMOTEMEDIA_REQUIRE_SHARED"
# What the tests read from the shared data folder (each path must exist).
SHARED_NEEDS = ("real-speech/doing_the_dishes.wav",)


def shared_data_dir() -> Path:
    """Where the shared recordings should be: ``$REMOTEMEDIA_SHARED_DIR/data`` or ``../shared/data``."""
    env = os.environ.get(SHARED_ENV)
    return (Path(env) if env else REPO_ROOT.parent / "shared") / "data"


def shared_data_missing() -> str | None:
    """Why the shared recordings cannot be used here, or None when they can."""
    root = shared_data_dir()
    missing = [need for need in SHARED_NEEDS if not (root / need).is_file()]
    if not missing:
        return None
    return (
        f"the shared recordings are not in {root} (missing {', '.join(missing)}): put the shared data folder "
        f"next to the clone (../shared/data) or set {SHARED_ENV} to the folder that holds data/"
    )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared recordings folder; skips (or fails under REMOTEMEDIA_REQUIRE_SHARED=1) when absent."""
    reason = shared_data_missing()
    if reason is not None:
        if os.environ.get(REQUIRE_SHARED_ENV, "") not in ("", "0"):
            pytest.fail(f"{REQUIRE_SHARED_ENV} is set: {reason}", pytrace=False)
        pytest.skip(reason)
    return shared_data_dir()


def kernel_set(set_id: str) -> kernels.KernelSet:
    """The kernel set for a parametrize id ("python", "cython", "ctypes")."""
    return kernels.get("python") if set_id == "python" else kernels.get("rust", binding=set_id)


def _settle_probe() -> None:
    """Run the automatic probe once with its one-time warning consumed.

    In an install without the native core the first automatic choice warns
    (tested on its own in test_runtime.py); every other test must not
    depend on being first.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with contextlib.suppress(RuntimeUnavailableError, ValueError):
            runtime.is_rust_runtime_available()


def pytest_configure(config: pytest.Config) -> None:
    _settle_probe()
    expected = [b for b in os.environ.get("REMOTEMEDIA_EXPECT_BINDINGS", "").split(",") if b]
    missing = [b for b in expected if b not in AVAILABLE]
    if missing:
        reasons = {b: runtime.load_binding(b)[1] for b in missing}
        raise pytest.UsageError(f"REMOTEMEDIA_EXPECT_BINDINGS wants {missing}, not loadable: {reasons}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that need the labelled VAD corpus (espeak-ng and ../shared recordings)."""
    for item in items:
        if item.path.name == "test_vad_quality.py" or "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = remotemedia.get_runtime_info()
    return [
        f"remotemedia {info['version']}: kernel sets under test: {', '.join(AVAILABLE)}",
        f"automatic choice: binding={info['binding']} forced={info['forced']} reason={info['reason']}",
    ]


@pytest.fixture(params=AVAILABLE)
def ks(request: pytest.FixtureRequest) -> kernels.KernelSet:
    """Each available kernel set in turn."""
    return kernel_set(request.param)


@pytest.fixture(params=NATIVE or [pytest.param("none", marks=pytest.mark.native)])
def native_ks(request: pytest.FixtureRequest) -> kernels.KernelSet:
    """Each native kernel set (for tests of the native core itself)."""
    if request.param == "none":
        pytest.skip("no native binding under test here (pure-Python install, or REMOTEMEDIA_RUNTIME=python)")
    return kernel_set(request.param)


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch):
    """Forget cached probe results before and after a test that edits the env."""
    runtime._reset_for_tests()
    kernels._cache.clear()
    yield monkeypatch
    monkeypatch.undo()
    runtime._reset_for_tests()
    kernels._cache.clear()
    _settle_probe()


@pytest.fixture(params=AVAILABLE)
def runtime_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Force REMOTEMEDIA_RUNTIME to each available runtime in turn (pipeline-level tests).

    Yields ``(kernel set name, binding)`` that ``auto`` nodes must then use:
    ``("python", None)``, ``("rust", "cython")`` or ``("rust", "ctypes")``.
    """
    runtime._reset_for_tests()
    kernels._cache.clear()
    monkeypatch.setenv("REMOTEMEDIA_RUNTIME", request.param)
    yield ("python", None) if request.param == "python" else ("rust", request.param)
    monkeypatch.undo()
    runtime._reset_for_tests()
    kernels._cache.clear()
    _settle_probe()

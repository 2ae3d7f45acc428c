"""The runtime probe: detection, caching, the single warning, forced choices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import remotemedia
from conftest import LOADABLE, NATIVE
from remotemedia import kernels, runtime
from remotemedia.errors import RuntimeUnavailableError


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REMOTEMEDIA_RUNTIME")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, env=full_env, check=False
    )


def hide_native(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_MODULES", {"cython": "remotemedia._absent_a", "ctypes": "remotemedia._absent_b"})


def test_public_api_names() -> None:
    for name in ("is_rust_runtime_available", "try_load_rust_runtime", "get_rust_runtime", "get_runtime_info"):
        assert callable(getattr(remotemedia, name))
        assert name in remotemedia.__all__


def test_import_never_warns() -> None:
    done = run_python("import remotemedia; print('ok')", REMOTEMEDIA_RUNTIME="auto")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok" and done.stderr == ""


def test_info_agrees_with_probe(fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.delenv("REMOTEMEDIA_RUNTIME", raising=False)
    ok, module, error = remotemedia.try_load_rust_runtime()
    info = remotemedia.get_runtime_info()
    assert info["rust_available"] is ok
    assert (module is None) == (error is not None)
    assert remotemedia.get_rust_runtime() is module
    json.dumps(info)
    if ok:
        assert info["binding"] == LOADABLE[0] == module.BINDING
        assert info["abi_version"] == runtime.EXPECTED_ABI_VERSION
        assert info["reason"] is None and info["native_version"] == module.version()
    else:
        assert info["binding"] is None and "not loadable" in info["reason"]


def test_probe_is_cached(fresh_runtime: pytest.MonkeyPatch) -> None:
    first = remotemedia.try_load_rust_runtime()
    hide_native(fresh_runtime)  # a new probe would now fail; the cached answer must stand
    assert remotemedia.try_load_rust_runtime() == first


def test_unavailable_warns_once_with_reason(fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.delenv("REMOTEMEDIA_RUNTIME", raising=False)
    hide_native(fresh_runtime)
    with pytest.warns(UserWarning, match=r"native core unavailable.*Reason: .*cython binding not loadable") as record:
        assert remotemedia.is_rust_runtime_available() is False
    assert len(record) == 1
    assert "REMOTEMEDIA_RUNTIME=python" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert remotemedia.is_rust_runtime_available() is False
        assert kernels.get().name == "python"
        assert "cython binding not loadable" in remotemedia.get_runtime_info()["reason"]


def test_forced_python_never_loads_native_and_never_warns() -> None:
    code = (
        "import sys, remotemedia, json\n"
        "assert remotemedia.is_rust_runtime_available() is False\n"
        "assert not [m for m in sys.modules if m.endswith(('cython_binding', 'ctypes_binding'))], sys.modules\n"
        "print(json.dumps(remotemedia.get_runtime_info()))\n"
    )
    done = run_python(code, REMOTEMEDIA_RUNTIME="python")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["forced"] == "python" and info["binding"] is None and "REMOTEMEDIA_RUNTIME=python" in info["reason"]


@pytest.mark.parametrize("forced", ["rust", "cython", "ctypes"])
def test_forced_native_choice(forced: str, fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", forced)
    can = [b for b in LOADABLE if forced in ("rust", b)]
    if can:
        assert remotemedia.is_rust_runtime_available() is True
        assert can[0] == remotemedia.get_rust_runtime().BINDING
        assert kernels.get().binding == can[0]
        assert remotemedia.get_runtime_info()["forced"] == forced
    else:
        with pytest.raises(
            RuntimeUnavailableError, match=f"REMOTEMEDIA_RUNTIME={forced} was requested but cannot be met"
        ):
            remotemedia.is_rust_runtime_available()
        with pytest.raises(RuntimeUnavailableError):
            kernels.get()
        assert remotemedia.try_load_rust_runtime()[0] is False


@pytest.mark.parametrize("forced", ["rust", "cython", "ctypes"])
def test_forced_choice_that_cannot_be_met_raises(forced: str, fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", forced)
    hide_native(fresh_runtime)
    with pytest.raises(RuntimeUnavailableError, match=f"REMOTEMEDIA_RUNTIME={forced} was requested"):
        remotemedia.get_rust_runtime()
    with pytest.raises(RuntimeUnavailableError, match="cannot be met"):
        remotemedia.convert(np.zeros(3, np.float32), "i16")
    info = remotemedia.get_runtime_info()
    assert info["rust_available"] is False and info["forced"] == forced


def test_invalid_env_value_is_rejected(fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", "fortran")
    with pytest.raises(ValueError, match=r"REMOTEMEDIA_RUNTIME='fortran' is not one of auto, rust"):
        remotemedia.is_rust_runtime_available()
    assert remotemedia.get_runtime_info()["forced"] == "invalid"


def test_abi_version_mismatch_is_refused(fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.setattr(runtime, "EXPECTED_ABI_VERSION", 999)
    for binding in runtime.BINDINGS:
        module, reason = runtime.load_binding(binding)
        assert module is None
        if binding in NATIVE:
            assert "needs 999" in reason


def test_ctypes_library_from_env(fresh_runtime: pytest.MonkeyPatch, tmp_path) -> None:
    missing = tmp_path / "nope.so"
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME_LIB", str(missing))
    sys.modules.pop("remotemedia._bindings.ctypes_binding", None)
    module, reason = runtime.load_binding("ctypes")
    assert module is None and f"REMOTEMEDIA_RUNTIME_LIB={missing} does not name a file" in reason
    sys.modules.pop("remotemedia._bindings.ctypes_binding", None)


def test_kernel_get_arguments() -> None:
    with pytest.raises(ValueError, match="unknown kernel set 'fast'"):
        kernels.get("fast")
    with pytest.raises(ValueError, match="unknown binding 'cffi'"):
        kernels.get(binding="cffi")
    with pytest.raises(ValueError, match="the python kernel set has no binding"):
        kernels.get("python", binding="cython")
    names = [ks.binding or ks.name for ks in kernels.available()]
    assert names[0] == "python" and set(NATIVE) <= set(names)


@pytest.mark.parametrize("setting", ["auto", "python", "fortran", "hidden"])
def test_brief_is_the_infos_entries(fresh_runtime: pytest.MonkeyPatch, setting: str) -> None:
    """What a batch summary records is get_runtime_info's binding, rust_available and version, whatever runs."""
    if setting == "hidden":
        fresh_runtime.delenv("REMOTEMEDIA_RUNTIME", raising=False)
        hide_native(fresh_runtime)
    else:
        fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", setting)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        brief = runtime.runtime_brief()
    info = remotemedia.get_runtime_info()
    assert brief == {k: info[k] for k in ("binding", "rust_available", "version")}
    assert list(brief) == ["binding", "rust_available", "version"]
    if setting == "auto" and NATIVE:
        assert brief["binding"] == LOADABLE[0] and brief["rust_available"] is True

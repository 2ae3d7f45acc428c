"""Runtime selection for pipelines: detection, hints, use_rust, fallbacks, consistency."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

import remotemedia
from remotemedia import Pipeline, kernels, runtime
from remotemedia.core.errors import NodeError, RuntimeContradictionError
from remotemedia.errors import NativeKernelError, RuntimeUnavailableError
from remotemedia.kernels import KernelSet
from remotemedia.nodes import FormatConverterNode


def _hide_native(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every binding fail to import, as on a machine without the native core."""
    monkeypatch.delenv("REMOTEMEDIA_RUNTIME", raising=False)
    monkeypatch.setattr(runtime, "_MODULES", {"cython": "remotemedia._absent_a", "ctypes": "remotemedia._absent_b"})


def _audio() -> tuple[np.ndarray, int]:
    return (np.random.default_rng(1).standard_normal((2, 4800)) * 0.3).astype(np.float32), 48000


# detection functions ----------------------------------------------------------


def test_detection_functions_agree(fresh_runtime: pytest.MonkeyPatch) -> None:
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", "python")
    ok, module, error = remotemedia.try_load_rust_runtime()
    assert (ok, module) == (False, None)
    assert "REMOTEMEDIA_RUNTIME=python" in error
    assert remotemedia.is_rust_runtime_available() is False
    assert remotemedia.get_rust_runtime() is None


@pytest.mark.native
def test_detection_with_a_binding(native_ks: KernelSet, fresh_runtime: pytest.MonkeyPatch) -> None:
    binding = native_ks.binding
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", binding)
    ok, module, error = remotemedia.try_load_rust_runtime()
    assert ok and error is None and binding == module.BINDING
    assert remotemedia.is_rust_runtime_available() is True
    assert remotemedia.get_rust_runtime() is module
    assert remotemedia.get_runtime_info()["binding"] == binding


# automatic selection and explicit hints --------------------------------------


def test_auto_nodes_use_the_available_runtime(runtime_env: tuple[str, str | None]) -> None:
    name, binding = runtime_env
    p = Pipeline(enable_metrics=True).add_node(FormatConverterNode("f32")).add_node(FormatConverterNode("i16"))
    assert p.runtime_plan() == {
        "FormatConverterNode": {"runtime": name, "binding": binding},
        "FormatConverterNode_1": {"runtime": name, "binding": binding},
    }
    p.run_sync(_audio())
    nodes = p.get_metrics()["nodes"]
    assert [(n["runtime"], n["binding"]) for n in nodes.values()] == [(name, binding)] * 2


def test_python_hint_uses_python(runtime_env: tuple[str, str | None]) -> None:
    p = Pipeline(enable_metrics=True).add_node(FormatConverterNode("i16", runtime_hint="python"))
    p.run_sync(_audio())
    assert p.get_metrics()["nodes"]["FormatConverterNode"]["runtime"] == "python"


def test_rust_hint_uses_rust_or_fails_naming_the_node(runtime_env: tuple[str, str | None]) -> None:
    name, binding = runtime_env
    p = Pipeline("hinted").add_node(FormatConverterNode("i16", runtime_hint="rust", name="conv"))
    if name == "rust":
        assert p.runtime_plan() == {"conv": {"runtime": "rust", "binding": binding}}
        return
    with pytest.raises(
        RuntimeUnavailableError,
        match=r"node 'conv' \(FormatConverterNode\) in pipeline 'hinted' requires the native core",
    ):
        p.run_sync(_audio())


def test_use_rust_false_runs_auto_nodes_in_python(runtime_env: tuple[str, str | None]) -> None:
    p = Pipeline(enable_metrics=True).add_node(FormatConverterNode("i16"))
    p.run_sync(_audio(), use_rust=False)
    assert p.get_metrics()["nodes"]["FormatConverterNode"]["runtime"] == "python"


def test_rust_hint_with_use_rust_false_is_a_contradiction_raised_before_anything_runs() -> None:
    calls: list[str] = []

    class Spy(remotemedia.Node):
        def process(self, data: Any) -> Any:
            calls.append(self.name)
            return data

    p = Pipeline("c").add_node(Spy(name="first")).add_node(FormatConverterNode("i16", runtime_hint="rust", name="x"))
    with pytest.raises(
        RuntimeContradictionError, match=r"node 'x' \(FormatConverterNode\) in pipeline 'c' has runtime_hint='rust'"
    ):
        p.run_sync(_audio(), use_rust=False)
    assert calls == []


def test_unknown_hint() -> None:
    with pytest.raises(ValueError, match="runtime_hint must be one of 'auto', 'rust', 'python', got 'gpu'"):
        FormatConverterNode("f32", runtime_hint="gpu")


# fallback when the native core is missing -------------------------------------


def test_planned_fallback_warns_once_and_logs_info(
    fresh_runtime: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _hide_native(fresh_runtime)
    p = Pipeline("portable", enable_metrics=True).add_node(FormatConverterNode("i16", name="conv"))
    with (
        caplog.at_level(logging.INFO, logger="remotemedia.pipeline"),
        pytest.warns(UserWarning, match="native core unavailable, running pure Python"),
    ):
        out = p.run_sync(_audio())
    assert any(
        "'conv' (FormatConverterNode) in pipeline 'portable' falls back to Python (planned)" in r.message
        for r in caplog.records
    )
    assert all(r.levelno == logging.INFO for r in caplog.records)
    assert p.get_metrics()["nodes"]["conv"]["runtime"] == "python"
    np.testing.assert_array_equal(out.data, kernels.get("python").convert(_audio()[0], "i16"))


def test_pipeline_works_without_rust(fresh_runtime: pytest.MonkeyPatch) -> None:
    _hide_native(fresh_runtime)
    x, rate = _audio()
    with pytest.warns(UserWarning):
        assert remotemedia.is_rust_runtime_available() is False
    out = Pipeline().add_node(FormatConverterNode("i16")).add_node(FormatConverterNode("f32")).run_sync((x, rate))
    np.testing.assert_allclose(out.data, np.clip(x, -1, 32767 / 32768), atol=1 / 32768)


def test_forced_rust_without_native_fails_clearly(fresh_runtime: pytest.MonkeyPatch) -> None:
    _hide_native(fresh_runtime)
    fresh_runtime.setenv("REMOTEMEDIA_RUNTIME", "rust")
    p = Pipeline().add_node(FormatConverterNode("i16"))
    with pytest.raises(RuntimeUnavailableError, match="REMOTEMEDIA_RUNTIME=rust was requested but cannot be met"):
        p.run_sync(_audio())


# fallback when a native kernel fails internally --------------------------------


class PanickyConverter(FormatConverterNode):
    """Triggers a real Rust panic (caught at the ABI) whenever it runs natively."""

    def process_with(self, data: Any, kernels: KernelSet) -> Any:
        if kernels.name == "rust":
            module, _ = runtime.load_binding(kernels.binding)
            module.debug_panic()
        return super().process_with(data, kernels)


@pytest.mark.native
def test_native_internal_failure_reruns_the_step_in_python(
    native_ks: KernelSet, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kernels, "get", _forcing(native_ks))
    calls: list[int] = []

    class Counter(remotemedia.Node):
        def process(self, data: Any) -> Any:
            calls.append(1)
            return data

    p = Pipeline("fb", enable_metrics=True).add_node(Counter(name="before")).add_node(PanickyConverter("i16"))
    with caplog.at_level(logging.WARNING, logger="remotemedia.pipeline"):
        out = p.run_sync(_audio())
    np.testing.assert_array_equal(out.data, native_ks.convert(_audio()[0], "i16"))
    assert calls == [1], "the whole pipeline must not be re-run"
    assert any(
        "failed internally" in r.message and "re-running this step in Python" in r.message for r in caplog.records
    )
    stats = p.get_metrics()["nodes"]["PanickyConverter"]
    assert (stats["runtime"], stats["fallbacks"], stats["errors"]) == ("python", 1, 0)


@pytest.mark.native
def test_native_failure_outside_a_pipeline_is_a_native_kernel_error(native_ks: KernelSet) -> None:
    with pytest.raises(NativeKernelError, match="deliberate panic"):
        PanickyConverter("i16").process_with(_audio(), native_ks)


def test_bad_input_is_not_rerun_in_python(runtime_env: tuple[str, str | None]) -> None:
    seen: list[str] = []

    class Recording(FormatConverterNode):
        def process_with(self, data: Any, kernels: KernelSet) -> Any:
            seen.append(kernels.name)
            return super().process_with(data, kernels)

    with pytest.raises(ValueError, match="expected 1-D \\(mono\\) or 2-D") as info:
        Pipeline().add_node(Recording("i16")).run_sync((np.zeros((1, 2, 3), np.float32), 16000))
    assert isinstance(info.value, NodeError)
    assert seen == [runtime_env[0]]


def _forcing(ks: KernelSet) -> Any:
    """A kernels.get replacement whose automatic/rust choice is ``ks``."""
    real = kernels.get

    def get(name: str | None = None, binding: str | None = None) -> KernelSet:
        if name == "python":
            return real("python")
        return ks

    return get


# result consistency ----------------------------------------------------------


@pytest.mark.native
def test_results_equal_between_rust_and_python(native_ks: KernelSet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "get", _forcing(native_ks))
    x = (np.random.default_rng(3).standard_normal((2, 9600)) * 0.7).astype(np.float32)
    p = Pipeline().add_node(FormatConverterNode("i16")).add_node(FormatConverterNode("f32"))
    native = p.run_sync((x, 48000))
    python = p.run_sync((x, 48000), use_rust=False)
    np.testing.assert_array_equal(native.data, python.data)
    assert native.data.dtype == np.float32 and native.data.shape == x.shape

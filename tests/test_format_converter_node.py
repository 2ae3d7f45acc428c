"""FormatConverterNode through the node harness, on every runtime."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import AudioBuffer, kernels
from remotemedia.nodes import FormatConverterNode
from remotemedia.testing import run_node


@pytest.mark.parametrize("to", ["f32", "i16", "i32"])
def test_converts_like_the_kernel(runtime_env: tuple[str, str | None], to: str) -> None:
    x = (np.random.default_rng(0).standard_normal((2, 1000)) * 0.5).astype(np.float32)
    out = run_node(FormatConverterNode(to), x, sample_rate=48000)
    assert isinstance(out, AudioBuffer)
    assert out.sample_rate == 48000
    np.testing.assert_array_equal(out.data, kernels.get("python").convert(x, to))


def test_keeps_metadata(runtime_env: tuple[str, str | None]) -> None:
    buf = AudioBuffer(np.array([0, 16384, -32768], np.int16), 16000, {"t0": 1.5})
    out = run_node(FormatConverterNode("f32"), buf)
    np.testing.assert_array_equal(out.data, np.array([0.0, 0.5, -1.0], np.float32))
    assert out.metadata == {"t0": 1.5}


def test_bad_target_format() -> None:
    with pytest.raises(ValueError, match="unknown target format 'u8'"):
        FormatConverterNode("u8")


def test_bad_input_is_the_same_error_on_every_runtime(runtime_env: tuple[str, str | None]) -> None:
    with pytest.raises(TypeError, match="unsupported dtype uint8"):
        run_node(FormatConverterNode("f32"), np.zeros(4, np.uint8), sample_rate=16000)

"""Bad or extreme input at the kernel edges: clear errors, the same on every body.

- A zero (or any out-of-range) rate reaching the native core directly is an
  invalid argument, never a Rust panic (the core validates before it divides).
- Values beyond a format's range saturate silently on every body: no body
  emits overflow RuntimeWarnings, so ``-W error`` cannot make one body fail
  where the others pass.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import AVAILABLE, kernel_set
from remotemedia import runtime
from remotemedia._bindings.abi import QUALITY_CODES
from remotemedia.errors import NativeKernelError


@pytest.mark.parametrize(("in_rate", "out_rate"), [(0, 16000), (16000, 0), (0, 0), (999, 16000), (48000, 4_000_000)])
def test_bad_rates_on_the_raw_binding_are_value_errors_not_panics(native_ks, in_rate, out_rate):
    module, _ = runtime.load_binding(native_ks.binding)
    x = np.zeros((1, 4), np.float32)
    out = np.zeros((1, 4), np.float32)
    msg = r"rm_resample: invalid argument: .*rate .* Hz is outside the supported range"
    with pytest.raises(ValueError, match=msg) as err:
        module.resample(in_rate, out_rate, QUALITY_CODES["high"], x, out)
    assert not isinstance(err.value, NativeKernelError)
    with pytest.raises(ValueError, match="outside the supported range"):
        module.Resampler(in_rate, out_rate, 1, QUALITY_CODES["high"])


EXTREMES = np.array([0.0, 1e308, -1e308, np.inf, -np.inf, np.nan, 3.5e38, -3.5e38, 5e-324, 1.0, -1.0], np.float64)


def _extreme(dtype: type, channels: int, reps: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        row = np.tile(EXTREMES, reps).astype(dtype)
    return row if channels == 1 else np.stack([row, row[::-1].copy()])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("channels", [1, 2])
def test_extreme_values_raise_no_warnings_on_any_body(ks, dtype, channels):
    x = _extreme(dtype, channels, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        i16 = ks.convert(x, "i16")
        i32 = ks.convert(x, "i32")
        f32 = ks.convert(x, "f32")
        y = ks.resample(x, 48000, 16000, "high")
        s = ks.Resampler(44100, 16000, channels, "low")
        z = np.concatenate([s.process(x), s.flush()], axis=-1)
        flags = ks.VAD(16000, 10, 3).process(x)
        segs = ks.speech_segments(x, 16000, 10, 3)
    # the saturation rules themselves
    row = i16 if channels == 1 else i16[0]
    assert row[1] == 32767 and row[2] == -32768 and row[5] == 0  # 1e308, -1e308, NaN
    row32 = i32 if channels == 1 else i32[0]
    assert row32[3] == 2**31 - 1 and row32[4] == -(2**31)  # +-inf
    assert f32.dtype == np.float32 and np.isinf(f32 if channels == 1 else f32[0])[1]
    assert y.dtype == np.float32 and z.dtype == np.float32
    assert flags.dtype == np.uint8 and flags.size == x.shape[-1] // 160
    assert isinstance(segs, list)


def test_extreme_values_give_the_same_results_on_every_body():
    x = _extreme(np.float64, 2, 200)
    results = {}
    for set_id in AVAILABLE:
        ks = kernel_set(set_id)
        results[set_id] = (ks.convert(x, "i16"), ks.convert(x, "i32"), ks.VAD(16000, 10, 3).process(x))
    ref = results["python"]
    for set_id, got in results.items():
        for a, b in zip(ref, got, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=set_id)


def test_resampling_past_float32_range_saturates_without_a_warning(ks):
    """Found by the fuzz suite: the numpy body warned when a filtered sum left the float32 range."""
    x = np.full(64, 3.4e38, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ks.resample(x, 8000, 11025, "low")
    assert y.dtype == np.float32 and y.shape == (89,)  # ceil(64 * 11025 / 8000)
    assert np.isinf(y).any() and not np.isnan(y).any()


@pytest.mark.parametrize("empty", [np.zeros(0, np.float32), np.zeros(0, np.int16).reshape(0, 1)[:, 0]])
def test_raw_convert_refuses_a_wrong_empty_buffer_on_both_bindings(native_ks, empty):
    """Found by the fuzz suite: the ctypes binding skipped its buffer checks for empty arrays."""
    module, _ = runtime.load_binding(native_ks.binding)
    x = empty if empty.dtype != np.int16 else empty.astype(np.int32)  # never the int16 the function takes
    with pytest.raises(ValueError):
        module.convert_i16_f32(x, np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        module.convert_i16_f32(np.zeros(0, np.int16), np.zeros(0, np.int32))  # wrong output dtype
    module.convert_i16_f32(np.zeros(0, np.int16), np.zeros(0, np.float32))  # the right empty buffers pass

"""PCM conversion: every body against a per-sample reference and each other."""

from __future__ import annotations

import math

import numpy as np
import pytest

import remotemedia
from remotemedia.kernels import KernelSet

SCALE = {"i16": 2**15, "i32": 2**31}
LIMITS = {"i16": (-(2**15), 2**15 - 1), "i32": (-(2**31), 2**31 - 1)}
DTYPES = {"i16": np.int16, "i32": np.int32, "f32": np.float32}


def reference(value: float | int, src: np.dtype, to: str) -> float | int:
    """One sample, by the documented rules, in plain Python (round() is half-even)."""
    if to == "f32":
        if src.kind == "i":
            return float(np.float32(value)) / (SCALE["i16"] if src == np.int16 else SCALE["i32"])
        return float(np.float32(value))
    lo, hi = LIMITS[to]
    if src.kind == "i":
        if src == np.int16 and to == "i32":
            return int(value) * 65536
        if src == np.int32 and to == "i16":
            return max(lo, min(hi, round(int(value) / 65536)))
        return int(value)
    if math.isnan(value):
        return 0
    if to == "i16" and src == np.float32:
        scaled = float(np.float32(value) * np.float32(32768))
    else:
        scaled = float(value) * SCALE[to]
    return max(lo, min(hi, round(max(lo, min(hi, scaled)))))


def signal(dtype: type, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        x = rng.uniform(-1.3, 1.3, n)
        specials = [0.5 / 32768, 1.5 / 32768, -2.5 / 32768, 1.0, -1.0, 2**-31, 1.5 * 2**-31, np.nan, np.inf, -np.inf]
        x[: min(n, len(specials))] = specials[: min(n, len(specials))]
        return x.astype(dtype)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, n, endpoint=True)
    specials = [info.min, info.max, 0, 0x8000, 0x18000, -0x8000, 0x7FFF8000] if dtype == np.int32 else [info.min, 0]
    x[: min(n, len(specials))] = specials[: min(n, len(specials))]
    return x.astype(dtype)


@pytest.mark.parametrize("src", [np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("to", ["i16", "i32", "f32"])
def test_matches_per_sample_reference(ks: KernelSet, src: type, to: str) -> None:
    x = signal(src, 2000)
    y = ks.convert(x, to)
    assert y.dtype == DTYPES[to] and y.shape == x.shape
    expected = [reference(v, np.dtype(src), to) for v in x.tolist()]
    if to == "f32":
        np.testing.assert_array_equal(y, np.array(expected, dtype=np.float32))
    else:
        assert y.tolist() == expected


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 1023, 4097])
@pytest.mark.parametrize("pair", [("f32", "i16"), ("i16", "f32"), ("f64", "i32"), ("i32", "i16")])
def test_bodies_agree_bit_for_bit(ks: KernelSet, n: int, pair: tuple[str, str]) -> None:
    src = {"f32": np.float32, "f64": np.float64, "i16": np.int16, "i32": np.int32}[pair[0]]
    x = signal(src, n, seed=n)
    expected = remotemedia.kernels.get("python").convert(x, pair[1])
    assert ks.convert(x, pair[1]).tobytes() == expected.tobytes()


def test_planar_multichannel_and_layouts(ks: KernelSet) -> None:
    x = signal(np.float32, 3 * 1000).reshape(3, 1000)
    expected = np.array([[reference(v, x.dtype, "i16") for v in row] for row in x.tolist()], dtype=np.int16)
    np.testing.assert_array_equal(ks.convert(x, "i16"), expected)
    fortran = np.asfortranarray(x)
    np.testing.assert_array_equal(ks.convert(fortran, "i16"), expected)
    strided = signal(np.float32, 4000)[::2]
    np.testing.assert_array_equal(ks.convert(strided, "i16"), ks.convert(strided.copy(), "i16"))
    readonly = x.copy()
    readonly.flags.writeable = False
    np.testing.assert_array_equal(ks.convert(readonly, "i16"), expected)
    swapped = x.astype(">f4")
    np.testing.assert_array_equal(ks.convert(swapped, "i16"), expected)


def test_same_format_returns_a_copy(ks: KernelSet) -> None:
    x = signal(np.int16, 100)
    y = ks.convert(x, "i16")
    np.testing.assert_array_equal(x, y)
    assert not np.shares_memory(x, y)


def test_target_format_aliases(ks: KernelSet) -> None:
    x = signal(np.int16, 10)
    np.testing.assert_array_equal(ks.convert(x, np.float32), ks.convert(x, "f32"))
    np.testing.assert_array_equal(ks.convert(x, "int32"), ks.convert(x, "i32"))


@pytest.mark.parametrize(
    ("x", "to", "exc", "match"),
    [
        (np.zeros(4, np.complex64), "f32", TypeError, r"convert: unsupported dtype complex64; expected one of int16"),
        (np.zeros(4, np.uint8), "f32", TypeError, r"convert: unsupported dtype uint8"),
        ([0.0, 1.0], "f32", TypeError, r"convert: expected a numpy array, got list"),
        (np.zeros(4, np.float32), "u8", ValueError, r"convert: unknown target format 'u8'"),
        (np.zeros(4, np.float32), np.float64, ValueError, r"convert: unknown target format"),
        (np.zeros((2, 2, 2), np.float32), "i16", ValueError, r"convert: expected 1-D \(mono\) or 2-D"),
        (np.zeros((48000, 2), np.float32), "i16", ValueError, r"looks like \(frames, channels\): pass x\.T"),
    ],
)
def test_bad_input_same_error_in_every_body(ks: KernelSet, x: object, to: object, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        ks.convert(x, to)


def test_top_level_convert_uses_automatic_choice() -> None:
    x = signal(np.float32, 64)
    np.testing.assert_array_equal(remotemedia.convert(x, "i16"), remotemedia.kernels.get("python").convert(x, "i16"))

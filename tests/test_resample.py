"""Resampler contract: lengths, chunk invariance, alignment, parity between
bodies, state isolation, dtype handling and errors, on every kernel set."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import remotemedia
from conftest import kernel_set
from remotemedia import kernels
from remotemedia.kernels.python.resample import doubled_grid
from remotemedia.kernels.python.resample_design import filter_stages
from resample_metrics import stream

RATIOS = [
    (48_000, 16_000),
    (44_100, 16_000),
    (16_000, 48_000),
    (8_000, 16_000),
    (44_100, 48_000),
    (22_050, 8_000),
    (22_050, 16_000),
    (48_000, 44_100),
]
QUALITIES = ["low", "medium", "high", "very_high"]


def noise(shape: tuple[int, ...], seed: int = 0, amp: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-amp, amp, shape).astype(np.float32)


def random_sizes(seed: int, total: int) -> list[int]:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(10 ** rng.uniform(0, 5)))
    return sizes


@pytest.mark.parametrize(("i", "o"), RATIOS)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 160, 441, 1001])
def test_one_shot_length_and_dtype(ks: kernels.KernelSet, i: int, o: int, n: int) -> None:
    y = ks.resample(noise((n,)), i, o)
    assert y.dtype == np.float32
    assert y.shape == (-(-n * o // i),)
    y2 = ks.resample(noise((2, n)), i, o, "low")
    assert y2.shape == (2, -(-n * o // i))


@pytest.mark.parametrize(("i", "o"), RATIOS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_chunk_invariance_random_sizes(ks: kernels.KernelSet, i: int, o: int, quality: str) -> None:
    x = noise((2, 120_000), seed=i + o)
    want = ks.resample(x, i, o, quality)
    got = stream(ks.Resampler(i, o, 2, quality), x, random_sizes(i * 7 + o, x.shape[1]))
    assert got.shape == want.shape
    if ks.name == "rust":
        assert np.array_equal(got, want), np.abs(got - want).max()
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("i", "o"), [(48_000, 16_000), (44_100, 16_000), (16_000, 48_000)])
@pytest.mark.parametrize("sizes", [[1], [2, 3, 5], [159, 161], [100_000]])
def test_chunk_invariance_small_chunks(ks: kernels.KernelSet, i: int, o: int, sizes: list[int]) -> None:
    x = noise((3_000,), seed=5)
    want = ks.resample(x, i, o)
    got = stream(ks.Resampler(i, o), x, sizes)
    if ks.name == "rust":
        assert np.array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("i", "o"), RATIOS)
@pytest.mark.parametrize("quality", QUALITIES)
def test_click_lands_in_place(ks: kernels.KernelSet, i: int, o: int, quality: str) -> None:
    n = i  # one second
    at = 0.4371  # seconds; not on a common sample grid
    t = np.arange(n) / i
    # A band-limited click (Gaussian, far below both Nyquist frequencies).
    x = np.exp(-(((t - at) * 2000.0) ** 2)).astype(np.float32)
    y = ks.resample(x, i, o, quality)
    assert len(y) == -(-n * o // i)
    k = int(np.argmax(y))
    # Refine the peak with a parabola through its neighbours.
    a, b, c = y[k - 1], y[k], y[k + 1]
    peak = (k + 0.5 * (a - c) / (a - 2 * b + c)) / o
    assert abs(peak - at) < 0.02 / o, (peak, at)


@pytest.mark.parametrize(("i", "o"), RATIOS)
@pytest.mark.parametrize("quality", QUALITIES)
@pytest.mark.parametrize("kind", ["noise", "square", "sine"])
def test_native_matches_numpy(native_ks: kernels.KernelSet, i: int, o: int, quality: str, kind: str) -> None:
    n = 30_000
    if kind == "noise":
        x = noise((2, n), seed=3)
    elif kind == "square":
        x = np.where((np.arange(n) // 37) % 2 == 0, 1.0, -1.0).astype(np.float32)[None, :].repeat(2, 0)
    else:
        x = np.sin(2 * np.pi * 997.0 * np.arange(n) / i).astype(np.float32)[None, :].repeat(2, 0)
    want = kernels.get("python").resample(x, i, o, quality)
    got = native_ks.resample(x, i, o, quality)
    if quality == "very_high":
        # Both bodies compute in float64 and round once to float32: equal, or
        # one float32 step apart where float64 noise crosses a rounding edge,
        # or (near zero, where a step is tiny) within float64 noise, 1e-12
        # (measured: 1.7e-15 at most), seven decades below the float32 bound.
        step = np.spacing(np.maximum(np.abs(want), np.abs(got)))
        assert np.all(np.abs(got - want) <= np.maximum(step, 1e-12))
    else:
        # Float32 stages (native) against float64 (numpy): measured 2.4e-7 on
        # these full-scale signals (2 float32 steps at 1.0) for "low" and
        # "medium" as redesigned in issue 15 (125 / 137 dB: longer filters,
        # yet no larger difference), 3.6e-7 for "high"; 2e-6 leaves room
        # for the scalar build (within 1e-6 of the AVX2 one, cargo tests).
        # The contract's bound is 1e-5.
        assert np.abs(got - want).max() <= 2e-6


def test_same_rate_returns_a_copy(ks: kernels.KernelSet) -> None:
    x = noise((2, 500))
    y = ks.resample(x, 16_000, 16_000)
    assert np.array_equal(x, y) and not np.shares_memory(x, y)
    r = ks.Resampler(16_000, 16_000, 2)
    z = r.process(x)
    assert np.array_equal(z, x) and not np.shares_memory(x, z)
    assert r.delay == 0 and r.flush().shape == (2, 0)
    pcm = (x[0] * 32767).astype(np.int16)
    assert np.array_equal(ks.resample(pcm, 16_000, 16_000), pcm.astype(np.float32) / 32768)


def test_channels_do_not_leak(ks: kernels.KernelSet) -> None:
    x = np.zeros((3, 20_000), np.float32)
    x[0] = noise((20_000,), seed=1)
    x[2] = noise((20_000,), seed=2)
    y = ks.resample(x, 44_100, 16_000)
    assert not y[1].any()
    for c in (0, 2):
        assert np.array_equal(y[c], ks.resample(x[c], 44_100, 16_000))
    r = ks.Resampler(44_100, 16_000, 3)
    s = stream(r, x, [1000])
    assert not s[1].any()


def test_reset_forgets_everything(ks: kernels.KernelSet) -> None:
    a, b = noise((5_000,), seed=1), noise((7_000,), seed=2)
    r = ks.Resampler(48_000, 16_000)
    r.process(a)
    assert r.delay > 0
    r.reset()
    assert r.delay == 0
    got = np.concatenate([r.process(b), r.flush()])
    assert np.array_equal(got, ks.resample(b, 48_000, 16_000))
    # flush also starts a new stream
    again = np.concatenate([r.process(b), r.flush()])
    assert np.array_equal(again, got)


@pytest.mark.parametrize(("i", "o"), RATIOS)
def test_delay_is_pending_input(ks: kernels.KernelSet, i: int, o: int) -> None:
    r = ks.Resampler(i, o, quality="high")
    total_out = 0
    for n in (1, 100, 4_000, 37):
        total_out += len(r.process(noise((n,))))
    received = 4_138
    d = r.delay
    # Pending input: the frames at or after the position of the first output not yet emitted.
    assert d == received - -(-total_out * i // o)
    # Under 20 ms of input on the direct kernels; a fast-convolution stage
    # emits whole blocks, adding up to one block (19 ms at 48k -> 16k, 102
    # ms at 8k -> 16k, whose doubling stage runs on larger transforms).
    assert 0 < d < i * 20 // 1000 + block_frames(i, o)
    tail = r.flush()
    assert total_out + len(tail) == -(-received * o // i)
    assert r.delay == 0
    python = kernels.get("python").Resampler(i, o)
    python.process(noise((received,)))
    assert python.delay == d or ks.name == "python"


def block_frames(i: int, o: int) -> int:
    """Input frames of the largest block a fast-convolution stage of the conversion emits at "high"."""
    frames, rate = 0.0, float(i)
    for _, shape in filter_stages(i, o, "high"):
        block = doubled_grid(shape).block
        frames = max(frames, block * shape.m * i / rate)
        rate = rate * shape.l / shape.m
    return int(frames)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float64])
def test_dtypes_are_converted_on_the_way_in(ks: kernels.KernelSet, dtype: type) -> None:
    f = noise((4_000,), seed=9, amp=0.9)
    if dtype is np.int16:
        x = np.round(f * 32767).astype(np.int16)
        ref = x.astype(np.float32) / np.float32(32768)
    elif dtype is np.int32:
        x = np.round(f.astype(np.float64) * 2**31).astype(np.int32)
        ref = x.astype(np.float32) * np.float32(2.0**-31)
    else:
        x = f.astype(np.float64) + 1e-12
        ref = x.astype(np.float32)
    y = ks.resample(x, 48_000, 16_000)
    assert y.dtype == np.float32
    assert np.array_equal(y, ks.resample(ref, 48_000, 16_000))
    r = ks.Resampler(48_000, 16_000)
    assert np.array_equal(np.concatenate([r.process(x), r.flush()]), y)


def test_non_finite_input(ks: kernels.KernelSet) -> None:
    x = noise((20_000,), seed=4, amp=0.5)
    x[5_000] = np.nan
    x[12_000] = np.inf
    y = ks.resample(x, 48_000, 16_000)
    bad = ~np.isfinite(y)
    assert bad[5_000 // 3] and bad[12_000 // 3]
    assert np.isfinite(y[: 5_000 // 3 - 400]).all() and np.isfinite(y[12_000 // 3 + 400 :]).all()
    assert np.isfinite(y[5_000 // 3 + 400 : 12_000 // 3 - 400]).all()
    if ks.name == "rust":
        assert np.array_equal(bad, ~np.isfinite(kernels.get("python").resample(x, 48_000, 16_000)))


def _message(fn, *args, **kw) -> tuple[type, str]:  # type: ignore[no-untyped-def]
    try:
        fn(*args, **kw)
    except (TypeError, ValueError, MemoryError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no exception")


BAD_CALLS = [
    ("rate 0", lambda k: k.resample(noise((10,)), 0, 16_000), ValueError, "1000..768000"),
    ("negative", lambda k: k.resample(noise((10,)), 48_000, -16_000), ValueError, "1000..768000"),
    ("too low", lambda k: k.resample(noise((10,)), 999, 16_000), ValueError, "in_rate 999 Hz"),
    ("absurd", lambda k: k.resample(noise((10,)), 48_000, 10**12), ValueError, "outside the supported range"),
    ("float rate", lambda k: k.resample(noise((10,)), 48_000.5, 16_000), TypeError, "integer"),
    ("quality", lambda k: k.resample(noise((10,)), 48_000, 16_000, "ultra"), ValueError, "very_high"),
    ("ratio 384:1", lambda k: k.resample(noise((10,)), 384_000, 1_000), ValueError, "beyond 256:1"),
    ("frames x channels", lambda k: k.resample(noise((1000, 2)), 48_000, 16_000), ValueError, r"pass x\.T"),
    ("3-D", lambda k: k.resample(noise((2, 2, 2)), 48_000, 16_000), ValueError, "3-D"),
    ("no channels", lambda k: k.resample(noise((0, 10)), 48_000, 16_000), ValueError, "0 channels"),
    ("dtype", lambda k: k.resample(np.zeros(10, np.uint8), 48_000, 16_000), TypeError, "uint8"),
    ("list", lambda k: k.resample([0.0, 1.0], 48_000, 16_000), TypeError, "numpy array"),
    ("channels 0", lambda k: k.Resampler(48_000, 16_000, 0), ValueError, "1..64"),
    ("channels 65", lambda k: k.Resampler(48_000, 16_000, 65), ValueError, "1..64"),
    ("stream rate", lambda k: k.Resampler(48_000, 800_000), ValueError, "out_rate 800000 Hz"),
    ("stream ratio", lambda k: k.Resampler(1_000, 300_000, quality="low"), ValueError, "beyond 256:1"),
    ("mono to stereo", lambda k: k.Resampler(48_000, 16_000, 2).process(noise((100,))), ValueError, "mid-stream"),
    ("stereo to 3", lambda k: k.Resampler(48_000, 16_000, 2).process(noise((3, 100))), ValueError, "mid-stream"),
]


@pytest.mark.parametrize(("label", "call", "exc", "match"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_same_error_everywhere(ks: kernels.KernelSet, label: str, call, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=match):
        call(ks)
    assert _message(call, ks) == _message(call, kernels.get("python"))


def test_channel_change_after_processing(ks: kernels.KernelSet) -> None:
    r = ks.Resampler(48_000, 16_000, 2)
    r.process(noise((2, 300)))
    with pytest.raises(ValueError, match="created for 2"):
        r.process(noise((1, 300)))
    # The failed call changed nothing.
    a = np.concatenate([r.process(noise((2, 300), seed=1)), r.flush()], axis=1)
    x = np.concatenate([noise((2, 300)), noise((2, 300), seed=1)], axis=1)
    assert np.array_equal(a, ks.resample(x, 48_000, 16_000))


def test_python_plans_are_cached() -> None:
    from remotemedia.kernels.python import resample as body

    assert body.plan(48_000, 16_000, "high") is body.plan(96_000, 32_000, "high")


def test_threads_give_the_same_results(ks: kernels.KernelSet) -> None:
    xs = [noise((2, 48_000), seed=s) for s in range(4)]
    want = [ks.resample(x, 48_000, 16_000) for x in xs]
    got: list[np.ndarray | None] = [None] * 4

    def work(j: int) -> None:
        r = ks.Resampler(48_000, 16_000, 2)
        got[j] = stream(r, xs[j], [480])

    threads = [threading.Thread(target=work, args=(j,)) for j in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want, strict=True):
        assert g is not None
        if ks.name == "rust":
            assert np.array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def test_top_level_uses_automatic_choice() -> None:
    x = noise((4_800,))
    ks = kernels.get()
    assert np.array_equal(remotemedia.resample(x, 48_000, 16_000), ks.resample(x, 48_000, 16_000))
    r = remotemedia.Resampler(48_000, 16_000)
    assert r.kernels is ks
    assert isinstance(ks.Resampler(48_000, 16_000), remotemedia.Resampler)


def test_kernel_set_ids_cover_bodies() -> None:
    assert kernel_set("python").name == "python"


def test_concurrent_use_of_one_resampler_is_refused(ks: kernels.KernelSet) -> None:
    r = ks.Resampler(48_000, 16_000)
    r._busy.enter("process")  # as if another thread were inside process()
    try:
        with pytest.raises(RuntimeError, match="used from two threads at once"):
            r.process(noise((480,)))
    finally:
        r._busy.leave()
    assert len(r.process(noise((4_800,)))) > 0


def _random_pairs() -> list[tuple[int, int]]:
    rng = np.random.default_rng(2024)
    common = [8_000, 11_025, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000]
    pairs = [tuple(int(v) for v in rng.choice(common, 2, replace=False)) for _ in range(10)]
    pairs += [(int(rng.integers(8_000, 192_001)), int(rng.integers(8_000, 192_001))) for _ in range(4)]
    return [p for p in pairs if p[0] != p[1]]


@pytest.mark.parametrize(("i", "o"), _random_pairs())
def test_random_rate_pairs(ks: kernels.KernelSet, i: int, o: int) -> None:
    # Random pairs mostly have large terms: those run on the interpolated-phase kernel.
    x = noise((2, 2_500), seed=i ^ o)
    want = ks.resample(x, i, o, "low")
    assert want.shape == (2, -(-2_500 * o // i))
    got = stream(ks.Resampler(i, o, 2, "low"), x, [1, 333, 17, 1024])
    if ks.name == "rust":
        assert np.array_equal(got, want)
        py = kernels.get("python").resample(x, i, o, "low")
        assert np.abs(py - want).max() <= 1e-5
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)

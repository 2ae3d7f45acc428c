"""The batch job's direct 16-bit WAV writer: the same bytes as soundfile, block by block."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import speech_like
from remotemedia.batch import run_batch, streamfile, wavout, worker_plan

# libsndfile 1.1 changed its float -> 16-bit rounding to the rule wavout follows
_OLD = tuple(int(p) for p in sf.__libsndfile_version__.split(".")[:2]) < (1, 1)
pytestmark = pytest.mark.skipif(_OLD, reason=f"libsndfile {sf.__libsndfile_version__} rounds floats differently")

EDGES = [0.0, -0.0, 1.0, -1.0, 1.5, -1.5, 0.99997, 32766.5 / 32768, 32767.5 / 32768, -32768.5 / 32768]
EDGES += [0.5 / 32768, 1.5 / 32768, -0.5 / 32768, -2.5 / 32768, 0.7 / 32768, 1e-40, 3e38, -3e38]
EDGES += [float("inf"), float("-inf"), float("nan")]


def _samples(dtype: type, channels: int, frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=(channels, frames), endpoint=True).astype(dtype)
    else:
        x = rng.uniform(-1.2, 1.2, size=(channels, frames))
        x[:, : len(EDGES)] = EDGES
        x[:, len(EDGES) : len(EDGES) + 2000] = (np.arange(-1000, 1000) + 0.5) / 32768  # halves: rounding
        x = x.astype(dtype)
    return x[0] if channels == 1 else x


def _by_soundfile(blocks: list[np.ndarray], rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    with sf.SoundFile(out, "w", rate, channels, "PCM_16", format="WAV") as f:
        for b in blocks:
            f.write(b.T if b.ndim == 2 else b)
    return out.getvalue()


def _by_wavout(blocks: list[np.ndarray], rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    writer = wavout.Pcm16WavWriter(out, rate, channels)
    for b in blocks:
        writer.write(b)
    writer.finish()
    return out.getvalue()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int16])
@pytest.mark.parametrize("channels", [1, 2])
def test_same_bytes_as_soundfile(dtype: type, channels: int) -> None:
    x = _samples(dtype, channels, 12_345)
    # uneven blocks, one of them empty
    cuts = [0, 1, 4000, 4000, 9999, 12_345]
    blocks = [x[..., a:b] for a, b in itertools.pairwise(cuts)]
    ours = _by_wavout(blocks, 16000, channels)
    assert ours == _by_soundfile(blocks, 16000, channels)
    back, rate = sf.read(io.BytesIO(ours), dtype="int16", always_2d=True)
    assert rate == 16000 and back.shape == (12_345, channels)


def test_empty_output_is_a_valid_file() -> None:
    ours = _by_wavout([], 22050, 1)
    assert ours == _by_soundfile([np.zeros(0, np.float32)], 22050, 1)
    assert len(ours) == wavout.HEADER_BYTES
    assert sf.info(io.BytesIO(ours)).frames == 0


def test_refuses_what_it_cannot_write() -> None:
    w = wavout.Pcm16WavWriter(io.BytesIO(), 16000, 1)
    with pytest.raises(ValueError, match="2 channels in a 1-channel"):
        w.write(np.zeros((2, 10), np.float32))
    with pytest.raises(TypeError, match="uint8"):
        w.write(np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match="1 or 2 channels"):
        wavout.Pcm16WavWriter(io.BytesIO(), 16000, 3)
    assert wavout.handles("WAV", "PCM_16", 2) and not wavout.handles("WAV", "PCM_24", 1)
    assert not wavout.handles("FLAC", "PCM_16", 1) and not wavout.handles("WAV", "PCM_16", 3)


def test_wav_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wavout, "MAX_DATA_BYTES", 100)
    w = wavout.Pcm16WavWriter(io.BytesIO(), 16000, 1)
    w.write(np.zeros(50, np.float32))
    with pytest.raises(ValueError, match="4 GiB"):
        w.write(np.zeros(1, np.float32))


def test_a_run_writes_what_the_soundfile_path_writes(
    tmp_path: Path, runtime_env: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole runs (mono and stereo inputs, several blocks): direct writer vs soundfile, byte for byte."""
    monkeypatch.setattr(streamfile, "BLOCK_SECONDS", 1)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "mono.wav", speech_like(3.2, 48000, seed=1), 48000, "PCM_16")
    sf.write(src / "stereo.flac", speech_like(2.5, 44100, seed=2, channels=2), 44100, "PCM_16")
    sf.write(src / "float.wav", speech_like(2.0, 16000, seed=3, channels=2) * 4, 16000, "FLOAT")  # clips on the way out
    worker_plan.clear()
    assert run_batch([src], "speech-16k", tmp_path / "direct", workers=1, progress="none").ok == 3
    monkeypatch.setattr(wavout, "handles", lambda fmt, subtype, channels: False)
    worker_plan.clear()
    assert run_batch([src], "speech-16k", tmp_path / "soundfile", workers=1, progress="none").ok == 3
    for name in ("mono.wav", "stereo.wav", "float.wav"):
        ours = (tmp_path / "direct" / name).read_bytes()
        assert len(ours) > wavout.HEADER_BYTES
        assert ours == (tmp_path / "soundfile" / name).read_bytes()

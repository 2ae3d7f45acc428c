"""The batch job's numpy float -> 16-bit conversion: the same bytes as libsndfile's, block by block."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import speech_like
from remotemedia.batch import pcm16, run_batch, streamfile, worker_plan

# libsndfile 1.1 changed its float -> 16-bit rounding to the rule pcm16 follows
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


def _converted_first(blocks: list[np.ndarray], rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    with sf.SoundFile(out, "w", rate, channels, "PCM_16", format="WAV") as f:
        for b in blocks:
            f.write(pcm16.to_pcm16(b))
    return out.getvalue()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int16])
@pytest.mark.parametrize("channels", [1, 2])
def test_same_bytes_as_soundfile(dtype: type, channels: int) -> None:
    x = _samples(dtype, channels, 12_345)
    # uneven blocks, one of them empty
    cuts = [0, 1, 4000, 4000, 9999, 12_345]
    blocks = [x[..., a:b] for a, b in itertools.pairwise(cuts)]
    ours = _converted_first(blocks, 16000, channels)
    assert ours == _by_soundfile(blocks, 16000, channels)
    back, rate = sf.read(io.BytesIO(ours), dtype="int16", always_2d=True)
    assert rate == 16000 and back.shape == (12_345, channels)


def test_refuses_what_it_cannot_convert() -> None:
    with pytest.raises(TypeError, match="uint8"):
        pcm16.to_pcm16(np.zeros(10, np.uint8))
    assert pcm16.handles("WAV", "PCM_16") and not pcm16.handles("WAV", "PCM_24")
    assert not pcm16.handles("FLAC", "PCM_16") and not pcm16.handles("WAV", "FLOAT")


def test_a_run_writes_what_the_soundfile_path_writes(
    tmp_path: Path, runtime_env: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole runs (mono and stereo inputs, several blocks): numpy conversion vs libsndfile's, byte for byte."""
    monkeypatch.setattr(streamfile, "BLOCK_SECONDS", 1)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "mono.wav", speech_like(3.2, 48000, seed=1), 48000, "PCM_16")
    sf.write(src / "stereo.flac", speech_like(2.5, 44100, seed=2, channels=2), 44100, "PCM_16")
    sf.write(src / "float.wav", speech_like(2.0, 16000, seed=3, channels=2) * 4, 16000, "FLOAT")  # clips on the way out
    worker_plan.clear()
    assert run_batch([src], "speech-16k", tmp_path / "numpy", workers=1, progress="none").ok == 3
    monkeypatch.setattr(pcm16, "handles", lambda fmt, subtype: False)
    worker_plan.clear()
    assert run_batch([src], "speech-16k", tmp_path / "soundfile", workers=1, progress="none").ok == 3
    for name in ("mono.wav", "stereo.wav", "float.wav"):
        ours = (tmp_path / "numpy" / name).read_bytes()
        assert len(ours) > 44 and sf.info(tmp_path / "numpy" / name).frames > 0
        assert ours == (tmp_path / "soundfile" / name).read_bytes()

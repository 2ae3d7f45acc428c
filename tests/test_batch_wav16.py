"""16-bit PCM WAV outputs written by batch/wav16.py: libsndfile's bytes, whatever the blocks, channels or size."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import speech_like
from remotemedia.batch import run_batch, streamfile, wav16, worker_plan


def _frames(channels: int, n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).integers(-32768, 32767, size=(n, channels), endpoint=True).astype(np.int16)
    return x[:, 0].copy() if channels == 1 else x


def _by_soundfile(blocks: list[np.ndarray], rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    with sf.SoundFile(out, "w", rate, channels, "PCM_16", format="WAV") as f:
        for b in blocks:
            f.write(b)
    return out.getvalue()


def _by_wav16(blocks: list[np.ndarray], rate: int, channels: int) -> bytes:
    out = io.BytesIO()
    writer = wav16.open_pcm16(out, rate, channels)
    assert writer is not None
    for b in blocks:
        writer.write(b)
    writer.close()
    return out.getvalue()


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_same_bytes_as_libsndfile(rate: int, channels: int) -> None:
    x = _frames(channels, 9_001)
    blocks = [x[a:b] for a, b in itertools.pairwise([0, 1, 1, 4000, 8999, 9_001])]  # one block empty
    ours = _by_wav16(blocks, rate, channels)
    assert ours == _by_soundfile(blocks, rate, channels)
    back, back_rate = sf.read(io.BytesIO(ours), dtype="int16", always_2d=True)
    assert back_rate == rate and np.array_equal(back, x.reshape(len(x), channels))


@pytest.mark.parametrize("channels", [1, 2])
def test_an_empty_file_is_libsndfiles_empty_file(channels: int) -> None:
    assert _by_wav16([], 16000, channels) == _by_soundfile([], 16000, channels)


@pytest.mark.parametrize("channels", [1, 2])
def test_libsndfile_takes_over_before_the_size_limit(monkeypatch: pytest.MonkeyPatch, channels: int) -> None:
    """Past MAX_DATA_BYTES libsndfile appends the rest itself (here the limit is lowered to a few blocks)."""
    monkeypatch.setattr(wav16, "MAX_DATA_BYTES", 10_000)
    x = _frames(channels, 12_000, seed=1)
    blocks = [x[a:b] for a, b in itertools.pairwise([0, 1000, 2000, 5000, 12_000])]
    assert _by_wav16(blocks, 22050, channels) == _by_soundfile(blocks, 22050, channels)


def test_another_header_layout_leaves_the_file_to_soundfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wav16, "header", lambda rate, channels: None)
    blocks = [np.linspace(-1, 1, 5000, dtype=np.float32)]
    writer = streamfile._AtomicWriter(tmp_path / "a.wav", "WAV", "PCM_16")
    for b in blocks:
        writer.write(b, 16000)
    assert isinstance(writer._sf, sf.SoundFile)
    writer.commit(16000)
    expected = io.BytesIO()
    sf.write(expected, blocks[0], 16000, "PCM_16", format="WAV")
    assert (tmp_path / "a.wav").read_bytes() == expected.getvalue()


def test_a_rate_libsndfile_refuses_fails_as_before(tmp_path: Path) -> None:
    """The error is libsndfile's own, from the soundfile path (the header is not made here)."""
    writer = streamfile._AtomicWriter(tmp_path / "a.wav", "WAV", "PCM_16")
    with pytest.raises(sf.LibsndfileError):
        writer.write(np.zeros(10, np.float32), 0)
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_run_writes_what_libsndfile_writes(
    tmp_path: Path, runtime_env: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whole runs (mono and stereo inputs, several blocks, at one worker with the write-behind and in
    turn): the files this module wrote and libsndfile's, byte for byte."""
    monkeypatch.setattr(streamfile, "BLOCK_SECONDS", 1)
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "mono.wav", speech_like(3.2, 48000, seed=1), 48000, "PCM_16")
    sf.write(src / "stereo.flac", speech_like(2.5, 44100, seed=2, channels=2), 44100, "PCM_16")
    sf.write(src / "loud.wav", speech_like(2.0, 16000, seed=3, channels=2) * 4, 16000, "FLOAT")  # clips
    made: list[int] = []
    real = wav16.open_pcm16

    def counted(fh: object, rate: int, channels: int) -> wav16.Pcm16Wav | None:
        made.append(channels)
        return real(fh, rate, channels)  # type: ignore[arg-type]

    monkeypatch.setattr(wav16, "open_pcm16", counted)
    for env in ("1", "0"):
        monkeypatch.setenv("REMOTEMEDIA_WRITE_BEHIND", env)
        worker_plan.clear()
        assert run_batch([src], "speech-16k", tmp_path / f"ours{env}", workers=1, progress="none").ok == 3
    assert len(made) == 6
    monkeypatch.setattr(wav16, "open_pcm16", lambda fh, rate, channels: None)
    worker_plan.clear()
    assert run_batch([src], "speech-16k", tmp_path / "libsndfile", workers=1, progress="none").ok == 3
    for name in ("mono.wav", "stereo.wav", "loud.wav"):
        theirs = (tmp_path / "libsndfile" / name).read_bytes()
        assert len(theirs) > 44
        assert (tmp_path / "ours1" / name).read_bytes() == theirs
        assert (tmp_path / "ours0" / name).read_bytes() == theirs


@pytest.mark.parametrize(("channels", "shape"), [(1, (10, 2)), (2, (10,)), (2, (10, 3)), (2, (0, 3)), (1, (2, 2, 2))])
def test_a_block_of_another_shape_fails_as_in_soundfile(channels: int, shape: tuple[int, ...]) -> None:
    block = np.zeros(shape, np.int16)
    with (
        io.BytesIO() as out,
        sf.SoundFile(out, "w", 16000, channels, "PCM_16", format="WAV") as theirs,
        pytest.raises(ValueError) as expected,
    ):
        theirs.write(block)
    with io.BytesIO() as out:
        ours = wav16.open_pcm16(out, 16000, channels)
        assert ours is not None
        with pytest.raises(ValueError) as caught:
            ours.write(block)
    assert str(caught.value) == str(expected.value)


def test_a_one_column_block_is_mono(tmp_path: Path) -> None:
    x = _frames(1, 100)
    assert _by_wav16([x.reshape(100, 1)], 16000, 1) == _by_soundfile([x], 16000, 1)

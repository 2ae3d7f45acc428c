"""AudioBuffer: planar layout, unpacking, metadata, input forms."""

from __future__ import annotations

import numpy as np
import pytest

from remotemedia import AudioBuffer


def test_unpacks_like_a_tuple() -> None:
    x = np.zeros((2, 480), np.float32)
    audio, rate = AudioBuffer(x, 48000)
    assert audio is x
    assert rate == 48000


def test_properties() -> None:
    buf = AudioBuffer(np.zeros((2, 4800), np.int16), 48000, {"a": 1})
    assert (buf.channels, buf.frames, buf.duration_s) == (2, 4800, 0.1)
    mono = AudioBuffer(np.zeros(160, np.float32), 16000)
    assert (mono.channels, mono.frames) == (1, 160)


def test_frames_channels_layout_is_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"looks like \(frames, channels\): pass x.T"):
        AudioBuffer(np.zeros((4800, 2), np.float32), 48000)


@pytest.mark.parametrize("rate", [0, -1, 10**7])
def test_bad_rate(rate: int) -> None:
    with pytest.raises(ValueError, match=r"sample_rate must be in 1\.\.768000 Hz"):
        AudioBuffer(np.zeros(10, np.float32), rate)


def test_non_integer_rate() -> None:
    with pytest.raises(TypeError, match="must be an integer number of Hz"):
        AudioBuffer(np.zeros(10, np.float32), 16000.5)


def test_replace_copies_metadata() -> None:
    buf = AudioBuffer(np.zeros(10, np.float32), 16000, {"a": 1})
    new = buf.replace(b=2)
    assert new.metadata == {"a": 1, "b": 2}
    assert buf.metadata == {"a": 1}
    assert new.data is buf.data


def test_from_any() -> None:
    x = np.zeros(10, np.float32)
    buf = AudioBuffer.from_any((x, 8000))
    assert buf.data is x and buf.sample_rate == 8000
    assert AudioBuffer.from_any(buf) is buf
    with pytest.raises(TypeError, match=r"a bare array carries no sample rate: pass \(array, sample_rate\)"):
        AudioBuffer.from_any(x)


def test_derive_keeps_the_kernel_output_and_copies_metadata() -> None:
    buf = AudioBuffer(np.zeros(4, np.int16), 16000, {"a": 1})
    y = np.ones(2, np.float32)
    out = buf.derive(y, 8000, b=2)
    assert out.data is y and out.sample_rate == 8000
    assert out.metadata == {"a": 1, "b": 2} and buf.metadata == {"a": 1}
    same_rate = buf.derive(y)
    assert same_rate.sample_rate == 16000 and same_rate.metadata is not buf.metadata

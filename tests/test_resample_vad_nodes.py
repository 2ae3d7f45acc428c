"""AudioResampleNode and VADNode on every runtime.

These need the resample and VAD kernels (``ks.resample``, ``ks.Resampler``,
``ks.VAD``, ``ks.speech_segments``) of the design's kernel contract.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from remotemedia import AudioBuffer, Pipeline, kernels
from remotemedia.kernels import KernelSet
from remotemedia.nodes import AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.nodes.vad import keep_segments
from remotemedia.testing import run_node


def voiced(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Speech-like test signal: harmonic bursts (F0 ~ 120 Hz, syllabic envelope) between silences."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 25) if k * 140 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5
    gate = ((t % 2.0) > 0.6).astype(float)  # 0.6 s of silence every 2 s
    x = 0.3 * tone * envelope * gate + 1e-4 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def stereo_i16(seconds: float, rate: int) -> np.ndarray:
    x = voiced(seconds, rate)
    return (np.stack([x, 0.5 * x]) * 32767).astype(np.int16)


# resample ---------------------------------------------------------------------


@pytest.mark.parametrize(("rate_in", "rate_out"), [(48000, 16000), (44100, 16000), (16000, 48000)])
def test_resample_node_matches_the_kernel(runtime_env: tuple[str, str | None], rate_in: int, rate_out: int) -> None:
    x = voiced(0.5, rate_in)
    out = run_node(AudioResampleNode(target_rate=rate_out), (x, rate_in))
    assert isinstance(out, AudioBuffer)
    assert out.sample_rate == rate_out
    assert out.data.dtype == np.float32
    assert out.frames == math.ceil(x.size * rate_out / rate_in)
    ks = kernels.get(runtime_env[0])
    np.testing.assert_array_equal(out.data, ks.resample(x, rate_in, rate_out, "high"))
    # the same whichever runtime ran (kernel tolerance)
    np.testing.assert_allclose(out.data, kernels.get("python").resample(x, rate_in, rate_out, "high"), atol=1e-5)


def test_resample_node_stereo_int16_and_metadata(runtime_env: tuple[str, str | None]) -> None:
    x = stereo_i16(1.0, 48000)
    out = run_node(AudioResampleNode(16000, quality="low"), AudioBuffer(x, 48000, {"source": "mic"}))
    assert out.data.shape == (2, 16000)
    assert out.metadata == {"source": "mic"}
    assert np.max(np.abs(out.data)) > 0.1


def test_resample_node_same_rate_passes_through(runtime_env: tuple[str, str | None]) -> None:
    x = voiced(0.1, 16000)
    assert run_node(AudioResampleNode(16000), (x, 16000)).data is x


def test_resample_node_alias_and_validation() -> None:
    assert AudioResampleNode(target_sample_rate=8000).target_rate == 8000
    assert AudioResampleNode().target_rate == 16000
    with pytest.raises(ValueError, match="disagree; pass only target_rate"):
        AudioResampleNode(target_rate=8000, target_sample_rate=16000)
    with pytest.raises(
        ValueError, match="unknown quality 'best'; expected one of 'low', 'medium', 'high', 'very_high'"
    ):
        AudioResampleNode(quality="best")
    with pytest.raises(
        ValueError, match=r"AudioResampleNode: target_rate 0 Hz is outside the supported range 1000\.\.768000"
    ):
        AudioResampleNode(0)
    with pytest.raises(TypeError, match=r"AudioResampleNode 'rs': target_rate must be an integer in Hz, got '16k'"):
        AudioResampleNode("16k", name="rs")  # type: ignore[arg-type]


def test_resample_node_streaming_protocol_equals_one_shot(ks: KernelSet) -> None:
    x = voiced(0.3, 48000)
    node = AudioResampleNode(16000)
    state = node.open_state(ks)
    parts = []
    for chunk in np.array_split(x, [100, 1000, 1001, 7000]):
        parts.append(node.process_chunk((chunk, 48000), state, ks).data)
    parts.append(node.flush(state, ks).data)
    np.testing.assert_allclose(np.concatenate(parts), ks.resample(x, 48000, 16000, "high"), atol=1e-6)
    with pytest.raises(ValueError, match="changed from 1 ch at 48000 Hz to 1 ch at 44100 Hz mid-stream"):
        node.process_chunk((x[:10], 44100), state, ks)


# VAD --------------------------------------------------------------------------


def test_vad_node_annotates(runtime_env: tuple[str, str | None]) -> None:
    x = voiced(4.0, 16000)
    out = run_node(VADNode(frame_duration_ms=30, aggressiveness=2), (x, 16000))
    assert out.data is x
    ks = kernels.get(runtime_env[0])
    np.testing.assert_array_equal(out.metadata["vad_flags"], ks.VAD(16000, 30, 2).process(x))
    assert out.metadata["vad_flags"].size == x.size // 480
    expected = ks.speech_segments(x, 16000, frame_duration_ms=30, aggressiveness=2)
    assert out.metadata["vad_segments"] == [(float(s), float(e)) for s, e in expected]
    assert out.metadata["vad_frame_duration_ms"] == 30
    # the voiced bursts (0.6-2.0 s, 2.6-4.0 s) are found, the leading silence is not speech
    assert any(s < 1.8 and e > 0.8 for s, e in out.metadata["vad_segments"])
    assert not out.metadata["vad_flags"][: int(0.5 / 0.03)].any()


def test_vad_node_filters(runtime_env: tuple[str, str | None]) -> None:
    x = voiced(4.0, 16000)
    out = run_node(VADNode(mode="filter"), (x, 16000))
    segments = out.metadata["vad_segments"]
    np.testing.assert_array_equal(out.data, keep_segments(x, 16000, segments))
    assert 0 < out.frames < x.size


def test_vad_flags_identical_across_runtimes(runtime_env: tuple[str, str | None]) -> None:
    x = voiced(3.0, 16000, seed=5)
    native = run_node(VADNode(aggressiveness=3), (x, 16000))
    python = run_node(VADNode(aggressiveness=3, runtime_hint="python"), (x, 16000))
    np.testing.assert_array_equal(native.metadata["vad_flags"], python.metadata["vad_flags"])
    assert native.metadata["vad_segments"] == python.metadata["vad_segments"]


def test_vad_node_validation() -> None:
    # the kernel contract's own checks, named by the node
    with pytest.raises(ValueError, match=r"VADNode 'VADNode': VAD: frame duration 25 ms is not supported; use 10, 20"):
        VADNode(frame_duration_ms=25)
    with pytest.raises(ValueError, match=r"VADNode 'v': VAD: aggressiveness 4 is out of range; use 0, 1, 2 or 3"):
        VADNode(aggressiveness=4, name="v")
    with pytest.raises(ValueError, match=r"VAD: release 0.9 is above threshold 0.5"):
        VADNode(threshold=0.5, release=0.9)
    with pytest.raises(ValueError, match="mode must be 'annotate' or 'filter', got 'drop'"):
        VADNode(mode="drop")
    with pytest.raises(ValueError, match="engine must be 'remotemedia' or 'silero', got 'x'"):
        VADNode(engine="x")


# the seed's pipeline ------------------------------------------------------------


def test_convert_resample_vad_pipeline_same_on_every_runtime(runtime_env: tuple[str, str | None]) -> None:
    x = stereo_i16(4.0, 48000)
    p = Pipeline("speech", enable_metrics=True)
    p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(16000)).add_node(VADNode())
    out = p.run_sync((x, 48000))
    runtimes = {n: (s["runtime"], s["binding"]) for n, s in p.get_metrics()["nodes"].items()}
    assert runtimes == dict.fromkeys(["FormatConverterNode", "AudioResampleNode", "VADNode"], runtime_env)
    reference = p.run_sync((x, 48000), use_rust=False)
    assert out.sample_rate == 16000 and out.data.shape == (2, 64000)
    np.testing.assert_allclose(out.data, reference.data, atol=1e-5)
    np.testing.assert_array_equal(out.metadata["vad_flags"], reference.metadata["vad_flags"])


def test_vad_node_streaming_protocol_equals_one_shot_flags(ks: KernelSet) -> None:
    x = voiced(3.0, 16000, seed=2)
    node = VADNode(frame_duration_ms=20)
    state = node.open_state(ks)
    flags = [node.process_chunk((c, 16000), state, ks).metadata["vad_flags"] for c in np.array_split(x, 7)]
    tail = node.flush(state, ks)  # the signal ends inside speech: flush closes the segment
    assert tail.frames == 0 and [e.kind for e in tail.metadata["vad_events"]] == ["end"]
    np.testing.assert_array_equal(np.concatenate(flags), ks.VAD(16000, 20, 2).process(x))
    with pytest.raises(ValueError, match="sample rate changed from 16000 to 8000 Hz mid-stream"):
        node.process_chunk((x[:10], 8000), state, ks)

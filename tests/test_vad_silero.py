"""The silero engine: silero-vad's ONNX model behind the VAD interfaces.

Needs the ``silero`` extra (onnxruntime and silero-vad; the comparison with
silero's own wrapper also needs torch, which silero-vad depends on); every
test that needs them skips with the reason when they are absent.
"""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest

import remotemedia
from remotemedia.kernels import vad_silero
from remotemedia.nodes import VADNode

SR = 16000
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
HAVE_SILERO = importlib.util.find_spec("silero_vad") is not None
needs_silero = pytest.mark.skipif(
    not (HAVE_ORT and HAVE_SILERO), reason="the silero extra is not installed (pip install 'remotemedia[silero]')"
)


def speechlike() -> np.ndarray:
    """Two espeak-ng sentences in quiet noise: 1 s pause, sentence, 1.5 s pause, sentence, 1 s pause."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    import vad_corpus as vc

    parts = [np.zeros(SR)]
    for text in vc.SENTENCES[:2]:
        u = vc.synth(text, "en-us", 160)
        parts += [0.3 * u / np.abs(u).max(), np.zeros(int(1.5 * SR))]
    x = np.concatenate(parts)
    return (x + 0.002 * np.random.default_rng(3).standard_normal(x.size)).astype(np.float32)


@needs_silero
def test_probabilities_match_silero_onnx_wrapper():
    pytest.importorskip("torch", reason="silero-vad's own OnnxWrapper needs torch")
    import torch
    from silero_vad.utils_vad import OnnxWrapper

    x = speechlike()
    ref = OnnxWrapper(str(vad_silero.default_model_path()), force_onnx_cpu=True)
    want = [float(ref(torch.from_numpy(x[i : i + 512]), SR)) for i in range(0, x.size - 511, 512)]
    stream = vad_silero.SileroStream(SR, 30, 0, 0, 0)
    got = []
    for i in range(0, x.size, 1000):  # any chunking
        got += [p for _, p in stream.probs(x[i : i + 1000])]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert max(want) > 0.8 and min(want) < 0.2


@needs_silero
def test_silero_engine_through_vad_and_segments():
    x = speechlike()
    v = remotemedia.VAD(SR, 30, engine="silero")
    flags, scores = v.process_scores(x)
    assert flags.size == scores.size == x.size // 480
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    # frame score = probability of the last 512-sample window ended by the frame's end
    probs = [p for _, p in vad_silero.SileroStream(SR, 30, 0, 0, 0).probs(x)]
    for k in (10, 100, 150):
        end = (k + 1) * 480
        np.testing.assert_allclose(scores[k], probs[end // 512 - 1], atol=1e-7)
    thr = remotemedia.VAD(SR, 30, engine="silero", threshold=0.5, release=0.5, hold_ms=0).process(x)
    np.testing.assert_array_equal(thr, (scores >= 0.5).astype(np.uint8))
    # 48 kHz input is resampled to 16 kHz; int16 and bytes are accepted
    assert remotemedia.VAD(48000, 30, engine="silero").analysis_rate == 16000
    i16 = np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)
    np.testing.assert_array_equal(remotemedia.VAD(SR, engine="silero").process(i16.tobytes()), flags_of(i16))
    segs = remotemedia.speech_segments(x, SR, engine="silero")
    assert len(segs) == 2 and round(segs[0][0]) == 1


def flags_of(x: np.ndarray) -> np.ndarray:
    return remotemedia.VAD(SR, engine="silero").process(x)


@needs_silero
def test_vad_node_with_the_silero_engine_whole_and_streamed():
    from remotemedia import kernels

    x = speechlike()
    node = VADNode(engine="silero")
    assert node.params()["engine"] == "silero"
    ks = kernels.get()
    whole = node.process_with((x, SR), ks)
    assert len(whole.metadata["vad_segments"]) == 2
    np.testing.assert_array_equal(whole.metadata["vad_flags"], flags_of(x))
    state = node.open_state(ks)
    events = []
    for i in range(0, x.size, 320):  # 20 ms chunks
        events += node.process_chunk((x[i : i + 320], SR), state, ks).metadata["vad_events"]
    tail = node.flush(state, ks)
    if tail is not None:
        events += tail.metadata["vad_events"]
    starts = [e.time_s for e in events if e.kind == "start"]
    ends = [e.time_s for e in events if e.kind == "end"]
    want = whole.metadata["vad_segments"]
    np.testing.assert_allclose(np.array(list(zip(starts, ends, strict=True))), np.array(want), atol=1e-9)


def test_missing_onnxruntime_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"needs onnxruntime.*pip install 'remotemedia\[silero\]'"):
        remotemedia.VAD(SR, engine="silero")


def test_missing_model_file_is_a_clear_error(tmp_path):
    if not HAVE_ORT:
        pytest.skip("onnxruntime is not installed (pip install 'remotemedia[silero]')")
    with pytest.raises(FileNotFoundError, match=r"model file .*nothere.onnx does not exist"):
        remotemedia.VAD(SR, engine="silero", model_path=tmp_path / "nothere.onnx")

"""The silero engine of the VAD: silero-vad's ONNX model run with onnxruntime.

An optional extra (``pip install 'remotemedia[silero]'``: onnxruntime and
the silero-vad package, whose ``data/silero_vad.onnx`` is the default
model; any other path to the same model may be given). The model takes
windows of 512 samples at 16 kHz (256 at 8 kHz) with the 64 (32) samples
before them as context and an LSTM state, exactly as silero-vad's own
``OnnxWrapper``; its probabilities are the same.

Frames of 10, 20 or 30 ms get the probability of the last window that
ended at or before the end of the frame (0 before the first window), so
a flag is known as soon as its frame completes (the score lags the audio
by at most one window, 32 ms); the decision (threshold, release,
hangover) is the one of the remotemedia engine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from remotemedia.kernels import _vad_spec as spec
from remotemedia.kernels.python.vad import Decision

RATES = (8000, 16000)
_WINDOW = {16000: 512, 8000: 256}
_CONTEXT = {16000: 64, 8000: 32}
EXTRA_HINT = "install the extra: pip install 'remotemedia[silero]' (onnxruntime and silero-vad)"


def default_model_path() -> Path:
    """``silero_vad.onnx`` of the installed silero-vad package."""
    found = importlib.util.find_spec("silero_vad")
    if found is None or found.origin is None:
        raise ImportError(
            "VAD(engine='silero'): the silero-vad package is not installed and no model_path was given; " + EXTRA_HINT
        )
    path = Path(found.origin).parent / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(
            f"VAD(engine='silero'): {path} is missing from the silero-vad package; pass model_path="
        )
    return path


def session(model_path: str | Path | None) -> Any:
    """An onnxruntime session on the model (one thread, CPU)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(f"VAD(engine='silero') needs onnxruntime, which is not installed; {EXTRA_HINT}") from exc
    path = Path(model_path) if model_path is not None else default_model_path()
    if not path.is_file():
        raise FileNotFoundError(f"VAD(engine='silero'): model file {path} does not exist")
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class SileroStream:
    """Streaming silero-vad at 8 or 16 kHz with the remotemedia decision rule.

    Same interface as the remotemedia engine's streams: ``process``,
    ``scores``, ``run``, ``set_decision``, ``reset``; input mono int16,
    int32, float32 or float64.
    """

    def __init__(
        self, sample_rate: int, frame_ms: int, threshold: int, release: int, hangover_ms: int, model_path: Any = None
    ) -> None:
        self.sess = session(model_path)
        self.rate = sample_rate
        self.window = _WINDOW[sample_rate]
        self.context = _CONTEXT[sample_rate]
        self.frame = sample_rate * frame_ms // 1000
        self.decision = Decision(frame_ms, threshold, release, hangover_ms)
        self._sr = np.array(sample_rate, np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self.state = np.zeros((2, 1, 128), np.float32)
        self.ctx = np.zeros((1, self.context), np.float32)
        self.pending = np.zeros(0, np.float32)  # samples not yet in a window
        self.received = 0  # samples received
        self.emitted = 0  # frames emitted
        self.last_prob = 0.0  # probability of the last window run
        self.window_probs: list[tuple[int, float]] = []  # (end sample, prob) of windows not yet used up
        self.decision.reset()

    def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
        """Change the decision rule from the next frame on."""
        self.decision.set(threshold, release, hangover_ms)

    def probs(self, x: np.ndarray) -> list[tuple[int, float]]:
        """Run every window completed by float32 samples ``x``: (end sample, probability)."""
        buf = np.concatenate([self.pending, x]) if self.pending.size else x
        w = self.window
        out = []
        start = self.received - self.pending.size
        i = 0
        while i + w <= buf.size:
            chunk = np.concatenate([self.ctx, buf[None, i : i + w]], axis=1)
            p, self.state = self.sess.run(None, {"input": chunk, "state": self.state, "sr": self._sr})
            self.ctx = chunk[:, -self.context :]
            i += w
            out.append((start + i, float(p[0, 0])))
        self.pending = buf[i:].copy()
        return out

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flags and scores of every frame completed by mono samples ``x``."""
        if x.dtype == np.int16:
            xf = x.astype(np.float32) * np.float32(1.0 / 32768.0)
        elif x.dtype == np.int32:
            xf = (x.astype(np.float64) * (1.0 / 2147483648.0)).astype(np.float32)
        else:
            xf = np.nan_to_num(x.astype(np.float32, copy=False))
        self.window_probs.extend(self.probs(xf))
        self.received += xf.size
        n = self.received // self.frame - self.emitted
        flags = np.zeros(n, np.uint8)
        scores = np.zeros(n, np.float32)
        wp = self.window_probs
        for k in range(n):
            end = (self.emitted + k + 1) * self.frame
            while wp and wp[0][0] <= end:
                self.last_prob = wp.pop(0)[1]
            score = round(self.last_prob * spec.SCORE_ONE)
            scores[k] = self.last_prob
            flags[k] = self.decision.decide(score, True)
        self.emitted += n
        return flags, scores

    def process(self, x: np.ndarray) -> np.ndarray:
        """Flags of every frame completed by ``x``."""
        return self.run(x)[0]

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Scores (silero's probabilities) of every frame completed by ``x``."""
        return self.run(x)[1]

"""DownmixNode: many channels to mono."""

from __future__ import annotations

from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node, computes_as
from remotemedia.kernels.chain import DownmixStage


class DownmixNode(Node):
    """Average all channels into one (mono passes through unchanged).

    Float input keeps its dtype (the mean is taken in float64, then
    rounded to the input dtype); integer input is averaged and rounded to
    nearest, so it stays in range. The output is 1-D.

    Parameters
    ----------
    name, runtime_hint, retry
        See :class:`~remotemedia.Node`. Alone the node runs numpy; inside a
        native chain the chain's body computes the same bits.
    """

    def native_stage(self) -> DownmixStage | None:
        """Chain stage: the same channel mean, in the chain's body (fused after a conversion to f32)."""
        return DownmixStage() if computes_as(self, DownmixNode) else None

    def process(self, data: Any) -> AudioBuffer:
        """Return ``data`` as mono."""
        buf = AudioBuffer.from_any(data, "DownmixNode")
        x = buf.data
        if x.ndim == 1:
            return buf
        if x.shape[0] == 0:
            raise ValueError("DownmixNode: audio has 0 channels; expected (channels, frames) with channels >= 1")
        # The channel mean in float64, summed in channel order then divided:
        # the same bits as x.mean(axis=0, dtype=float64), without the
        # generic reduction's overhead (this runs per frame in streams).
        mean = np.add(x[0], x[1], dtype=np.float64) if x.shape[0] > 1 else x[0].astype(np.float64)
        for c in range(2, x.shape[0]):
            np.add(mean, x[c], out=mean)
        mean /= x.shape[0]
        if x.dtype.kind in "iu":
            mean = np.rint(mean)
        return buf.derive(mean.astype(x.dtype))

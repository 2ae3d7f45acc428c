"""DownmixNode: many channels to mono."""

from __future__ import annotations

from typing import Any

import numpy as np

from remotemedia.core.audio import AudioBuffer
from remotemedia.core.node import Node


class DownmixNode(Node):
    """Average all channels into one (mono passes through unchanged).

    Float input keeps its dtype (the mean is taken in float64, then
    rounded to the input dtype); integer input is averaged and rounded to
    nearest, so it stays in range. The output is 1-D.

    Parameters
    ----------
    name, runtime_hint, retry
        See :class:`~remotemedia.Node` (numpy only: there is no kernel).
    """

    def process(self, data: Any) -> AudioBuffer:
        """Return ``data`` as mono."""
        buf = AudioBuffer.from_any(data, "DownmixNode")
        x = buf.data
        if x.ndim == 1:
            return buf
        mean = x.mean(axis=0, dtype=np.float64)
        if x.dtype.kind in "iu":
            mean = np.rint(mean)
        return buf.replace(data=mean.astype(x.dtype))

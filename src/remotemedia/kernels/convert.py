"""PCM conversion: the public face shared by every body.

Rules (identical in the numpy and native bodies, sample for sample):

- int to float divides by 2**15 (i16) or 2**31 (i32);
- float to int multiplies by that scale, clips to the integer range and
  rounds to nearest, ties to even; NaN becomes 0, +-Inf clip;
- i32 to i16 divides by 2**16 with the same rounding; i16 to i32 is exact;
- float64 input is accepted; float32 output keeps NaN and Inf;
- converting to the input's own format returns a copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from remotemedia.kernels._validate import planar, target_format
from remotemedia.kernels.bodies import ConvertFlat


def convert_with(body: ConvertFlat, x: Any, to: Any) -> np.ndarray:
    """Validate ``x`` and ``to`` then run one body's conversion.

    Parameters
    ----------
    x : ndarray
        int16, int32, float32 or float64 samples, 1-D or (channels, frames).
    to : str
        "i16", "i32" or "f32" (numpy dtypes and "int16"-style names work too).

    Returns
    -------
    ndarray
        A new array of the same shape in the target format.

    Raises
    ------
    TypeError
        ``x`` is not an ndarray of a supported dtype.
    ValueError
        Unknown target format, or ``x`` is not planar audio.
    """
    code = target_format(to, "convert")
    return body(planar(x, "convert"), code)

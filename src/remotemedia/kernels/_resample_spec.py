"""The resampler's quality presets, in a module that imports nothing.

Checking a quality name (every resampler, chain and node does) needs only
these; the filter design that uses them (``kernels/python/resample_design.py``,
with its dataclasses) is imported when a filter is designed in Python or
the memory check runs, not by a run on the Rust core. The Rust core
(``rust/remotemedia-runtime/src/resample/design.rs``) holds the same numbers.
"""

from __future__ import annotations

#: quality name -> (passband end, stopband start, attenuation dB)
SPECS: dict[str, tuple[float, float, float]] = {
    "low": (0.70, 1.0, 125.0),
    "medium": (0.90, 1.0, 137.0),
    "high": (0.91, 1.0, 139.0),
    "very_high": (0.91, 1.0, 175.0),
}

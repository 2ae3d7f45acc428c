"""Kernel sets: one contract, several bodies.

``get()`` returns a :class:`KernelSet` whose functions are one body: the
"rust" set runs the Rust core (``kernels/rust/``, through the Cython or
ctypes binding), the "python" set numpy (``kernels/python/``). Both give
the same results; only the speed differs. Nodes and the top-level
conveniences call kernels through a set and never import a binding. What a
body provides is typed in ``kernels/bodies.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from remotemedia import runtime
from remotemedia.errors import RuntimeUnavailableError
from remotemedia.kernels._exclusive import exclusive_vad
from remotemedia.kernels.bodies import ConvertFlat, ResampleOneShot, ResamplerCoreFactory, VadStreamFactory
from remotemedia.kernels.convert import convert_with
from remotemedia.kernels.resample import DEFAULT_QUALITY, resample_with
from remotemedia.kernels.resample import Resampler as _Resampler
from remotemedia.kernels.vad import VAD, speech_segments

__all__ = ["KernelSet", "available", "get"]

NAMES = ("rust", "python")


@dataclass(frozen=True, eq=False)
class KernelSet:
    """The kernels of one body.

    Attributes
    ----------
    name : str
        "rust" (the Rust core, body in ``kernels/rust/``) or "python"
        (numpy, body in ``kernels/python/``).
    binding : str or None
        "cython" or "ctypes" for the Rust core, None for numpy.
    """

    name: str
    binding: str | None
    _convert: ConvertFlat = field(repr=False)
    _resample_one_shot: ResampleOneShot = field(repr=False)
    _resampler_core: ResamplerCoreFactory = field(repr=False)
    _vad: VadStreamFactory | None = field(default=None, repr=False)
    _chain_core: Any = field(default=None, repr=False)
    _flac: Any = field(default=None, repr=False)

    def convert(self, x: Any, to: Any) -> np.ndarray:
        """Convert PCM samples to "i16", "i32" or "f32"; see kernels.convert."""
        return convert_with(self._convert, x, to)

    @property
    def decodes_flac(self) -> bool:
        """True if this set has a FLAC decoder (the Rust core's; numpy has none: callers read with soundfile)."""
        return self._flac is not None

    def decode_flac(self, data: Any, channels: int, frames: int, block_frames: int) -> list[np.ndarray]:
        """A whole 4- to 16-bit FLAC stream (the file's bytes) as int16 blocks of ``block_frames`` frames.

        Each block is planar and C-contiguous: ``(channels, n)``, or 1-D
        for mono; samples narrower than 16 bits are shifted up, as
        libsndfile reads them as int16. The stream must hold exactly
        ``channels`` channels and ``frames`` frames.

        Raises
        ------
        ValueError
            The stream is not one the decoder reads exactly (damaged,
            truncated, counts other than expected, wider than 16 bits,
            a feature it does not take); read the file with soundfile.
        RuntimeUnavailableError
            This set has no FLAC decoder (see :attr:`decodes_flac`).
        """
        if self._flac is None:
            raise RuntimeUnavailableError(f"kernel set {self.name!r} has no FLAC decoder; read FLAC with soundfile")
        if channels < 1 or frames < 0 or block_frames < 1:
            raise ValueError(f"decode_flac: channels {channels}, frames {frames}, block_frames {block_frames}")
        result: list[np.ndarray] = self._flac(data, channels, frames, block_frames)
        return result

    def resample(self, x: Any, in_rate: Any, out_rate: Any, quality: Any = DEFAULT_QUALITY) -> np.ndarray:
        """Resample in one shot (delay-compensated, ``ceil(n * out / in)`` frames).

        See :func:`remotemedia.kernels.resample.resample_with` for parameters and errors.
        """
        return resample_with(self, x, in_rate, out_rate, quality)

    def Resampler(
        self,
        in_rate: Any,
        out_rate: Any,
        channels: Any = 1,
        quality: Any = DEFAULT_QUALITY,
        *,
        variable: bool = False,
    ) -> _Resampler:
        """A streaming :class:`remotemedia.kernels.resample.Resampler` on this body."""
        return _Resampler(in_rate, out_rate, channels, quality, variable=variable, kernels=self)

    def resampler_from_ratio(self, ratio: Any, channels: Any = 1, quality: Any = DEFAULT_QUALITY) -> _Resampler:
        """A streaming resampler for a non-integer ratio ``out / in`` on this body."""
        return _Resampler.from_ratio(ratio, channels, quality, kernels=self)

    def VAD(self, sample_rate: int, frame_duration_ms: int = 30, aggressiveness: int = 2, **kwargs: Any) -> VAD:
        """A streaming voice activity detector on this body; see kernels.vad.VAD (same keywords)."""
        return VAD(sample_rate, frame_duration_ms, aggressiveness, kernel_set=self, **kwargs)

    def Chain(self, stages: Any, layout: Any) -> Any:
        """A compiled chain of ``stages`` for input ``layout`` on this body; see kernels.chain."""
        from remotemedia.kernels.chain import compile_chain

        return compile_chain(self, tuple(stages), layout)

    def speech_segments(self, x: Any, sample_rate: int, *args: Any, **kwargs: Any) -> list[tuple[float, float]]:
        """Speech segments ``(start_s, end_s)`` on this body; see kernels.vad.speech_segments."""
        return speech_segments(x, sample_rate, *args, kernel_set=self, **kwargs)


_lock = threading.Lock()
_cache: dict[str | None, KernelSet] = {}


def _python_set() -> KernelSet:
    from remotemedia.kernels.chain import python_chain_core
    from remotemedia.kernels.python import convert, resample_interp
    from remotemedia.kernels.python.vad import VadStream

    return KernelSet(
        "python",
        None,
        convert.convert_flat,
        _resample_one_shot=resample_interp.resample_one_shot,
        _resampler_core=resample_interp.make_core,
        _vad=exclusive_vad(VadStream),
        _chain_core=python_chain_core(lambda: get("python")),
    )


def _rust_set(binding: ModuleType) -> KernelSet:
    from remotemedia.kernels.rust import convert, resample
    from remotemedia.kernels.rust.chain import make_chain
    from remotemedia.kernels.rust.flac import make_flac_decode
    from remotemedia.kernels.rust.vad import make_vad

    one_shot, core = resample.make_resample(binding)
    return KernelSet(
        "rust",
        binding.BINDING,
        convert.make_convert_flat(binding),
        _resample_one_shot=one_shot,
        _resampler_core=core,
        _vad=make_vad(binding),  # exclusive: make_vad's streams refuse a second thread
        _chain_core=make_chain(binding) if hasattr(binding, "Chain") else None,
        _flac=make_flac_decode(binding) if hasattr(binding, "flac_decode_i16") else None,
    )


def get(name: str | None = None, binding: str | None = None) -> KernelSet:
    """Return a kernel set.

    Parameters
    ----------
    name : {"rust", "python"} or None
        None picks automatically (native when it loads, honouring
        REMOTEMEDIA_RUNTIME); "rust" requires the native core.
    binding : {"cython", "ctypes"} or None
        With ``name="rust"`` or None: use this binding only.

    Raises
    ------
    RuntimeUnavailableError
        A native set was asked for and cannot be loaded.
    ValueError
        Unknown name or binding, or ``name="python"`` with a binding.
    """
    if name not in (None, *NAMES):
        raise ValueError(f"unknown kernel set {name!r}; expected 'rust', 'python' or None")
    if binding is not None and binding not in runtime.BINDINGS:
        raise ValueError(f"unknown binding {binding!r}; expected 'cython' or 'ctypes'")
    if name == "python":
        if binding is not None:
            raise ValueError("the python kernel set has no binding")
        return _cached("python", _python_set)
    if binding is not None:
        module, reason = runtime.load_binding(binding)
        if module is None:
            raise RuntimeUnavailableError(f"kernel set rust/{binding} unavailable: {reason}")
        return _cached(binding, partial(_rust_set, module))
    if name == "rust":
        module = runtime.get_rust_runtime()
        if module is None:
            _, _, reason = runtime.try_load_rust_runtime()
            raise RuntimeUnavailableError(f"kernel set 'rust' unavailable: {reason}")
        return _cached(module.BINDING, partial(_rust_set, module))
    if runtime.is_rust_runtime_available():
        module = runtime.get_rust_runtime()
        assert module is not None
        return _cached(module.BINDING, partial(_rust_set, module))
    return _cached("python", _python_set)


def _cached(key: str, build: Callable[[], KernelSet]) -> KernelSet:
    with _lock:
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def available() -> list[KernelSet]:
    """Every kernel set that loads here: numpy, and each native binding."""
    sets = [get("python")]
    for binding in runtime.BINDINGS:
        module, _ = runtime.load_binding(binding)
        if module is not None:
            sets.append(get("rust", binding=binding))
    return sets

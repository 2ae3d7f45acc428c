"""ctypes binding of the remotemedia C ABI, loading the Rust cdylib.

It exports the same functions as the Cython extension (``cython_binding``),
with the same signatures and exceptions, so the native kernel bodies work on
either. The cdylib is installed in this folder (``remotemedia/_bindings/``).
ctypes releases the GIL during every foreign call. Each call costs a few
microseconds more than through Cython: use it where building the extension
is not possible, or to load a core built separately.
"""

from __future__ import annotations

import ctypes
import os
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from remotemedia._bindings.abi import FORMAT_CODES
from remotemedia._bindings.ctypes_signatures import RmStage, declare
from remotemedia._bindings.status import raise_for_status

BINDING = "ctypes"
ENV_LIB = "REMOTEMEDIA_RUNTIME_LIB"

_DTYPES = {"i16": np.int16, "i32": np.int32, "f32": np.float32, "f64": np.float64}
_FORMATS = {name: (FORMAT_CODES[name], dtype) for name, dtype in _DTYPES.items()}


def library_filename() -> str:
    """File name of the cdylib on this platform."""
    if sys.platform == "win32":
        return "remotemedia_runtime.dll"
    if sys.platform == "darwin":
        return "libremotemedia_runtime.dylib"
    return "libremotemedia_runtime.so"


def find_library() -> Path | None:
    """The cdylib named by REMOTEMEDIA_RUNTIME_LIB, else the one installed next to this module."""
    env = os.environ.get(ENV_LIB)
    if env:
        return Path(env)
    candidate = resources.files("remotemedia._bindings").joinpath(library_filename())
    if candidate.is_file():
        return Path(str(candidate))
    return None


def _load() -> ctypes.CDLL:
    path = find_library()
    if path is None:
        raise ImportError(
            f"no {library_filename()} in the remotemedia._bindings package and {ENV_LIB} is not set; "
            "build it with `cargo build --release` in rust/remotemedia-runtime and point "
            f"{ENV_LIB} at target/release/{library_filename()}"
        )
    if not path.is_file():
        raise ImportError(f"{ENV_LIB}={path} does not name a file")
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        raise ImportError(f"could not load {path}: {exc}") from exc
    try:
        declare(lib)
    except AttributeError as exc:
        raise ImportError(f"{path} is not a remotemedia runtime library: {exc}") from exc
    return lib


_lib = _load()
LIBRARY_PATH = find_library()


def _fail(status: int) -> None:
    raise_for_status(status, (_lib.rm_last_error() or b"").decode("utf-8", "replace"))


def _ptr(a: np.ndarray, dtype: Any, what: str) -> int:
    # ctypes cannot check buffers as Cython memoryviews do; a wrong array
    # here would mean reading or writing out of bounds, so check it.
    if a.dtype != dtype or not a.flags.c_contiguous or a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D C-contiguous {np.dtype(dtype).name} array")
    if what == "out" and not a.flags.writeable:
        raise ValueError("out: buffer is read-only")
    return int(a.ctypes.data)


def abi_version() -> int:
    return int(_lib.rm_abi_version())


def version() -> str:
    return bytes(_lib.rm_version()).decode()


def cpu_features() -> str:
    return bytes(_lib.rm_cpu_features()).decode()


def debug_panic() -> None:
    st = _lib.rm_debug_panic()
    if st:
        _fail(st)


def _make_convert(src: str, dst: str) -> Any:
    s_code, s_dtype = _FORMATS[src]
    d_code, d_dtype = _FORMATS[dst]
    fn = _lib.rm_convert

    def convert(x: np.ndarray, out: np.ndarray) -> None:
        # Buffers first, as the Cython memoryviews check them: an empty
        # array of the wrong dtype or layout is refused on both bindings.
        xp, op = _ptr(x, s_dtype, "x"), _ptr(out, d_dtype, "out")
        n = x.shape[0]
        if out.shape[0] != n:
            raise ValueError(f"convert: output has {out.shape[0]} samples, input {n}")
        if n == 0:
            return
        st = fn(xp, s_code, op, d_code, n)
        if st:
            _fail(st)

    convert.__name__ = f"convert_{src}_{dst}"
    return convert


for _s in ("i16", "i32", "f32", "f64"):
    for _d in ("i16", "i32", "f32"):
        globals()[f"convert_{_s}_{_d}"] = _make_convert(_s, _d)
del _s, _d


def _resample_ptr(a: np.ndarray, rows: int, what: str) -> int:
    # Same checks as the Cython memoryview `float[:, ::1]`.
    if a.dtype != np.float32 or a.ndim != 2 or not a.flags.c_contiguous or a.shape[0] != rows:
        raise ValueError(f"{what}: expected a ({rows}, n) C-contiguous float32 array")
    if what == "out" and not a.flags.writeable:
        raise ValueError("out: buffer is read-only")
    return int(a.ctypes.data) if a.size else 0


class Resampler:
    """Streaming resampler handle (rm_resampler); frees itself."""

    def __init__(
        self,
        in_rate: int,
        out_rate: int,
        channels: int,
        quality: int,
        variable: bool = False,
        ratio: float | None = None,
    ) -> None:
        # ratio given: a non-integer ratio out/in (the rates are ignored);
        # variable: integer rates on the kernel whose ratio may change.
        self._h = ctypes.c_void_p()
        self._free = _lib.rm_resampler_free
        if ratio is not None:
            st = _lib.rm_resampler_new_ratio(ratio, channels, quality, ctypes.byref(self._h))
        elif variable:
            st = _lib.rm_resampler_new_variable(in_rate, out_rate, channels, quality, ctypes.byref(self._h))
        else:
            st = _lib.rm_resampler_new(in_rate, out_rate, channels, quality, ctypes.byref(self._h))
        if st:
            _fail(st)
        self.channels = channels

    def __del__(self) -> None:
        h = getattr(self, "_h", None)
        if h:
            self._free(h)
            self._h = ctypes.c_void_p()

    def _size(self, fn: Any, *args: Any) -> int:
        # A size variable per call: one shared by the object would let a
        # call from another thread (delay() during process()) overwrite the
        # count this call reads back.
        n = ctypes.c_size_t()
        st = fn(self._h, *args, ctypes.byref(n))
        if st:
            _fail(st)
        return int(n.value)

    def output_frames(self, in_frames: int) -> int:
        return self._size(_lib.rm_resampler_output_frames, in_frames)

    def flush_frames(self) -> int:
        return self._size(_lib.rm_resampler_flush_frames)

    def delay(self) -> int:
        return self._size(_lib.rm_resampler_delay)

    def process(self, x: np.ndarray, out: np.ndarray) -> int:
        xp = _resample_ptr(x, self.channels, "x")
        op = _resample_ptr(out, self.channels, "out")
        return self._size(_lib.rm_resampler_process, xp, x.shape[1], op, out.size, out.shape[1])

    def flush(self, out: np.ndarray) -> int:
        op = _resample_ptr(out, self.channels, "out")
        return self._size(_lib.rm_resampler_flush, op, out.size, out.shape[1])

    def reset(self) -> None:
        st = _lib.rm_resampler_reset(self._h)
        if st:
            _fail(st)

    def set_ratio(self, ratio: float, ramp_frames: int) -> None:
        st = _lib.rm_resampler_set_ratio(self._h, ratio, ramp_frames)
        if st:
            _fail(st)


def resample(in_rate: int, out_rate: int, quality: int, x: np.ndarray, out: np.ndarray) -> None:
    ch = x.shape[0] if x.ndim == 2 else 0
    xp = _resample_ptr(x, ch, "x")
    op = _resample_ptr(out, ch, "out")
    st = _lib.rm_resample(in_rate, out_rate, quality, ch, xp, x.shape[1], op, out.shape[1])
    if st:
        _fail(st)


class Vad:
    """Native streaming VAD (rm_vad_*); arguments validated by the caller."""

    def __init__(self, sample_rate: int, frame_ms: int, aggressiveness: int) -> None:
        self._h = None
        h = ctypes.c_void_p()
        st = _lib.rm_vad_new(sample_rate, frame_ms, aggressiveness, ctypes.byref(h))
        if st:
            _fail(st)
        self._h = h
        n = ctypes.c_size_t()
        st = _lib.rm_vad_frame_length(h, ctypes.byref(n))
        if st:
            _fail(st)
        self.frame_length = n.value

    def __del__(self) -> None:
        if self._h is not None:
            _lib.rm_vad_free(self._h)
            self._h = None

    def reset(self) -> None:
        st = _lib.rm_vad_reset(self._h)
        if st:
            _fail(st)

    @property
    def buffered(self) -> int:
        n = ctypes.c_size_t()
        st = _lib.rm_vad_buffered(self._h, ctypes.byref(n))
        if st:
            _fail(st)
        return n.value

    def set_decision(self, threshold: int, release: int, hangover_ms: int) -> None:
        st = _lib.rm_vad_set_decision(self._h, threshold, release, hangover_ms)
        if st:
            _fail(st)

    def flags(self, x: np.ndarray) -> np.ndarray:
        """Flags of mono samples ``x`` as a new uint8 array."""
        out = np.empty((self.buffered + x.shape[0]) // self.frame_length, np.uint8)
        self.process(x, out)
        return out

    def process(self, x: np.ndarray, out: np.ndarray, scores: np.ndarray | None = None) -> int:
        """Flags (and scores) of mono int16/int32/float32/float64 samples ``x`` into ``out``."""
        dtype, code = _VAD_FORMATS[x.dtype.char]
        n = x.shape[0]
        xp = _ptr(x, dtype, "x") if n else None
        k = ctypes.c_size_t()  # per call, as in Resampler._size
        cap = out.shape[0]
        op = _ptr(out, np.uint8, "out") if cap else None
        if scores is None:
            st = _lib.rm_vad_process(self._h, xp, code, n, op, cap, ctypes.byref(k))
        else:
            cap = min(cap, scores.shape[0])
            sp = _ptr(scores, np.float32, "scores") if cap else None
            st = _lib.rm_vad_process_scores(self._h, xp, code, n, op, sp, cap, ctypes.byref(k))
        if st:
            _fail(st)
        return k.value


_VAD_FORMATS = {
    "h": (np.int16, FORMAT_CODES["i16"]),
    "i": (np.int32, FORMAT_CODES["i32"]),
    "f": (np.float32, FORMAT_CODES["f32"]),
    "d": (np.float64, FORMAT_CODES["f64"]),
}


_CHAIN_DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype(np.int16),
    2: np.dtype(np.int32),
    3: np.dtype(np.float32),
    4: np.dtype(np.float64),
}


_EVENTS_CAP = 16  # speech events taken per rm_chain_events call


class Chain:
    """A compiled chain (rm_chain); arguments validated by the caller. Same interface as the Cython class."""

    def __init__(self, fmt: int, channels: int, rate: int, stages: list[tuple[int, int, int]], out_1d: bool) -> None:
        self._h = None
        spec = (RmStage * max(1, len(stages)))(*[RmStage(k, a, b) for k, a, b in stages])
        h = ctypes.c_void_p()
        st = _lib.rm_chain_new(fmt, channels, rate, spec, len(stages), ctypes.byref(h))
        if st:
            _fail(st)
        self._h = h
        f, ch, r, w = ctypes.c_int32(), ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_int32()
        st = _lib.rm_chain_output_format(h, ctypes.byref(f), ctypes.byref(ch), ctypes.byref(r), ctypes.byref(w))
        if st:
            _fail(st)
        self.in_format, self.in_channels, self.n_stages = fmt, channels, len(stages)
        self.out_format, self.out_channels, self.out_rate, self.writes = f.value, ch.value, r.value, bool(w.value)
        self.out_1d = out_1d
        self._in_dtype = _CHAIN_DTYPES[fmt]
        self._dtype = _CHAIN_DTYPES[f.value]
        self._a, self._b = ctypes.c_size_t(), ctypes.c_size_t()
        self._ra, self._rb = ctypes.byref(self._a), ctypes.byref(self._b)

    def __del__(self) -> None:
        if getattr(self, "_h", None) is not None:
            _lib.rm_chain_free(self._h)
            self._h = None

    def _alloc(self, frames: int) -> np.ndarray:
        if self.out_1d:
            return np.empty(frames, self._dtype)
        return np.empty((self.out_channels, frames), self._dtype)

    def _call(self, x: np.ndarray, whole: bool) -> tuple[np.ndarray | None, np.ndarray]:
        if x.dtype != self._in_dtype or not x.flags.c_contiguous or x.size % self.in_channels:
            raise ValueError("Chain: input does not match the format the chain was compiled for")
        n = x.size // self.in_channels
        size = _lib.rm_chain_run_frames if whole else _lib.rm_chain_output_frames
        st = size(self._h, n, self._ra, self._rb)
        if st:
            _fail(st)
        out, flags, outs = self._outputs()
        fn = _lib.rm_chain_run if whole else _lib.rm_chain_process
        st = fn(self._h, int(x.ctypes.data) if x.size else None, n, *outs, self._ra, self._rb)
        if st:
            _fail(st)
        return out, flags

    def _outputs(self) -> tuple[np.ndarray | None, np.ndarray, tuple[int | None, int, int | None, int]]:
        """Arrays of the sizes the last sizing call reported, and their (pointer, length) arguments."""
        frames, nflags = self._a.value, self._b.value
        out = self._alloc(frames) if self.writes else None
        flags = np.empty(nflags, np.uint8)
        outs = (
            int(out.ctypes.data) if out is not None and out.size else None,
            frames,
            int(flags.ctypes.data) if nflags else None,
            nflags,
        )
        return out, flags, outs

    def process(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        return self._call(x, False)

    def run(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        return self._call(x, True)

    def flush(self) -> tuple[np.ndarray | None, np.ndarray]:
        st = _lib.rm_chain_flush(self._h, self._ra, self._rb)
        if st:
            _fail(st)
        out, flags, outs = self._outputs()
        st = _lib.rm_chain_take(self._h, *outs, self._ra, self._rb)
        if st:
            _fail(st)
        return out, flags

    def reset(self) -> None:
        st = _lib.rm_chain_reset(self._h)
        if st:
            _fail(st)

    def stage_times(self) -> list[int]:
        ns = (ctypes.c_uint64 * max(1, self.n_stages))()
        st = _lib.rm_chain_stage_times(self._h, ns, self.n_stages)
        if st:
            _fail(st)
        return list(ns[: self.n_stages])

    def debug_fail(self, stage: int) -> None:
        st = _lib.rm_chain_debug_fail(self._h, stage)
        if st:
            _fail(st)

    def set_timing(self, on: bool) -> None:
        st = _lib.rm_chain_set_timing(self._h, 1 if on else 0)
        if st:
            _fail(st)

    def set_threads(self, threads: int) -> None:
        st = _lib.rm_chain_set_threads(self._h, threads)
        if st:
            _fail(st)

    def set_segments(self, params: tuple[int, ...]) -> None:
        p = (ctypes.c_int64 * len(params))(*params)
        st = _lib.rm_chain_set_segments(self._h, p, len(params))
        if st:
            _fail(st)
        self._ev = (ctypes.c_int64 * (2 * _EVENTS_CAP))()

    def events(self) -> tuple[tuple[int, int], ...]:
        out: list[tuple[int, int]] = []
        ev = getattr(self, "_ev", None)
        if ev is None:
            return ()
        while True:
            st = _lib.rm_chain_events(self._h, ev, _EVENTS_CAP, self._ra)
            if st:
                _fail(st)
            k = self._a.value
            out.extend((ev[2 * i], ev[2 * i + 1]) for i in range(k))
            if k < _EVENTS_CAP:
                return tuple(out)

    def process_events(self, x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, tuple[tuple[int, int], ...]]:
        y, flags = self._call(x, False)
        return y, flags, self.events()


def _flac_decode(data: Any, channels: int, frames: int, block_frames: int, out: np.ndarray, fmt: str) -> None:
    raw = np.frombuffer(data, dtype=np.uint8)  # no copy; the buffer's length is checked by numpy
    code, dtype = _FORMATS[fmt]
    op = _ptr(out, dtype, "out")
    st = _lib.rm_flac_decode(int(raw.ctypes.data), raw.size, channels, frames, block_frames, op, code, out.size)
    if st:
        _fail(st)


def flac_decode_i16(data: Any, channels: int, frames: int, block_frames: int, out: np.ndarray) -> None:
    """Decode a whole FLAC stream (its bytes) into ``out``, blocks of ``block_frames`` frames, each planar."""
    _flac_decode(data, channels, frames, block_frames, out, "i16")


def flac_decode_i32(data: Any, channels: int, frames: int, block_frames: int, out: np.ndarray) -> None:
    """As :func:`flac_decode_i16`, raw values of up to 24 bits in int32."""
    _flac_decode(data, channels, frames, block_frames, out, "i32")

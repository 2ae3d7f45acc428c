# Native chains: a cdef class owning one rm_chain. process() is the one
# binding call of a pushed frame: it sizes, allocates and fills the output
# arrays (written in place by the core, never copied) with the GIL released.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport int64_t, uint64_t

import numpy as _np

_CHAIN_DTYPES = {1: _np.dtype(_np.int16), 2: _np.dtype(_np.int32), 3: _np.dtype(_np.float32), 4: _np.dtype(_np.float64)}
_EMPTY_FLAGS = _np.zeros(0, _np.uint8)
_EMPTY_FLAGS.flags.writeable = False  # shared by every call that completes no VAD frame
# A block that completes one VAD frame (most pushed frames) gets one of these
# two (shared, read-only like _EMPTY_FLAGS): no array to allocate per call.
_ONE_FLAG = (_np.zeros(1, _np.uint8), _np.ones(1, _np.uint8))
for _f in _ONE_FLAG:
    _f.flags.writeable = False
# Bound once: a pushed frame allocates its arrays without module attribute lookups.
_empty = _np.empty
_U8 = _np.dtype(_np.uint8)
cdef enum:
    _EVENTS_CAP = 16  # speech events taken per rm_chain_events call


cdef inline void *_addr(object a):
    cdef Py_buffer b
    cdef void *p
    PyObject_GetBuffer(a, &b, PyBUF_C_CONTIGUOUS)
    p = b.buf
    PyBuffer_Release(&b)
    return p


cdef class Chain:
    """A compiled chain (rm_chain); arguments validated by the caller.

    ``stages``: (kind, a, b) triples (RM_STAGE_*). ``out_1d``: give 1-D
    output arrays (mono output of a 1-D or downmixed input).
    """

    cdef rm_chain *_h
    cdef readonly uint32_t in_channels, out_channels, out_rate, n_stages
    cdef readonly int32_t in_format, out_format
    cdef readonly bint writes, out_1d
    cdef size_t _itemsize
    cdef object _dtype
    cdef object _shape1
    cdef bint _track

    def __cinit__(self, int32_t fmt, uint32_t channels, uint32_t rate, stages, bint out_1d):
        cdef int32_t st, ofmt = 0, w = 0
        cdef uint32_t och = 0, orate = 0
        cdef size_t n = len(stages), i
        cdef rm_stage *spec = <rm_stage *>PyMem_Malloc(max(n, 1) * sizeof(rm_stage))
        if spec == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                spec[i].kind, spec[i].a, spec[i].b = stages[i]
            self._h = NULL
            with nogil:
                st = rm_chain_new(fmt, channels, rate, spec, n, &self._h)
        finally:
            PyMem_Free(spec)
        if st != RM_OK:
            _fail(st)
        st = rm_chain_output_format(self._h, &ofmt, &och, &orate, &w)
        if st != RM_OK:
            _fail(st)
        self.in_format, self.in_channels, self.n_stages = fmt, channels, <uint32_t>n
        self.out_format, self.out_channels, self.out_rate, self.writes = ofmt, och, orate, w != 0
        self.out_1d = out_1d
        self._itemsize = _CHAIN_DTYPES[fmt].itemsize
        self._dtype = _CHAIN_DTYPES[ofmt]

    def __dealloc__(self):
        if self._h != NULL:
            rm_chain_free(self._h)
            self._h = NULL

    cdef object _alloc(self, size_t frames):
        if self.out_1d:
            return _empty(frames, self._dtype)
        return _empty((self.out_channels, frames), self._dtype)

    cdef object _flags(self, size_t nflags, uint8_t **fp):
        # The flags array and its address (no typed memoryview: it costs a
        # buffer export and an object per call).
        if not nflags:
            return _EMPTY_FLAGS
        flags = _empty(nflags, _U8)
        fp[0] = <uint8_t *>_addr(flags)
        return flags

    cdef tuple _call(self, object x, bint whole):
        cdef Py_buffer buf
        PyObject_GetBuffer(x, &buf, PyBUF_C_CONTIGUOUS)
        try:
            return self._call_buffer(&buf, whole, NULL)
        finally:
            PyBuffer_Release(&buf)

    cdef tuple _call_buffer(self, Py_buffer *buf, bint whole, size_t *n_out):
        # One block from an exported (C-contiguous) buffer: (output or None,
        # flags); the output's frames into *n_out unless NULL.
        cdef size_t n_in, frames = 0, nflags = 0, wrote = 0, wrote_flags = 0
        cdef int32_t st
        cdef void *op = NULL
        cdef void *ip = buf.buf
        cdef uint8_t *fp = NULL
        cdef uint8_t one = 0
        if <size_t>buf.itemsize != self._itemsize or (<size_t>buf.len // self._itemsize) % self.in_channels:
            raise ValueError("Chain: input does not match the format the chain was compiled for")
        n_in = (<size_t>buf.len // self._itemsize) // self.in_channels
        if whole:
            st = rm_chain_run_frames(self._h, n_in, &frames, &nflags)
        else:
            st = rm_chain_output_frames(self._h, n_in, &frames, &nflags)
        if st != RM_OK:
            _fail(st)
        out = None
        if self.writes:
            out = self._alloc(frames)
            if frames:
                op = _addr(out)
        if nflags == 1:
            flags = None  # one of _ONE_FLAG, once the value is known
            fp = &one
        else:
            flags = self._flags(nflags, &fp)
        with nogil:
            if whole:
                st = rm_chain_run(self._h, ip, n_in, op, frames, fp, nflags, &wrote, &wrote_flags)
            else:
                st = rm_chain_process(self._h, ip, n_in, op, frames, fp, nflags, &wrote, &wrote_flags)
        if st != RM_OK:
            _fail(st)
        if flags is None:
            flags = _ONE_FLAG[one] if one < 2 else _np.full(1, one, _U8)
        if n_out != NULL:
            n_out[0] = frames
        return out, flags

    def process(self, x):
        """Push one block: ``(output array or None when the output is the input, flags)``."""
        return self._call(x, False)

    def run(self, x):
        """A whole buffer, tail included; leaves the chain reset."""
        return self._call(x, True)

    def flush(self):
        """End of stream: ``(tail array or None, flags)``; resets the chain."""
        cdef size_t frames = 0, nflags = 0, a = 0, b = 0
        cdef int32_t st
        cdef void *op = NULL
        cdef uint8_t *fp = NULL
        with nogil:
            st = rm_chain_flush(self._h, &frames, &nflags)
        if st != RM_OK:
            _fail(st)
        out = None
        if self.writes:
            out = self._alloc(frames)
            if frames:
                op = _addr(out)
        flags = _empty(nflags, _U8) if nflags else _np.zeros(0, _U8)
        if nflags:
            fp = <uint8_t *>_addr(flags)
        st = rm_chain_take(self._h, op, frames, fp, nflags, &a, &b)
        if st != RM_OK:
            _fail(st)
        return out, flags

    def reset(self):
        cdef int32_t st = rm_chain_reset(self._h)
        if st != RM_OK:
            _fail(st)

    def stage_times(self):
        """Nanoseconds per stage since the last call (then zeroed)."""
        cdef uint64_t ns[64]
        cdef size_t n = min(<size_t>self.n_stages, 64)
        cdef int32_t st = rm_chain_stage_times(self._h, ns, n)
        if st != RM_OK:
            _fail(st)
        return [ns[i] for i in range(n)]

    def debug_fail(self, size_t stage):
        cdef int32_t st = rm_chain_debug_fail(self._h, stage)
        if st != RM_OK:
            _fail(st)

    def set_timing(self, bint on):
        """Stage timing on (the default) or off (a clock reading saved per stage and block)."""
        cdef int32_t st = rm_chain_set_timing(self._h, 1 if on else 0)
        if st != RM_OK:
            _fail(st)

    def set_threads(self, uint32_t threads):
        """Threads for a big block's per-channel stages (0: one per channel up to the cores)."""
        cdef int32_t st = rm_chain_set_threads(self._h, threads)
        if st != RM_OK:
            _fail(st)

    def set_segments(self, params):
        """Speech events for streams: the 7 integers of ``SegmentTracker.params()``."""
        cdef int64_t p[7]
        cdef size_t i
        if len(params) != 7:
            raise ValueError(f"Chain.set_segments: 7 values expected, got {len(params)}")
        for i in range(7):
            p[i] = params[i]
        cdef int32_t st = rm_chain_set_segments(self._h, p, 7)
        if st != RM_OK:
            _fail(st)
        self._track = True

    cdef object _events(self):
        # Pending speech events as ((kind, sample), ...): kind 1 start, 0 end.
        cdef int64_t ev[2 * _EVENTS_CAP]
        cdef size_t n = 0, i
        cdef int32_t st
        if not self._track:
            return ()
        st = rm_chain_events(self._h, ev, _EVENTS_CAP, &n)
        if st != RM_OK:
            _fail(st)
        if n == 0:
            return ()
        out = []
        while True:
            for i in range(n):
                out.append((ev[2 * i], ev[2 * i + 1]))
            if n < _EVENTS_CAP:
                return tuple(out)
            st = rm_chain_events(self._h, ev, _EVENTS_CAP, &n)
            if st != RM_OK:
                _fail(st)

    def events(self):
        """Take the pending speech events (after ``flush``: the tail's and the end of stream's)."""
        return self._events()

    def process_events(self, x):
        """``process`` plus the speech events the block's flags decided: ``(y, flags, events)``."""
        out, flags = self._call(x, False)
        return out, flags, self._events()


# Voice activity detection: a cdef class owning one rm_vad handle. The
# per-dtype process methods take typed memoryviews, so a call is one
# native call with the GIL released. Every entry point claims the handle
# (one call at a time, the rule of kernels/_exclusive.py, same error): the
# claim is a C flag tested and set while the GIL is held, so it costs no
# lock and no Python frame.

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_FORMAT, PyBUF_STRIDES, PyBUF_WRITABLE
from libc.stdint cimport uint8_t

from numpy import empty as _np_empty, float32 as _np_f32, ndarray as _np_ndarray, uint8 as _np_u8

from remotemedia.errors import ConcurrentUseError as _ConcurrentUseError


cdef object _vad_busy(str op):
    return _ConcurrentUseError(
        f"VAD.{op}: used from two threads at once (another call is still inside this object); "
        "use one VAD per thread or serialise the calls with a lock"
    )


cdef class Vad:
    """Native streaming VAD (rm_vad_*); arguments validated by the caller."""

    cdef rm_vad *_h
    cdef readonly size_t frame_length
    cdef bint _busy

    def __cinit__(self, uint32_t sample_rate, uint32_t frame_ms, uint32_t aggressiveness):
        cdef int32_t st
        cdef rm_vad *h = NULL
        cdef size_t n = 0
        with nogil:
            st = rm_vad_new(sample_rate, frame_ms, aggressiveness, &h)
        if st != RM_OK:
            _fail(st)
        self._h = h
        with nogil:
            st = rm_vad_frame_length(h, &n)
        if st != RM_OK:
            _fail(st)
        self.frame_length = n

    def __dealloc__(self):
        if self._h != NULL:
            rm_vad_free(self._h)
            self._h = NULL

    cdef inline int _enter(self, str op) except -1:
        if self._busy:
            raise _vad_busy(op)
        self._busy = True
        return 0

    def reset(self):
        cdef int32_t st
        self._enter("reset")
        try:
            with nogil:
                st = rm_vad_reset(self._h)
        finally:
            self._busy = False
        if st != RM_OK:
            _fail(st)

    @property
    def buffered(self):
        cdef size_t n = 0
        cdef int32_t st = rm_vad_buffered(self._h, &n)
        if st != RM_OK:
            _fail(st)
        return n

    def set_decision(self, uint32_t threshold, uint32_t release, uint32_t hangover_ms):
        cdef int32_t st = rm_vad_set_decision(self._h, threshold, release, hangover_ms)
        if st != RM_OK:
            _fail(st)

    def process(self, x, uint8_t[::1] out, float[::1] scores=None):
        """Flags (and scores) of mono int16/int32/float32/float64 samples ``x`` into ``out``."""
        self._enter("process_scores")
        try:
            return self._run(x, out, scores)
        finally:
            self._busy = False

    def flags_scores(self, x, str op="process_scores"):
        """Flags and scores of mono samples ``x`` as new arrays (``op`` names the call in errors)."""
        cdef size_t buffered = 0
        cdef int32_t st
        cdef size_t k
        self._enter(op)
        try:
            st = rm_vad_buffered(self._h, &buffered)
            if st != RM_OK:
                _fail(st)
            k = (buffered + <size_t>x.shape[0]) // self.frame_length
            out = _np_empty(k, _np_u8)
            scores = _np_empty(k, _np_f32)
            self._run(x, out, scores)
            return out, scores
        finally:
            self._busy = False

    def flags(self, x):
        """Flags of mono samples ``x`` as a new uint8 array: one native call, no Python frame."""
        cdef size_t buffered = 0
        cdef int32_t st
        self._enter("process")
        try:
            st = rm_vad_buffered(self._h, &buffered)
            if st != RM_OK:
                _fail(st)
            out = _np_empty((buffered + <size_t>x.shape[0]) // self.frame_length, _np_u8)
            self._run(x, out, None)
            return out
        finally:
            self._busy = False

    def fast_flags(self, x):
        """``flags(x)`` when ``x`` is a 1-D contiguous ndarray of an accepted dtype, else None.

        The per-frame path of ``VAD.process``: the checks are C tests on the
        array's buffer, and the flags come from one native call.
        """
        cdef Py_buffer view
        cdef Py_buffer vo
        cdef int32_t fmt
        cdef int32_t st
        cdef size_t n, k = 0, buffered = 0
        cdef char c
        cdef object out
        if type(x) is not _np_ndarray:
            return None
        PyObject_GetBuffer(x, &view, PyBUF_STRIDES | PyBUF_FORMAT)
        try:
            if view.ndim != 1 or view.format == NULL or view.format[0] == 0 or view.format[1] != 0:
                return None
            if view.shape[0] > 1 and view.strides[0] != view.itemsize:
                return None
            c = view.format[0]
            if c == b"h" and view.itemsize == 2:
                fmt = RM_FORMAT_I16
            elif c == b"f" and view.itemsize == 4:
                fmt = RM_FORMAT_F32
            elif c == b"i" and view.itemsize == 4:
                fmt = RM_FORMAT_I32
            elif c == b"d" and view.itemsize == 8:
                fmt = RM_FORMAT_F64
            else:
                return None
            n = <size_t>view.shape[0]
            self._enter("process")
            try:
                st = rm_vad_buffered(self._h, &buffered)
                if st != RM_OK:
                    _fail(st)
                out = _np_empty((buffered + n) // self.frame_length, _np_u8)
                PyObject_GetBuffer(out, &vo, PyBUF_WRITABLE)
                try:
                    with nogil:
                        st = rm_vad_process(self._h, view.buf, fmt, n, <uint8_t *>vo.buf, <size_t>vo.len, &k)
                finally:
                    PyBuffer_Release(&vo)
                if st != RM_OK:
                    _fail(st)
                return out
            finally:
                self._busy = False
        finally:
            PyBuffer_Release(&view)

    cdef size_t _run(self, x, uint8_t[::1] out, float[::1] scores) except? 0:
        cdef const void *p = NULL
        cdef int32_t fmt
        cdef size_t n
        cdef const int16_t[::1] a16
        cdef const int32_t[::1] a32
        cdef const float[::1] af32
        cdef const double[::1] af64
        cdef str kind = x.dtype.char
        if kind == "h":
            a16 = x
            n = <size_t>a16.shape[0]
            fmt = RM_FORMAT_I16
            if n:
                p = <const void *>&a16[0]
        elif kind == "f":
            af32 = x
            n = <size_t>af32.shape[0]
            fmt = RM_FORMAT_F32
            if n:
                p = <const void *>&af32[0]
        elif kind == "d":
            af64 = x
            n = <size_t>af64.shape[0]
            fmt = RM_FORMAT_F64
            if n:
                p = <const void *>&af64[0]
        else:
            a32 = x
            n = <size_t>a32.shape[0]
            fmt = RM_FORMAT_I32
            if n:
                p = <const void *>&a32[0]
        return self._process(p, fmt, n, out, scores)

    cdef size_t _process(self, const void *x, int32_t fmt, size_t n, uint8_t[::1] out, float[::1] scores) except? 0:
        cdef size_t k = 0
        cdef int32_t st
        cdef size_t cap = <size_t>out.shape[0]
        cdef uint8_t *p = &out[0] if cap > 0 else NULL
        cdef float *ps = NULL
        if scores is None:
            with nogil:
                st = rm_vad_process(self._h, x, fmt, n, p, cap, &k)
        else:
            if <size_t>scores.shape[0] < cap:
                cap = <size_t>scores.shape[0]
            if cap > 0:
                ps = &scores[0]
            with nogil:
                st = rm_vad_process_scores(self._h, x, fmt, n, p, ps, cap, &k)
        if st != RM_OK:
            _fail(st)
        return k

# Voice activity detection: a cdef class owning one rm_vad handle. The
# per-dtype process methods take typed memoryviews, so a call is one
# native call with the GIL released.

from libc.stdint cimport uint8_t


cdef class Vad:
    """Native streaming VAD (rm_vad_*); arguments validated by the caller."""

    cdef rm_vad *_h
    cdef readonly size_t frame_length

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

    def reset(self):
        cdef int32_t st
        with nogil:
            st = rm_vad_reset(self._h)
        if st != RM_OK:
            _fail(st)

    @property
    def buffered(self):
        cdef size_t n = 0
        cdef int32_t st = rm_vad_buffered(self._h, &n)
        if st != RM_OK:
            _fail(st)
        return n

    cdef size_t _process(self, const void *x, int32_t fmt, size_t n, uint8_t[::1] out) except? 0:
        cdef size_t k = 0
        cdef int32_t st
        cdef size_t cap = <size_t>out.shape[0]
        cdef uint8_t *p = &out[0] if cap > 0 else NULL
        with nogil:
            st = rm_vad_process(self._h, x, fmt, n, p, cap, &k)
        if st != RM_OK:
            _fail(st)
        return k

    def process_i16(self, const int16_t[::1] x, uint8_t[::1] out):
        cdef const void *p = NULL
        if x.shape[0]:
            p = <const void *>&x[0]
        return self._process(p, RM_FORMAT_I16, <size_t>x.shape[0], out)

    def process_f32(self, const float[::1] x, uint8_t[::1] out):
        cdef const void *p = NULL
        if x.shape[0]:
            p = <const void *>&x[0]
        return self._process(p, RM_FORMAT_F32, <size_t>x.shape[0], out)

    def process_f64(self, const double[::1] x, uint8_t[::1] out):
        cdef const void *p = NULL
        if x.shape[0]:
            p = <const void *>&x[0]
        return self._process(p, RM_FORMAT_F64, <size_t>x.shape[0], out)

# Resampler: an owning handle class and a one-shot function. Arrays are
# (channels, frames) C-contiguous float32, validated by the caller.


cdef inline const float *_resample_in_ptr(const float[:, ::1] a):
    return NULL if a.shape[0] == 0 or a.shape[1] == 0 else &a[0, 0]


cdef inline float *_resample_out_ptr(float[:, ::1] a):
    return NULL if a.shape[0] == 0 or a.shape[1] == 0 else &a[0, 0]


cdef class Resampler:
    """Streaming resampler handle (rm_resampler); frees itself."""

    cdef rm_resampler *_h
    cdef readonly uint32_t channels

    def __cinit__(self, uint32_t in_rate, uint32_t out_rate, uint32_t channels, int32_t quality):
        cdef int32_t st
        self._h = NULL
        with nogil:
            st = rm_resampler_new(in_rate, out_rate, channels, quality, &self._h)
        if st != RM_OK:
            _fail(st)
        self.channels = channels

    def __dealloc__(self):
        if self._h != NULL:
            rm_resampler_free(self._h)
            self._h = NULL

    def output_frames(self, size_t in_frames):
        cdef size_t n = 0
        cdef int32_t st = rm_resampler_output_frames(self._h, in_frames, &n)
        if st != RM_OK:
            _fail(st)
        return n

    def flush_frames(self):
        cdef size_t n = 0
        cdef int32_t st = rm_resampler_flush_frames(self._h, &n)
        if st != RM_OK:
            _fail(st)
        return n

    def delay(self):
        cdef size_t n = 0
        cdef int32_t st = rm_resampler_delay(self._h, &n)
        if st != RM_OK:
            _fail(st)
        return n

    def process(self, const float[:, ::1] x, float[:, ::1] out):
        cdef size_t written = 0
        cdef int32_t st
        if <uint32_t>x.shape[0] != self.channels or <uint32_t>out.shape[0] != self.channels:
            raise ValueError(f"Resampler.process: expected {self.channels} channel rows")
        cdef const float *xp = _resample_in_ptr(x)
        cdef float *op = _resample_out_ptr(out)
        cdef size_t n = <size_t>x.shape[1]
        cdef size_t olen = <size_t>(out.shape[0] * out.shape[1])
        cdef size_t stride = <size_t>out.shape[1]
        with nogil:
            st = rm_resampler_process(self._h, xp, n, op, olen, stride, &written)
        if st != RM_OK:
            _fail(st)
        return written

    def flush(self, float[:, ::1] out):
        cdef size_t written = 0
        cdef int32_t st
        cdef float *op = _resample_out_ptr(out)
        cdef size_t olen = <size_t>(out.shape[0] * out.shape[1])
        cdef size_t stride = <size_t>out.shape[1]
        with nogil:
            st = rm_resampler_flush(self._h, op, olen, stride, &written)
        if st != RM_OK:
            _fail(st)
        return written

    def reset(self):
        cdef int32_t st = rm_resampler_reset(self._h)
        if st != RM_OK:
            _fail(st)


def resample(uint32_t in_rate, uint32_t out_rate, int32_t quality, const float[:, ::1] x, float[:, ::1] out):
    cdef int32_t st
    cdef uint32_t ch = <uint32_t>x.shape[0]
    cdef const float *xp = _resample_in_ptr(x)
    cdef float *op = _resample_out_ptr(out)
    cdef size_t n = <size_t>x.shape[1]
    cdef size_t m = <size_t>out.shape[1]
    if out.shape[0] != x.shape[0]:
        raise ValueError("resample: output and input channel counts differ")
    with nogil:
        st = rm_resample(in_rate, out_rate, quality, ch, xp, n, op, m)
    if st != RM_OK:
        _fail(st)

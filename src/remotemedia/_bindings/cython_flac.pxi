# Whole FLAC streams held in memory (the file's bytes) into planar blocks;
# see rm_flac_decode in the header.


cdef inline int _flac_decode(const uint8_t[::1] data, uint32_t channels, uint64_t frames, size_t block_frames,
                             void *out, int32_t fmt, size_t out_len) except -1:
    cdef int32_t st
    cdef const uint8_t *p = NULL
    cdef size_t n = <size_t>data.shape[0]
    if n:
        p = &data[0]
    with nogil:
        st = rm_flac_decode(p, n, channels, frames, block_frames, out, fmt, out_len)
    if st != RM_OK:
        _fail(st)
    return 0


def flac_decode_i16(const uint8_t[::1] data, uint32_t channels, uint64_t frames, size_t block_frames,
                    int16_t[::1] out):
    _flac_decode(data, channels, frames, block_frames, <void *>&out[0] if out.shape[0] else NULL,
                 RM_FORMAT_I16, <size_t>out.shape[0])


def flac_decode_i32(const uint8_t[::1] data, uint32_t channels, uint64_t frames, size_t block_frames,
                    int32_t[::1] out):
    _flac_decode(data, channels, frames, block_frames, <void *>&out[0] if out.shape[0] else NULL,
                 RM_FORMAT_I32, <size_t>out.shape[0])

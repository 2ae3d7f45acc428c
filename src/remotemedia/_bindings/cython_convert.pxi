# PCM conversion: one function per (source, target) pair so that each
# takes typed memoryviews and the call needs no dtype dispatch.

ctypedef fused src_t:
    int16_t
    int32_t
    float
    double

ctypedef fused dst_t:
    int16_t
    int32_t
    float


cdef inline int _convert(const src_t[::1] x, dst_t[::1] out, int32_t sf, int32_t df) except -1:
    cdef size_t n = <size_t>x.shape[0]
    cdef int32_t st
    if <size_t>out.shape[0] != n:
        raise ValueError(f"convert: output has {out.shape[0]} samples, input {n}")
    if n == 0:
        return 0
    with nogil:
        st = rm_convert(<const void *>&x[0], sf, <void *>&out[0], df, n)
    if st != RM_OK:
        _fail(st)
    return 0


def convert_i16_i16(const int16_t[::1] x, int16_t[::1] out): _convert(x, out, RM_FORMAT_I16, RM_FORMAT_I16)
def convert_i16_i32(const int16_t[::1] x, int32_t[::1] out): _convert(x, out, RM_FORMAT_I16, RM_FORMAT_I32)
def convert_i16_f32(const int16_t[::1] x, float[::1] out): _convert(x, out, RM_FORMAT_I16, RM_FORMAT_F32)
def convert_i32_i16(const int32_t[::1] x, int16_t[::1] out): _convert(x, out, RM_FORMAT_I32, RM_FORMAT_I16)
def convert_i32_i32(const int32_t[::1] x, int32_t[::1] out): _convert(x, out, RM_FORMAT_I32, RM_FORMAT_I32)
def convert_i32_f32(const int32_t[::1] x, float[::1] out): _convert(x, out, RM_FORMAT_I32, RM_FORMAT_F32)
def convert_f32_i16(const float[::1] x, int16_t[::1] out): _convert(x, out, RM_FORMAT_F32, RM_FORMAT_I16)
def convert_f32_i32(const float[::1] x, int32_t[::1] out): _convert(x, out, RM_FORMAT_F32, RM_FORMAT_I32)
def convert_f32_f32(const float[::1] x, float[::1] out): _convert(x, out, RM_FORMAT_F32, RM_FORMAT_F32)
def convert_f64_i16(const double[::1] x, int16_t[::1] out): _convert(x, out, RM_FORMAT_F64, RM_FORMAT_I16)
def convert_f64_i32(const double[::1] x, int32_t[::1] out): _convert(x, out, RM_FORMAT_F64, RM_FORMAT_I32)
def convert_f64_f32(const double[::1] x, float[::1] out): _convert(x, out, RM_FORMAT_F64, RM_FORMAT_F32)

# Declarations of include/remotemedia_runtime.h for the Cython binding
# (cython_binding.pyx). Keep in step with the header; tests/test_abi.py
# checks both against the library.
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef extern from "remotemedia_runtime.h" nogil:
    enum:
        RM_ABI_VERSION
        RM_OK
        RM_ERR_INVALID_ARGUMENT
        RM_ERR_NULL_POINTER
        RM_ERR_BUFFER_TOO_SMALL
        RM_ERR_ALLOCATION
        RM_ERR_STATE
        RM_ERR_PANIC
        RM_FORMAT_I16
        RM_FORMAT_I32
        RM_FORMAT_F32
        RM_FORMAT_F64
        RM_QUALITY_LOW
        RM_QUALITY_MEDIUM
        RM_QUALITY_HIGH
        RM_QUALITY_VERY_HIGH
        RM_STAGE_CONVERT
        RM_STAGE_DOWNMIX
        RM_STAGE_RESAMPLE
        RM_STAGE_VAD

    uint32_t rm_abi_version()
    const char *rm_version()
    const char *rm_cpu_features()
    const char *rm_last_error()
    int32_t rm_debug_panic()

    int32_t rm_convert(const void *src, int32_t src_format, void *dst, int32_t dst_format, size_t n)

    ctypedef struct rm_resampler:
        pass
    int32_t rm_resampler_new(uint32_t in_rate, uint32_t out_rate, uint32_t channels, int32_t quality, rm_resampler **out)
    int32_t rm_resampler_new_variable(uint32_t in_rate, uint32_t out_rate, uint32_t channels, int32_t quality, rm_resampler **out)
    int32_t rm_resampler_new_ratio(double ratio, uint32_t channels, int32_t quality, rm_resampler **out)
    int32_t rm_resampler_set_ratio(rm_resampler *h, double ratio, uint64_t ramp_frames)
    void rm_resampler_free(rm_resampler *h)
    int32_t rm_resampler_output_frames(const rm_resampler *h, size_t in_frames, size_t *out_frames)
    int32_t rm_resampler_flush_frames(const rm_resampler *h, size_t *out_frames)
    int32_t rm_resampler_delay(const rm_resampler *h, size_t *frames)
    int32_t rm_resampler_process(rm_resampler *h, const float *input, size_t in_frames, float *out, size_t out_len, size_t out_stride, size_t *out_frames)
    int32_t rm_resampler_flush(rm_resampler *h, float *out, size_t out_len, size_t out_stride, size_t *out_frames)
    int32_t rm_resampler_reset(rm_resampler *h)
    int32_t rm_resample(uint32_t in_rate, uint32_t out_rate, int32_t quality, uint32_t channels, const float *input, size_t in_frames, float *out, size_t out_frames)
    ctypedef struct rm_vad:
        pass
    int32_t rm_vad_new(uint32_t sample_rate, uint32_t frame_ms, uint32_t aggressiveness, rm_vad **out)
    void rm_vad_free(rm_vad *h)
    int32_t rm_vad_reset(rm_vad *h)
    int32_t rm_vad_frame_length(rm_vad *h, size_t *out)
    int32_t rm_vad_buffered(rm_vad *h, size_t *out)
    int32_t rm_vad_process(rm_vad *h, const void *x, int32_t format, size_t n, uint8_t *flags, size_t cap, size_t *n_flags)
    int32_t rm_vad_process_scores(rm_vad *h, const void *x, int32_t format, size_t n, uint8_t *flags, float *scores, size_t cap, size_t *n_flags)
    int32_t rm_vad_set_decision(rm_vad *h, uint32_t threshold, uint32_t release, uint32_t hangover_ms)

    ctypedef struct rm_chain:
        pass
    ctypedef struct rm_stage:
        int32_t kind
        int32_t a
        int32_t b
    int32_t rm_chain_new(int32_t format, uint32_t channels, uint32_t rate, const rm_stage *stages, size_t n_stages, rm_chain **out)
    void rm_chain_free(rm_chain *h)
    int32_t rm_chain_output_format(rm_chain *h, int32_t *format, uint32_t *channels, uint32_t *rate, int32_t *writes)
    int32_t rm_chain_output_frames(rm_chain *h, size_t in_frames, size_t *frames, size_t *flags)
    int32_t rm_chain_run_frames(rm_chain *h, size_t in_frames, size_t *frames, size_t *flags)
    int32_t rm_chain_process(rm_chain *h, const void *input, size_t in_frames, void *out, size_t out_frames, uint8_t *flags, size_t flags_cap, size_t *frames, size_t *n_flags)
    int32_t rm_chain_run(rm_chain *h, const void *input, size_t in_frames, void *out, size_t out_frames, uint8_t *flags, size_t flags_cap, size_t *frames, size_t *n_flags)
    int32_t rm_chain_flush(rm_chain *h, size_t *frames, size_t *n_flags)
    int32_t rm_chain_take(rm_chain *h, void *out, size_t out_frames, uint8_t *flags, size_t flags_cap, size_t *frames, size_t *n_flags)
    int32_t rm_chain_reset(rm_chain *h)
    int32_t rm_chain_stage_times(rm_chain *h, uint64_t *ns, size_t n)
    int32_t rm_chain_debug_fail(rm_chain *h, size_t stage)
    int32_t rm_chain_set_segments(rm_chain *h, const int64_t *params, size_t n)
    int32_t rm_chain_events(rm_chain *h, int64_t *out, size_t cap, size_t *n)
    int32_t rm_chain_set_timing(rm_chain *h, int32_t on)
    int32_t rm_chain_set_threads(rm_chain *h, uint32_t threads)

    int32_t rm_flac_decode(const uint8_t *data, size_t len, uint32_t channels, uint64_t frames, size_t block_frames, void *out, int32_t format, size_t out_len)

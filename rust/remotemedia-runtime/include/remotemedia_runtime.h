/*
 * remotemedia_runtime.h: the C ABI of the remotemedia native core.
 *
 * This header is the one contract between the Rust crate and its callers
 * (the Cython extension and the ctypes binding). A test checks that the
 * library exports exactly the functions declared here.
 *
 * Error model: every function that can fail returns an int32_t status,
 * RM_OK (0) on success. After a failure, rm_last_error() returns a
 * message for the calling thread. A Rust panic is caught inside the
 * library and reported as RM_ERR_PANIC; it never unwinds into the caller.
 *
 * Threads: functions taking no handle are thread-safe. A handle
 * (resampler, VAD) serves one call at a time: a call made while another
 * thread is inside the same handle returns RM_ERR_STATE ("used from two
 * threads at once") without touching its state. Use one handle per thread
 * or serialise the calls.
 */
#ifndef REMOTEMEDIA_RUNTIME_H
#define REMOTEMEDIA_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RM_ABI_VERSION 1

/* Status codes. */
#define RM_OK 0
#define RM_ERR_INVALID_ARGUMENT 1
#define RM_ERR_NULL_POINTER 2
#define RM_ERR_BUFFER_TOO_SMALL 3
#define RM_ERR_ALLOCATION 4
#define RM_ERR_STATE 5
#define RM_ERR_PANIC 99

/* Sample formats for rm_convert. */
#define RM_FORMAT_I16 1
#define RM_FORMAT_I32 2
#define RM_FORMAT_F32 3
#define RM_FORMAT_F64 4

/* ---- library ---------------------------------------------------------- */

/* The ABI version the library implements; must equal RM_ABI_VERSION. */
uint32_t rm_abi_version(void);
/* The crate version, e.g. "0.1.0" (static string). */
const char *rm_version(void);
/* Comma-separated instruction sets the kernels use on this CPU (static). */
const char *rm_cpu_features(void);
/* Message of the last failure on this thread; "" if none. Valid until the
 * next failing call on the same thread. */
const char *rm_last_error(void);
/* Test hook: panics inside the library; returns RM_ERR_PANIC. */
int32_t rm_debug_panic(void);

/* ---- PCM conversion --------------------------------------------------- */

/* Converts n samples from src (src_format) into dst (dst_format, one of
 * I16, I32, F32). Int to float divides by 2^15 or 2^31; float to int
 * scales, clips, rounds to nearest (ties to even); NaN becomes 0. */
int32_t rm_convert(const void *src, int32_t src_format, void *dst,
                   int32_t dst_format, size_t n);

/* ---- resampling -------------------------------------------------------- */

/* Quality presets for the resampler. */
#define RM_QUALITY_LOW 0
#define RM_QUALITY_MEDIUM 1
#define RM_QUALITY_HIGH 2
#define RM_QUALITY_VERY_HIGH 3

/* Streaming resampler between integer rates 1000..768000 Hz (ratio up to
 * 256:1 either way), planar float32, 1..64 channels. Chunking never
 * changes the result: any sequence of process calls plus flush equals
 * rm_resample bit for bit. Rates whose exact polyphase tables would be
 * large (e.g. 48000 -> 48001) run on the interpolated-phase kernel. */
typedef struct RmResampler rm_resampler;

int32_t rm_resampler_new(uint32_t in_rate, uint32_t out_rate, uint32_t channels,
                         int32_t quality, rm_resampler **out);
/* Integer rates on the interpolated-phase kernel (equal rates too), so
 * that rm_resampler_set_ratio may change the ratio later. */
int32_t rm_resampler_new_variable(uint32_t in_rate, uint32_t out_rate,
                                  uint32_t channels, int32_t quality,
                                  rm_resampler **out);
/* A non-integer ratio out/in in 1/256..256 (interpolated-phase kernel,
 * variable). */
int32_t rm_resampler_new_ratio(double ratio, uint32_t channels,
                               int32_t quality, rm_resampler **out);
/* New ratio out/in from the next output frame on, reached linearly over
 * ramp_frames output frames (0: at once); within 5% of the ratio the
 * handle was made for. RM_ERR_STATE for a handle from rm_resampler_new. */
int32_t rm_resampler_set_ratio(rm_resampler *h, double ratio,
                               uint64_t ramp_frames);
void rm_resampler_free(rm_resampler *h);
/* Frames per channel the next process call of in_frames frames writes. */
int32_t rm_resampler_output_frames(const rm_resampler *h, size_t in_frames,
                                   size_t *out_frames);
/* Frames per channel flush writes now. */
int32_t rm_resampler_flush_frames(const rm_resampler *h, size_t *out_frames);
/* Input frames taken in whose output is still pending. */
int32_t rm_resampler_delay(const rm_resampler *h, size_t *frames);
/* input: channels rows of in_frames floats; out: row c at c * out_stride,
 * out_len floats in all. *out_frames = frames written per channel. */
int32_t rm_resampler_process(rm_resampler *h, const float *input,
                             size_t in_frames, float *out, size_t out_len,
                             size_t out_stride, size_t *out_frames);
/* Writes the tail (input assumed silent after the end), then resets. */
int32_t rm_resampler_flush(rm_resampler *h, float *out, size_t out_len,
                           size_t out_stride, size_t *out_frames);
int32_t rm_resampler_reset(rm_resampler *h);
/* One shot; out_frames must be ceil(in_frames * out_rate / in_rate). */
int32_t rm_resample(uint32_t in_rate, uint32_t out_rate, int32_t quality,
                    uint32_t channels, const float *input, size_t in_frames,
                    float *out, size_t out_frames);

/* ---- voice activity detection ---------------------------------------- */

/* Opaque streaming detector. */
typedef struct rm_vad rm_vad;

/* Creates a detector for sample_rate Hz (8000, 16000, 32000, 44100, 48000),
 * frames of frame_ms (10, 20, 30) and aggressiveness 0..3; *out owns it. */
int32_t rm_vad_new(uint32_t sample_rate, uint32_t frame_ms,
                   uint32_t aggressiveness, rm_vad **out);
/* Frees a detector; NULL is ignored. */
void rm_vad_free(rm_vad *h);
/* Forgets buffered samples, noise estimates and hangover. */
int32_t rm_vad_reset(rm_vad *h);
/* Input samples per frame. */
int32_t rm_vad_frame_length(rm_vad *h, size_t *out);
/* Samples held back until their frame completes. */
int32_t rm_vad_buffered(rm_vad *h, size_t *out);
/* Feeds n mono samples of format (RM_FORMAT_I16, I32, F32 or F64; others
 * are quantised like rm_convert to I16). Writes one flag (0/1) per
 * completed frame to flags (capacity cap >= (buffered + n) / frame_length)
 * and the count to *n_flags. */
int32_t rm_vad_process(rm_vad *h, const void *x, int32_t format, size_t n,
                       uint8_t *flags, size_t cap, size_t *n_flags);
/* As rm_vad_process, and writes each frame's speech probability in [0, 1]
 * to scores (capacity cap too). */
int32_t rm_vad_process_scores(rm_vad *h, const void *x, int32_t format,
                              size_t n, uint8_t *flags, float *scores,
                              size_t cap, size_t *n_flags);
/* Decision rule from the next frame on: speech starts at a score >=
 * threshold and goes on while >= release (both in units of 1/32768), then
 * is held for hangover_ms. rm_vad_new sets the aggressiveness preset. */
int32_t rm_vad_set_decision(rm_vad *h, uint32_t threshold, uint32_t release,
                            uint32_t hangover_ms);

/* ---- native chains ----------------------------------------------------- */

/* A run of pipeline stages compiled into one object: it owns every
 * stage's state and buffers and pushes a block through all of them in one
 * call (work in blocks of 4096 frames, the last audio stage writing into
 * the caller's output; convert to F32 + downmix fused into one pass).
 * Results are those of the stages run one by one, bit for bit. A VAD
 * stage must be the last. Input: channels contiguous rows of in_frames
 * samples in the chain's input format; output rows out_frames apart in
 * the output format (rm_chain_output_format). */
typedef struct rm_chain rm_chain;

/* Stage kinds for rm_stage.kind. */
#define RM_STAGE_CONVERT 1  /* a = target RM_FORMAT_I16, I32 or F32 */
#define RM_STAGE_DOWNMIX 2  /* channel mean (float64), integers rounded */
#define RM_STAGE_RESAMPLE 3 /* a = output rate, b = RM_QUALITY_* */
#define RM_STAGE_VAD 4      /* a = frame ms, b = aggressiveness; flags out */

typedef struct rm_stage {
  int32_t kind;
  int32_t a;
  int32_t b;
} rm_stage;

int32_t rm_chain_new(int32_t format, uint32_t channels, uint32_t rate,
                     const rm_stage *stages, size_t n_stages, rm_chain **out);
void rm_chain_free(rm_chain *h);
/* *writes is 0 when no stage changes the audio (the output is the input). */
int32_t rm_chain_output_format(rm_chain *h, int32_t *format,
                               uint32_t *channels, uint32_t *rate,
                               int32_t *writes);
/* Frames per row and flags the next rm_chain_process of in_frames writes. */
int32_t rm_chain_output_frames(rm_chain *h, size_t in_frames, size_t *frames,
                               size_t *flags);
/* The same for rm_chain_run (a whole buffer, tail included). */
int32_t rm_chain_run_frames(rm_chain *h, size_t in_frames, size_t *frames,
                            size_t *flags);
int32_t rm_chain_process(rm_chain *h, const void *input, size_t in_frames,
                         void *out, size_t out_frames, uint8_t *flags,
                         size_t flags_cap, size_t *frames, size_t *n_flags);
/* Reset, process, flush and take in one call; leaves the chain reset. */
int32_t rm_chain_run(rm_chain *h, const void *input, size_t in_frames,
                     void *out, size_t out_frames, uint8_t *flags,
                     size_t flags_cap, size_t *frames, size_t *n_flags);
/* End of stream: the resamplers' tails through the later stages, kept for
 * rm_chain_take (sizes in *frames, *n_flags); resets the chain. */
int32_t rm_chain_flush(rm_chain *h, size_t *frames, size_t *n_flags);
int32_t rm_chain_take(rm_chain *h, void *out, size_t out_frames,
                      uint8_t *flags, size_t flags_cap, size_t *frames,
                      size_t *n_flags);
int32_t rm_chain_reset(rm_chain *h);
/* Nanoseconds per stage since the last call (n entries); zeroes them. */
int32_t rm_chain_stage_times(rm_chain *h, uint64_t *ns, size_t n);
/* Test hook: the next call panics inside stage `stage` (RM_ERR_PANIC). */
int32_t rm_chain_debug_fail(rm_chain *h, size_t stage);
/* Speech events for streams: the chain (ending in a VAD stage) feeds the
 * flags of every rm_chain_process, and at rm_chain_flush the tail's and
 * the end of stream, to a segment tracker. params: 7 values (frame length,
 * padding, hangover in samples; minimum speech, closing silence in frames;
 * maximum segment, merge length in samples, negative for none). */
int32_t rm_chain_set_segments(rm_chain *h, const int64_t *params, size_t n);
/* Takes up to cap pending events into out as (kind, sample) pairs: kind 1
 * start, 0 end; sample in the VAD's input from the stream's start. *n
 * receives the count; call again while *n == cap. */
int32_t rm_chain_events(rm_chain *h, int64_t *out, size_t cap, size_t *n);
/* Stage timing on (on != 0, the default) or off (saves a clock reading per
 * stage and block; rm_chain_stage_times then reports nothing new). */
int32_t rm_chain_set_timing(rm_chain *h, int32_t on);
/* Threads (the calling one included) for the per-channel stages (convert,
 * resample) of a block of at least 32768 frames with two or more channels:
 * 0 (the default) one per channel up to the cores the process may run on
 * (its CPU affinity), starting them only when a core is free (Linux:
 * /proc/loadavg); 1 the calling thread only; n at most n. Same bits for every
 * setting. */
int32_t rm_chain_set_threads(rm_chain *h, uint32_t threads);

/* ---- FLAC decoding ----------------------------------------------------- */

/* Decodes the whole FLAC stream held in data (len bytes: the file's bytes,
 * an ID3v2 prefix allowed), which must hold `channels` channels and
 * `frames` frames (STREAMINFO's count, when set, must agree). format
 * RM_FORMAT_I16 takes 4- to 16-bit streams, each value shifted left by
 * 16 - bits (as libsndfile reads them as int16); RM_FORMAT_I32 takes 4- to
 * 24-bit streams, raw values. out (out_len = frames * channels samples of
 * format) receives blocks of block_frames frames one after another, each
 * planar: channel 0's frames of the block, then channel 1's, ... (the last
 * block shorter), i.e. each block is a C-contiguous (channels, n) array.
 * Anything not decoded exactly (bad CRC-8/CRC-16, reserved code, a stream
 * cut short, a frame out of sequence, a sample beyond the bit width, other
 * counts than expected) returns RM_ERR_INVALID_ARGUMENT with the reason;
 * out is then partly written. Bytes after the last frame are ignored. */
int32_t rm_flac_decode(const uint8_t *data, size_t len, uint32_t channels,
                       uint64_t frames, size_t block_frames, void *out,
                       int32_t format, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif /* REMOTEMEDIA_RUNTIME_H */

"""Constants of the C ABI (include/remotemedia_runtime.h), Python's one copy.

Every Python module that needs an ABI number takes it from here; the
Cython binding reads the header itself. tests/test_abi.py parses the
header's ``#define``s and checks each value here (and in the Rust crate).
"""

from __future__ import annotations

#: ABI version this package is built for; a library reporting another is refused.
RM_ABI_VERSION = 1

# Status codes returned by every function that can fail.
RM_OK = 0
RM_ERR_INVALID_ARGUMENT = 1
RM_ERR_NULL_POINTER = 2
RM_ERR_BUFFER_TOO_SMALL = 3
RM_ERR_ALLOCATION = 4
RM_ERR_STATE = 5
RM_ERR_PANIC = 99

# Sample formats (rm_convert, rm_vad_process).
RM_FORMAT_I16 = 1
RM_FORMAT_I32 = 2
RM_FORMAT_F32 = 3
RM_FORMAT_F64 = 4

# Resampler quality presets.
RM_QUALITY_LOW = 0
RM_QUALITY_MEDIUM = 1
RM_QUALITY_HIGH = 2
RM_QUALITY_VERY_HIGH = 3

# Native chain stage kinds (rm_stage.kind).
RM_STAGE_CONVERT = 1
RM_STAGE_DOWNMIX = 2
RM_STAGE_RESAMPLE = 3
RM_STAGE_VAD = 4

#: format name (kernels' short names) -> RM_FORMAT_*
FORMAT_CODES = {"i16": RM_FORMAT_I16, "i32": RM_FORMAT_I32, "f32": RM_FORMAT_F32, "f64": RM_FORMAT_F64}
#: quality preset name -> RM_QUALITY_*
QUALITY_CODES = {
    "low": RM_QUALITY_LOW,
    "medium": RM_QUALITY_MEDIUM,
    "high": RM_QUALITY_HIGH,
    "very_high": RM_QUALITY_VERY_HIGH,
}

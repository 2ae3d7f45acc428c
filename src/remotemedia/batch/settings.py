"""The batch job's fixed names and choices, in a module that imports nothing heavy.

``remotemedia run --help`` shows them (defaults, choices, file names) and
the runner, the job and the collision check use them; keeping them here
lets the command line build its parser without importing any of those.
"""

from __future__ import annotations

import os

#: The run summary and the failures list, written in the output folder.
SUMMARY_FILE = "_remotemedia_summary.json"
FAILURES_FILE = "_remotemedia_failures.jsonl"
#: --on-error: skip (record the failure and go on) or stop.
ON_ERROR = ("skip", "stop")
#: --on-collision: keep (name each output with its extension or folder) or error.
ON_COLLISION = ("keep", "error")
# Output format per extension: soundfile format and default subtype. WAV and
# FLAC default to 16-bit PCM (what trainers and whisper.cpp read); the others
# stay float where the container allows it. --subtype chooses another.
FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "aiff": ("AIFF", "FLOAT"),
    "caf": ("CAF", "FLOAT"),
    "w64": ("W64", "FLOAT"),
}


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under ``taskset`` or a
    container's cpuset), else the machine's count: the default number of workers."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (macOS, Windows)
        return os.cpu_count() or 1

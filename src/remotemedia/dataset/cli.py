"""`remotemedia run` options for dataset outputs, grouped in ``--help``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from remotemedia.dataset.options import (
    CHANNELS,
    CUTS,
    DEFAULT_MAX_SEGMENT_S,
    DEFAULT_RATE,
    LABELS,
    MANIFESTS,
    SUBTYPES,
    DatasetOptions,
)

if TYPE_CHECKING:
    from remotemedia.dataset.inputs import SpanInput

CUT_HELP = (
    "concat: the speech of each input back to back in one file (default); "
    "segments: one file per speech segment, <name>_0000.<ext>, ... next to where concat's output would be; "
    "edges: only leading and trailing silence removed, pauses inside kept; "
    "none: no audio, only sidecars, labels and manifests (a fast audit)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the input, output, segment, VAD and manifest option groups."""
    g = p.add_argument_group("inputs (besides files, folders and globs)")
    g.add_argument("--from-list", metavar="FILE", action="append", default=[], help="a text file, one path a line")
    g.add_argument(
        "--from-manifest",
        metavar="FILE",
        action="append",
        default=[],
        help="a NeMo JSONL manifest: audio_filepath, and offset/duration (s) to process only that span",
    )
    g = p.add_argument_group("output audio")
    g.add_argument("--cut", choices=CUTS, default="concat", help=CUT_HELP)
    g.add_argument(
        "--subtype",
        choices=SUBTYPES,
        default=None,
        help="sample encoding (default: PCM_16 for wav and flac; float for aiff, caf, w64; vorbis for ogg)",
    )
    g.add_argument(
        "--rate", type=int, default=None, help=f"output sample rate, Hz (default: {DEFAULT_RATE}; speech-16k only)"
    )
    g.add_argument(
        "--channels", choices=CHANNELS, default=None, help="mono: downmix (default); keep: the input's channels"
    )
    g = p.add_argument_group("segment length")
    g.add_argument(
        "--max-segment-s",
        type=float,
        default=None,
        metavar="S",
        help=f"no segment longer than S s: cut inside its longest pause, hard only without one "
        f"(default: {DEFAULT_MAX_SEGMENT_S:g})",
    )
    g.add_argument(
        "--merge-up-to-s",
        type=float,
        default=None,
        metavar="S",
        help="join neighbouring segments (and the pause between them) while the result is at most S s, "
        "e.g. 30 for Whisper (default: no joining)",
    )
    g = p.add_argument_group("voice activity detection (speech-16k)")
    g.add_argument(
        "--aggressiveness", type=int, choices=(0, 1, 2, 3), default=None, help="0 keeps the most (default 2)"
    )
    g.add_argument("--pad-ms", type=float, default=None, help="audio kept before each segment's speech (default 60)")
    g.add_argument("--min-speech-ms", type=float, default=None, help="shortest speech kept as a segment (default 90)")
    g.add_argument(
        "--min-silence-ms", type=float, default=None, help="shorter silences are bridged inside a segment (default 300)"
    )
    g.add_argument(
        "--no-vad", action="store_true", help="no speech detection: each input is one segment (cut to --max-segment-s)"
    )
    g = p.add_argument_group("manifests and labels (written when the run ends, rebuilt on --resume)")
    g.add_argument(
        "--manifest",
        choices=MANIFESTS,
        action="append",
        default=[],
        help="nemo: OUTDIR/nemo_manifest.jsonl; hf: OUTDIR/metadata.jsonl (datasets' audiofolder); "
        "jsonl: OUTDIR/remotemedia_manifest.jsonl, every field. Repeatable",
    )
    g.add_argument(
        "--labels",
        choices=LABELS,
        action="append",
        default=[],
        help="per input, in source time, next to its output: <name>.rttm, <name>.audacity.txt (tab-separated), "
        "<name>.segments.csv. Repeatable",
    )


def options_from_args(ns: argparse.Namespace) -> DatasetOptions:
    """The dataset options given on the command line."""
    max_s = ns.max_segment_s
    if max_s is None and ns.no_vad and ns.cut == "segments":
        max_s = DEFAULT_MAX_SEGMENT_S  # without a VAD, segments are the input in pieces of the default length
    return DatasetOptions(
        cut=ns.cut,
        subtype=ns.subtype,
        rate=ns.rate,
        channels=ns.channels,
        vad=not ns.no_vad,
        aggressiveness=ns.aggressiveness,
        pad_ms=ns.pad_ms,
        min_speech_ms=ns.min_speech_ms,
        min_silence_ms=ns.min_silence_ms,
        max_segment_s=max_s,
        merge_up_to_s=ns.merge_up_to_s,
        manifests=tuple(dict.fromkeys(ns.manifest)),
        labels=tuple(dict.fromkeys(ns.labels)),
    )


def listed_inputs(ns: argparse.Namespace) -> list[Any]:
    """Inputs from --from-list and --from-manifest files (FileNotFoundError / ValueError when unreadable)."""
    items: list[SpanInput] = []
    if not ns.from_list and not ns.from_manifest:
        return items  # the usual run: the list readers are not even imported
    from remotemedia.dataset.inputs import read_list, read_manifest

    for path in ns.from_list:
        items.extend(read_list(path))
    for path in ns.from_manifest:
        items.extend(read_manifest(path))
    return items

"""What a dataset run writes: cut mode, encoding, segment rules, manifests, labels.

:class:`DatasetOptions` is plain data (it travels to workers inside each
task). :func:`apply_to_manifest` turns the options into the pipeline: the
``speech-16k`` preset is rebuilt with the requested rate, channels and VAD
settings; a user manifest only has its VADNode's mode and length rules set.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

CUTS = ("concat", "segments", "edges", "none")
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
MANIFESTS = ("nemo", "hf", "jsonl")
LABELS = ("rttm", "audacity", "csv")
CHANNELS = ("mono", "keep")
VAD_RATES = (8000, 16000, 32000, 44100, 48000)

# Subtypes each --format can hold (its default is in remotemedia.batch.settings.FORMATS).
ALLOWED_SUBTYPES: dict[str, tuple[str, ...]] = {
    "wav": SUBTYPES,
    "flac": ("PCM_16", "PCM_24"),
    "ogg": (),
    "aiff": SUBTYPES,
    "caf": SUBTYPES,
    "w64": SUBTYPES,
}

# speech-16k's settings (VADNode's defaults, frame 30 ms, aggressiveness 2).
DEFAULT_RATE = 16000
DEFAULT_MAX_SEGMENT_S = 30.0
VAD_FLAG_PARAMS = {
    "aggressiveness": "aggressiveness",
    "pad_ms": "padding_ms",
    "min_speech_ms": "min_speech_ms",
    "min_silence_ms": "min_silence_ms",
}


@dataclass(frozen=True)
class DatasetOptions:
    """Options of a dataset run (all optional; the defaults are today's main job).

    Attributes
    ----------
    cut : {"concat", "segments", "edges", "none"}
        concat: the speech segments back to back in one file per input;
        segments: one file per segment; edges: leading and trailing
        silence removed, pauses inside kept; none: no audio written.
    subtype : str or None
        "PCM_16", "PCM_24" or "FLOAT"; None: the format's default
        (PCM_16 for wav and flac).
    rate : int or None
        Output sample rate (speech-16k only; default 16000).
    channels : {"mono", "keep"} or None
        Downmix to mono (default) or keep the input's channels (speech-16k only).
    vad : bool
        False: no speech detection; a "segment" is the whole input (cut
        into ``max_segment_s`` pieces when that is set).
    aggressiveness, pad_ms, min_speech_ms, min_silence_ms : optional
        VADNode settings (None: the node's defaults).
    max_segment_s, merge_up_to_s : float or None
        Segment length rules, as for :func:`remotemedia.speech_segments`.
    manifests : tuple of str
        Run-level manifests to write: "nemo", "hf", "jsonl".
    labels : tuple of str
        Label files per input: "rttm", "audacity", "csv".
    """

    cut: str = "concat"
    subtype: str | None = None
    rate: int | None = None
    channels: str | None = None
    vad: bool = True
    aggressiveness: int | None = None
    pad_ms: float | None = None
    min_speech_ms: float | None = None
    min_silence_ms: float | None = None
    max_segment_s: float | None = None
    merge_up_to_s: float | None = None
    manifests: tuple[str, ...] = field(default_factory=tuple)
    labels: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pipeline_options_set(self) -> list[str]:
        """Names of the options that rebuild the preset (refused with a user manifest)."""
        names = [n for n in ("rate", "channels", *VAD_FLAG_PARAMS) if getattr(self, n) is not None]
        return names + ([] if self.vad else ["vad"])


def check(options: DatasetOptions, output_format: str) -> None:
    """Refuse inconsistent options before any work (ValueError naming the option and the fix)."""
    if options.cut not in CUTS:
        raise ValueError(f"cut {options.cut!r} is not one of {', '.join(CUTS)}")
    from remotemedia.batch.settings import FORMATS

    if output_format not in FORMATS:
        raise ValueError(f"output format {output_format!r} is not one of {', '.join(FORMATS)}")
    if options.subtype is not None:
        if options.subtype not in SUBTYPES:
            raise ValueError(f"subtype {options.subtype!r} is not one of {', '.join(SUBTYPES)}")
        allowed_here = ALLOWED_SUBTYPES.get(output_format, ())
        if options.subtype not in allowed_here:
            allowed = ", ".join(allowed_here) or f"only its own ({FORMATS[output_format][1]})"
            raise ValueError(f"--format {output_format} cannot hold {options.subtype}; it takes {allowed}")
    if options.channels is not None and options.channels not in CHANNELS:
        raise ValueError(f"channels {options.channels!r} is not one of {', '.join(CHANNELS)}")
    if options.rate is not None and (options.rate < 1000 or options.rate > 384000):
        raise ValueError(f"--rate {options.rate} Hz is out of range (1000 to 384000)")
    if options.vad and options.rate is not None and options.rate not in VAD_RATES:
        rates = ", ".join(str(r) for r in VAD_RATES)
        raise ValueError(
            f"--rate {options.rate}: the VAD runs at the output rate and supports {rates} Hz; "
            "choose one of them or add --no-vad"
        )
    for name in ("max_segment_s", "merge_up_to_s"):
        value = getattr(options, name)
        if value is not None and not value > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    for name in ("pad_ms", "min_speech_ms", "min_silence_ms"):
        value = getattr(options, name)
        if value is not None and not value >= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if options.aggressiveness is not None and options.aggressiveness not in (0, 1, 2, 3):
        raise ValueError(f"--aggressiveness must be 0, 1, 2 or 3, got {options.aggressiveness}")
    for m in options.manifests:
        if m not in MANIFESTS:
            raise ValueError(f"manifest {m!r} is not one of {', '.join(MANIFESTS)}")
    for lab in options.labels:
        if lab not in LABELS:
            raise ValueError(f"labels {lab!r} is not one of {', '.join(LABELS)}")
    if options.cut == "none" and "hf" in options.manifests:
        raise ValueError(
            "--manifest hf needs audio files in the output folder; it cannot go with --cut none "
            "(use --manifest nemo or jsonl, which point into the inputs with offsets)"
        )


def encoding(options: DatasetOptions | None, output_format: str) -> tuple[str, str]:
    """(soundfile format, subtype) of the audio written for ``output_format``."""
    from remotemedia.batch.settings import FORMATS

    fmt, default = FORMATS[output_format]
    subtype = options.subtype if options is not None and options.subtype else default
    return fmt, subtype


def _vad_nodes(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in manifest.get("nodes", []) if n.get("node_type") == "VADNode"]


def apply_to_manifest(manifest: dict[str, Any], options: DatasetOptions, preset: bool) -> dict[str, Any]:
    """The pipeline manifest for these options (a new dict).

    With the speech-16k preset (``preset`` True) the rate, channels and
    VAD settings are applied; with a user manifest they are refused
    (ValueError) and only the VADNode's mode and length rules change.
    """
    m = copy.deepcopy(manifest)
    if not preset and options.pipeline_options_set():
        names = ", ".join("--" + n.replace("_", "-") for n in options.pipeline_options_set())
        raise ValueError(f"{names} apply to the speech-16k preset; with a manifest, set them in the manifest's nodes")
    nodes = m.get("nodes", [])
    if preset:
        if options.channels == "keep":
            _drop_node(m, "mono")
        if options.rate is not None:
            for n in nodes:
                if n.get("node_type") == "AudioResampleNode":
                    n.setdefault("params", {})["target_rate"] = options.rate
        if not options.vad:
            for n in _vad_nodes(m):
                _drop_node(m, n["id"])
    for n in _vad_nodes(m):
        params = n.setdefault("params", {})
        params["mode"] = "filter" if options.cut == "concat" else "annotate"
        for flag, param in VAD_FLAG_PARAMS.items():
            if getattr(options, flag) is not None:
                params[param] = getattr(options, flag)
        if options.max_segment_s is not None:
            params["max_segment_s"] = options.max_segment_s
        if options.merge_up_to_s is not None:
            params["merge_up_to_s"] = options.merge_up_to_s
    return m


def _drop_node(manifest: dict[str, Any], node_id: str) -> None:
    """Remove a node from a linear manifest, joining its neighbours."""
    nodes = manifest.get("nodes", [])
    manifest["nodes"] = [n for n in nodes if n.get("id") != node_id]
    conns = manifest.get("connections", [])
    into = [c["from"] for c in conns if c.get("to") == node_id]
    out = [c["to"] for c in conns if c.get("from") == node_id]
    kept = [c for c in conns if node_id not in (c.get("from"), c.get("to"))]
    kept += [{"from": a, "to": b} for a in into for b in out]
    manifest["connections"] = kept

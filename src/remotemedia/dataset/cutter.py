"""One input through the pipeline, written the way a dataset wants it.

``stream_task`` is what the batch job calls for every file: the plain case
(``--cut concat`` from a file libsndfile reads, no span) goes to the batch
job's own ``stream_file``; the other cases are streamed here:

- ``segments`` / ``edges``: the pipeline runs with its VADNode in
  "annotate" mode; its output (at the output rate) is spooled to a raw
  temporary file (memory stays bounded by the block), then each segment
  (or the span from the first segment's start to the last one's end) is
  copied into its own file, atomically;
- ``none``: only the segments are kept, no audio is written;
- ``concat`` from a PyAV-decoded container or a span: as ``stream_file``.

Segment times are seconds in the source (a span's offset added), rounded
to microseconds everywhere (sidecar, manifests, labels).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remotemedia.batch.streamfile import BLOCK_SECONDS, OutputTally, StageError, Streamed
from remotemedia.dataset import reader
from remotemedia.dataset.outputs import Sink, file_record, t6, write_outputs


@dataclass
class CutResult(Streamed):
    """What streaming one file produced, with the dataset fields of its sidecar."""

    sidecar_extra: dict[str, Any] = field(default_factory=dict)


def _options(task: Any) -> dict[str, Any]:
    return dict(task.dataset or {})


def stream_task(
    task: Any, pipeline: Any, fmt: str, subtype: str, plain: Callable[..., Streamed], record: bool = True
) -> Streamed:
    """Stream ``task``'s input through ``pipeline`` and write what its cut mode asks for.

    ``record=False`` (plain tasks only, see :func:`is_plain`): the output
    record (sizes of the written files, stale outputs removed) is left out;
    whoever commits the output later calls :func:`finish_record`.

    Raises
    ------
    StageError
        Reading or writing failed (stage "read" or "write").
    NodeError
        A node failed.
    """
    opts = _options(task)
    cut = opts.get("cut", "concat")
    offset = float(getattr(task, "offset_s", 0.0) or 0.0)
    span = getattr(task, "duration_s", None)
    plain_task = is_plain(task)
    if plain_task:
        out = plain(Path(task.source), task.output, fmt, subtype, pipeline)
        result = CutResult(**{k: getattr(out, k) for k in Streamed.__dataclass_fields__})
        result.input_info = {**out.input_info, "decoder": "libsndfile"}
        if not _has_vad(pipeline) and result.output_rate:  # no VAD: the whole input is the segment
            rate = result.output_rate
            result.segments = [(a / rate, b / rate) for a, b in _chunks(result.output_frames, rate, None)]
    else:
        result = _stream(task, pipeline, fmt, subtype, cut, offset, span)
    result.segments = [(t6(a + offset), t6(b + offset)) for a, b in result.segments]
    if record or not plain_task:
        _finish_record(task, result, fmt, subtype, cut, offset)
    return result


def finish_record(task: Any, result: CutResult, fmt: str, subtype: str) -> None:
    """The output record of a plain task streamed with ``record=False``, once its output is committed."""
    _finish_record(task, result, fmt, subtype, "concat", 0.0)


def is_plain(task: Any) -> bool:
    """True if :func:`stream_task` hands ``task`` to the batch job's own ``stream_file``:
    the whole file (no span), concatenated, in a container libsndfile reads."""
    return (
        (task.dataset or {}).get("cut", "concat") == "concat"
        and not float(getattr(task, "offset_s", 0.0) or 0.0)
        and getattr(task, "duration_s", None) is None
        and not reader.needs_av(Path(task.source))
    )


def _open(source: Path, offset: float, span: float | None) -> reader.Decoded:
    try:
        if source.stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        return reader.open_input(source, BLOCK_SECONDS, offset, span)
    except Exception as exc:  # soundfile, PyAV and ImportError (no PyAV) alike
        raise StageError("read", exc) from exc


def _blocks(decoded: reader.Decoded) -> Iterator[np.ndarray]:
    try:
        yield from decoded.blocks
    except Exception as exc:  # a truncated or corrupt body shows up here, mid-file
        raise StageError("read", exc) from exc


def _stream(task: Any, pipeline: Any, fmt: str, subtype: str, cut: str, offset: float, span: float | None) -> CutResult:
    decoded = _open(Path(task.source), offset, span)
    result = CutResult(reader.describe(decoded))
    rate = decoded.sample_rate
    sink = Sink(cut, task.output, fmt, subtype)
    tally = OutputTally(result, sink.write)

    def take(out: Any) -> None:
        if out is not None:
            tally.take(out)

    has_vad = _has_vad(pipeline)
    try:
        with pipeline.open_stream() as session:
            for block in _blocks(decoded):
                result.input_frames += block.shape[0]
                planar = np.ascontiguousarray(block.T)
                take(session.push((planar[0] if planar.shape[0] == 1 else planar, rate)))
            if result.input_frames == 0:
                raise StageError("read", ValueError("the file holds no audio frames"))
            take(session.flush())
        sink.close()
        out_rate = result.output_rate or rate
        if has_vad:  # in segments/edges mode the VAD annotates: the output runs on the VAD's timeline
            events = [(round(a * out_rate), round(b * out_rate)) for a, b in tally.segments]
            result.segments = tally.segments
        else:
            events = _chunks(result.output_frames, out_rate, _options(task).get("max_segment_s"))
            result.segments = [(a / out_rate, b / out_rate) for a, b in events]
        outputs = write_outputs(task, sink, cut, events, out_rate, fmt, subtype)
        result.sidecar_extra["outputs"] = outputs
        if cut in ("concat", "edges"):
            result.output_size = outputs[0]["size"]
            result.output_frames = outputs[0]["frames"]
        elif cut == "segments":
            result.output_size = sum(o["size"] for o in outputs)
            result.output_frames = sum(o["frames"] for o in outputs)
        else:
            result.output_size, result.output_frames = 0, 0
    finally:
        sink.discard()
    return result


def _has_vad(pipeline: Any) -> bool:
    return any(type(n).__name__ == "VADNode" for n in pipeline.nodes)


def _chunks(frames: int, rate: int, max_s: float | None) -> list[tuple[int, int]]:
    """Without a VAD: the whole input, in pieces of at most ``max_s`` seconds."""
    if frames == 0:
        return []
    step = frames if not max_s else max(1, round(max_s * rate))
    return [(a, min(frames, a + step)) for a in range(0, frames, step)]


def _finish_record(task: Any, result: CutResult, fmt: str, subtype: str, cut: str, offset: float) -> None:
    """The dataset fields of the sidecar; remove outputs a previous run left that this one did not write."""
    extra = result.sidecar_extra
    rate = result.output_rate
    outputs = extra.get("outputs")
    # a manifest ending in its own sink (AudioFileSink): that sink wrote the audio, task.output was not written
    own_sink = outputs is None and bool(result.sink_outputs) and result.output_size is None
    if outputs is None:  # the plain path wrote task.output (unless the pipeline's own sink did)
        # the size: what the commit found on disk (streamfile._AtomicWriter.commit), not a second stat
        outputs = [] if own_sink else [file_record(task.output, result.output_frames, rate or 1, result.output_size)]
    for o in outputs:
        if cut == "segments":
            a = o.pop("start_sample")
            o["start_s"] = t6(offset + a / rate)
            o["end_s"] = t6(offset + (a + o["frames"]) / rate)
        else:
            o.pop("start_sample", None)
            if cut == "edges" and result.segments:
                o["start_s"], o["end_s"] = result.segments[0][0], result.segments[-1][1]
            elif cut == "edges":
                o["start_s"] = o["end_s"] = t6(offset)
            else:
                o["start_s"] = t6(offset)
                o["end_s"] = t6(offset + result.input_frames / result.input_info["sample_rate"])
    extra["outputs"] = outputs
    extra["cut"] = cut
    if _options(task).get("text") is not None:
        extra["text"] = _options(task)["text"]  # from --from-manifest
    extra["span"] = {"offset_s": t6(offset), "duration_s": getattr(task, "duration_s", None)}
    extra["output"] = {
        "path": None if cut in ("segments", "none") or own_sink else str(task.output),
        "size": result.output_size,
        "format": fmt,
        "subtype": subtype,
        "sample_rate": rate,
        "channels": result.output_channels,
        "duration_s": t6(result.output_frames / rate) if rate else 0.0,
    }
    _remove_stale(task, {o["path"] for o in outputs})


def _remove_stale(task: Any, keep: set[str]) -> None:
    """Files listed by this input's previous sidecar and not written again (fewer segments now)."""
    try:
        old = json.loads(Path(task.sidecar).read_text())
    except (OSError, ValueError):
        return
    for o in old.get("outputs") or []:
        path = o.get("path")
        if path and path not in keep:
            with contextlib.suppress(OSError):
                Path(path).unlink()

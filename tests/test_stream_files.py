"""AudioFileSource / AudioFileSink: block reading and writing, atomic output, bounded memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from remotemedia import NodeError, Pipeline, kernels
from remotemedia.core.tempfiles import is_temporary
from remotemedia.nodes import AudioFileSink, AudioFileSource, AudioResampleNode, FormatConverterNode, VADNode
from remotemedia.stream import collect


def tone(seconds: float, rate: int, channels: int = 2) -> np.ndarray:
    """int16 planar test audio: a chirp per channel with gaps (so the VAD has something to do)."""
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * t) * t) * ((t % 1.0) > 0.3)
    return (np.stack([x * (1 - 0.3 * c) for c in range(channels)]) * 32767).astype(np.int16)


def write(path: Path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    data = x.T.astype(np.float32) / 32768 if subtype == "FLOAT" else x.T  # libsndfile does not scale int to float
    sf.write(path, data, rate, subtype=subtype)
    return path


@pytest.mark.parametrize(("ext", "subtype", "dtype"), [("wav", "PCM_16", "int16"), ("flac", "PCM_24", "int32"),
                                                       ("wav", "FLOAT", "float32")])  # fmt: skip
async def test_source_reads_blocks_planar_as_stored(tmp_path: Path, ext: str, subtype: str, dtype: str) -> None:
    x = tone(1.0, 8000)
    path = write(tmp_path / f"in.{ext}", x, 8000, subtype)
    src = AudioFileSource(path, block_duration_ms=300, dtype=None)
    blocks = list(src.blocks())
    assert [b.frames for b in blocks] == [2400, 2400, 2400, 800]
    assert all(b.data.dtype == np.dtype(dtype) and b.data.shape[0] == 2 and b.data.flags.c_contiguous for b in blocks)
    as_float = collect(list(AudioFileSource(path, 300).blocks()))
    np.testing.assert_allclose(as_float.data, x / 32768, atol=1e-7)
    assert as_float.metadata["source_path"] == str(path)


async def test_source_pipeline_streams_without_an_argument_and_run_drives_it(
    runtime_env: tuple[str, Any], tmp_path: Path
) -> None:
    x = tone(2.0, 48000)
    path = write(tmp_path / "in.wav", x, 48000)
    p = Pipeline("file").add_node(AudioFileSource(path, block_duration_ms=130))
    p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(16000)).add_node(VADNode())
    whole = await Pipeline("mem").add_node(AudioResampleNode(16000)).add_node(VADNode()).run((x, 48000))
    streamed = collect([out async for out in p.stream()])
    ran = await p.run()
    for got in (streamed, ran):
        if runtime_env[0] == "rust":
            np.testing.assert_array_equal(got.data, whole.data)
        else:
            np.testing.assert_allclose(got.data, whole.data, atol=1e-5, rtol=0)
        assert got.metadata["vad_segments"] == whole.metadata["vad_segments"]


async def test_sink_writes_blocks_atomically(tmp_path: Path) -> None:
    x = tone(1.5, 16000, channels=1)[0]
    out = tmp_path / "out.flac"
    p = Pipeline("w").add_node(AudioFileSink(out))
    chunks = [(c, 16000) for c in np.array_split(x, 7)]
    seen = []
    async for summary in p.stream(chunks):
        seen.append(summary)
    assert seen == [{"path": str(out), "frames": x.size, "sample_rate": 16000, "channels": 1,
                     "format": "FLAC", "subtype": "PCM_16"}]  # fmt: skip
    back, _ = sf.read(out, dtype="int16")
    np.testing.assert_array_equal(back, x)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["out.flac"]

    # a session: nothing at the path until the end, then the file appears whole
    out2 = tmp_path / "out2.wav"
    q = Pipeline("w2").add_node(AudioFileSink(out2))
    with q.open_stream() as s:
        for c in chunks:
            assert s.push(c) is None
        assert not out2.exists()
        assert s.flush()["frames"] == x.size
    np.testing.assert_array_equal(sf.read(out2, dtype="int16")[0], x)


async def test_failed_stream_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    p = Pipeline("w").add_node(AudioResampleNode(16000)).add_node(AudioFileSink(out))
    x = tone(0.5, 48000, channels=1)[0]
    with pytest.raises(NodeError, match=r"node 'AudioResampleNode'.*stream chunk 2"):
        async for _ in p.stream([(x, 48000), (x, 48000), (x, 44100)]):
            pass
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(NodeError, match=r"node 'AudioFileSource'.*failed in read"):
        await Pipeline("r").add_node(AudioFileSource(tmp_path / "missing.wav")).run()


def test_file_node_arguments_and_manifest_round_trip(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot tell the format of '.*out\.xyz' from its extension"):
        AudioFileSink(tmp_path / "out.xyz")
    with pytest.raises(ValueError, match="format FLAC does not support subtype 'FLOAT'"):
        AudioFileSink(tmp_path / "out.flac", subtype="FLOAT")
    with pytest.raises(ValueError, match="block_duration_ms must be > 0"):
        AudioFileSource("x.wav", block_duration_ms=0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        AudioFileSource("x.wav", dtype="uint8")
    p = Pipeline("files").add_node(AudioFileSource("in.wav", block_duration_ms=20, dtype=None))
    p.add_node(AudioFileSink("out.ogg"))
    m = p.to_manifest()
    assert m["nodes"][0]["params"] == {"path": "in.wav", "block_duration_ms": 20, "dtype": None}
    assert Pipeline.from_manifest(m).to_manifest() == m
    with pytest.raises(TypeError, match="starts with source node"):
        p.open_stream()


async def test_source_pipelines_take_no_input(tmp_path: Path) -> None:
    path = write(tmp_path / "in.wav", tone(0.2, 8000), 8000)
    p = Pipeline("src").add_node(AudioFileSource(path)).add_node(FormatConverterNode("i16"))
    with pytest.raises(TypeError, match="reads its own input; call stream\\(\\) without chunks"):
        async for _ in p.stream([(np.zeros(4, np.int16), 8000)]):
            pass
    with pytest.raises(TypeError, match="takes no input"):
        await p.run((np.zeros(4, np.int16), 8000))
    np.testing.assert_array_equal((await p.run()).data, tone(0.2, 8000))


def _stream_file_peak(tmp_path: Path, seconds: int) -> tuple[int, int]:
    """Traced peak bytes while a generated file streams through the whole pipeline; and the file size."""
    rate = 48000
    src = tmp_path / f"big{seconds}.wav"
    with sf.SoundFile(src, "w", rate, 2, subtype="PCM_16") as f:
        for _ in range(seconds // 2):
            f.write(tone(2.0, rate).T)
    out = tmp_path / "out.wav"
    p = Pipeline("big").add_node(AudioFileSource(src, block_duration_ms=250))
    p.add_node(FormatConverterNode("f32")).add_node(AudioResampleNode(16000)).add_node(VADNode())
    p.add_node(AudioFileSink(out))
    tracemalloc.start()
    try:
        summary = p.run_sync()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary["frames"] == seconds * 16000 and sf.info(out).frames == seconds * 16000
    return peak, src.stat().st_size


def test_memory_stays_bounded_by_the_block_size(tmp_path: Path) -> None:
    """Stereo 48 kHz int16 files of 30 s and 120 s (23 MB; a quarter of that on numpy
    kernels, which are slower) through source -> convert -> resample -> VAD -> sink.

    Measured with tracemalloc (numpy buffers are traced, so every block,
    queued chunk and kernel output counts; the Rust core's own filter
    tables are not): the peak must not grow with the file (4x longer file,
    < 1.25x the peak) and, on the native path, stays under a quarter of the file.
    """
    native = kernels.get().name == "rust"
    short = 30 if native else 8
    small, _ = _stream_file_peak(tmp_path, short)
    large, size = _stream_file_peak(tmp_path, 4 * short)
    assert large < 1.25 * small, (small, large)
    if native:  # the numpy resampler's temporaries alone are a few MB per 250 ms block
        assert large < size / 4, (large, size)


async def test_cancelled_stream_deletes_the_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    p = Pipeline("tap")
    p.connect(FormatConverterNode("f32", name="conv"), AudioFileSink(out, name="sink"))
    p.connect("conv", AudioResampleNode(16000, name="monitor"))
    x = tone(2.0, 48000, channels=1)[0]
    chunks = [(c, 48000) for c in np.array_split(x, 20)]
    async for sink, _ in p.stream(chunks, queue_size=2):
        assert sink == "monitor"
        (tmp,) = tmp_path.iterdir()  # blocks are going to the temporary file (the package's one naming)
        assert is_temporary(tmp) and tmp.name.startswith(".out.wav.")
        break
    for _ in range(100):  # let the finalizer of the abandoned stream run
        if not any(tmp_path.iterdir()):
            break
        await asyncio.sleep(0)
    assert list(tmp_path.iterdir()) == []

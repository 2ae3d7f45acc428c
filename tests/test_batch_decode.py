"""Decoding into the dtype the first node wants: int16 for 16-bit files before a converter, same results."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import speech_like
from remotemedia import Pipeline
from remotemedia.batch import decode, presets, readahead, run_batch, streamfile, worker_plan
from remotemedia.batch.job import FileTask, pipeline_hash

SPECS = [
    (48000, 2, "wav", "PCM_16"),
    (44100, 1, "flac", "PCM_16"),
    (22050, 3, "wav", "PCM_16"),
    (16000, 1, "wav", "PCM_U8"),
    (48000, 1, "wav", "PCM_24"),
    (16000, 2, "wav", "FLOAT"),
]


def _speech_16k(**first: Any) -> Pipeline:
    manifest = presets.load("speech-16k")
    manifest["nodes"][0]["params"].update(first)
    return Pipeline.from_manifest(manifest)


@pytest.mark.parametrize(
    ("subtype", "wanted"),
    [("PCM_16", "int16"), ("PCM_U8", "int16"), ("PCM_24", "float32"), ("FLOAT", "float32"), ("VORBIS", "float32")],
)
def test_a_converter_first_gets_int16_when_int16_holds_the_samples(subtype: str, wanted: str) -> None:
    assert decode.first_node_wants(_speech_16k(), subtype) == wanted
    assert decode.first_node_wants(_speech_16k(target_format="i16"), subtype) == wanted


def test_other_first_nodes_get_float32() -> None:
    manifest = presets.load("speech-16k")
    manifest["nodes"] = manifest["nodes"][1:]  # starts with the downmix
    manifest["connections"] = manifest["connections"][1:]
    assert decode.first_node_wants(Pipeline.from_manifest(manifest), "PCM_16") == "float32"


@pytest.mark.parametrize("channels", [1, 2, 5])
def test_blocks_are_planar_contiguous_and_cover_the_file(tmp_path: Path, channels: int) -> None:
    x = (np.arange(2501 * channels, dtype=np.int64).reshape(2501, channels) % 6000 - 3000).astype(np.int16)
    sf.write(tmp_path / "a.wav", x, 8000, subtype="PCM_16")
    with sf.SoundFile(tmp_path / "a.wav") as f:
        blocks = list(decode.planar_blocks(f, 1000, "int16"))
    assert [b.shape[-1] for b in blocks] == [1000, 1000, 501]
    assert all(b.dtype == np.int16 and b.flags.c_contiguous and b.ndim == (1 if channels == 1 else 2) for b in blocks)
    joined = np.concatenate(blocks, axis=-1)
    np.testing.assert_array_equal(joined, x[:, 0] if channels == 1 else x.T)


def _outputs(out: Path) -> dict[str, tuple[np.ndarray, list[Any]]]:
    got = {}
    for wav in sorted(out.rglob("*.wav")):
        sidecar = json.loads(wav.with_name(wav.name + ".json").read_text())
        got[wav.name] = (sf.read(wav, dtype="float32")[0], sidecar["speech_segments"])
    return got


def test_int16_decode_gives_the_float32_decode_results_bit_for_bit(
    tmp_path: Path, runtime_env: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "in").mkdir()
    for i, (rate, ch, ext, subtype) in enumerate(SPECS):
        data = speech_like(1.5 + 0.3 * i, rate, seed=i, channels=ch)
        sf.write(tmp_path / "in" / f"c{i}.{ext}", data, rate, subtype=subtype)
    seen: list[str] = []
    chosen = decode.first_node_wants

    def spy(pipeline: Any, subtype: str) -> str:
        seen.append(chosen(pipeline, subtype))
        return seen[-1]

    monkeypatch.setattr(streamfile, "first_node_wants", spy)
    monkeypatch.setenv(readahead.ENV, "0")  # every file streamed in turn (the reader's choice: below)
    worker_plan.clear()
    assert run_batch([tmp_path / "in"], "speech-16k", tmp_path / "i16", workers=1, progress="none").ok == len(SPECS)
    assert sorted(seen) == sorted(["int16"] * 4 + ["float32"] * 2)
    monkeypatch.setattr(streamfile, "first_node_wants", lambda pipeline, subtype: "float32")
    worker_plan.clear()
    assert run_batch([tmp_path / "in"], "speech-16k", tmp_path / "f32", workers=1, progress="none").ok == len(SPECS)
    a, b = _outputs(tmp_path / "i16"), _outputs(tmp_path / "f32")
    assert sorted(a) == sorted(b) and len(a) == len(SPECS)
    for name in a:
        np.testing.assert_array_equal(a[name][0], b[name][0])
        assert a[name][1] == b[name][1]


def test_the_reader_decodes_into_the_dtype_the_streaming_path_chooses(
    tmp_path: Path, runtime_env: tuple[str, str | None]
) -> None:
    manifest = presets.load("speech-16k")
    digest = pipeline_hash(manifest, "wav")
    pipeline = _speech_16k()
    for i, (rate, ch, ext, subtype) in enumerate(SPECS):
        path = tmp_path / f"c{i}.{ext}"
        sf.write(path, speech_like(1.0, rate, seed=i, channels=ch), rate, subtype=subtype)
        task = FileTask(str(path), path.name, str(tmp_path / "out"), manifest, digest)
        ahead = readahead.read(task, decode.takes_int16(pipeline), threading.Event())
        assert ahead.decoded is not None and ahead.decoded.blocks, subtype
        with sf.SoundFile(path) as f:
            streamed = list(
                decode.planar_blocks(f, streamfile.BLOCK_SECONDS * rate, decode.first_node_wants(pipeline, subtype))
            )
        assert [b.dtype for b in ahead.decoded.blocks] == [b.dtype for b in streamed], subtype
        for got, want in zip(ahead.decoded.blocks, streamed, strict=True):
            np.testing.assert_array_equal(got, want)

"""Manifest and label writers, input lists and options, used from Python without the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from remotemedia.batch import presets, run_batch
from remotemedia.dataset import (
    DatasetOptions,
    Utterance,
    read_list,
    read_manifest,
    utterances_from_sidecar,
    write_audacity_labels,
    write_csv_labels,
    write_hf_metadata,
    write_jsonl_manifest,
    write_nemo_manifest,
    write_rttm,
)
from remotemedia.dataset.options import apply_to_manifest, check

SEGMENTS = [(0.5, 1.25), (2.0, 3.123457)]


def test_label_files_have_their_formats(tmp_path: Path) -> None:
    rttm = write_rttm(tmp_path / "a b.rttm", SEGMENTS, uri="my call")
    assert rttm.read_text().splitlines() == [
        "SPEAKER my_call 1 0.500000 0.750000 <NA> <NA> speech <NA> <NA>",
        "SPEAKER my_call 1 2.000000 1.123457 <NA> <NA> speech <NA> <NA>",
    ]
    aud = write_audacity_labels(tmp_path / "a.txt", SEGMENTS, label="talk")
    assert aud.read_text() == "0.500000\t1.250000\ttalk\n2.000000\t3.123457\ttalk\n"
    table = write_csv_labels(tmp_path / "a.csv", SEGMENTS).read_text().splitlines()
    assert table[0] == "start_s,end_s,duration_s,label" and table[2] == "2.000000,3.123457,1.123457,speech"
    assert write_rttm(tmp_path / "none.rttm", []).read_text() == ""
    assert not list(tmp_path.glob(".*rmtmp*"))  # written through a temporary, renamed


def test_manifests_from_utterances(tmp_path: Path) -> None:
    audio = tmp_path / "out" / "sub" / "x_0000.wav"
    audio.parent.mkdir(parents=True)
    sf.write(audio, np.zeros(800, np.float32), 16000, subtype="PCM_16")
    u = Utterance(str(audio), 0.05, 0.0, "/data/x.flac", 1.0, 1.05, 0, 16000, 1, "WAV", "PCM_16", "segments")
    (row,) = [json.loads(line) for line in write_nemo_manifest(tmp_path / "n.jsonl", [u]).read_text().splitlines()]
    assert row == {
        "audio_filepath": str(audio),
        "duration": 0.05,
        "offset": 0.0,
        "text": "",
        "source": "/data/x.flac",
        "start_s": 1.0,
        "end_s": 1.05,
    }
    hf = write_hf_metadata(tmp_path / "out", [u])
    assert hf.name == "metadata.jsonl" and json.loads(hf.read_text())["file_name"] == "sub/x_0000.wav"
    assert json.loads(write_jsonl_manifest(tmp_path / "j.jsonl", [u]).read_text()) == u.to_dict()
    with pytest.raises(ValueError, match="not inside"):
        write_hf_metadata(tmp_path / "elsewhere", [u])


def test_utterances_of_cut_none_point_into_the_source() -> None:
    record = {
        "cut": "none",
        "input": {"path": "/data/a.wav", "sample_rate": 44100, "channels": 2},
        "output": {"format": "WAV", "subtype": "PCM_16"},
        "speech_segments": SEGMENTS,
    }
    rows = utterances_from_sidecar(record)
    assert [(r.audio_filepath, r.offset, r.duration, r.index) for r in rows] == [
        ("/data/a.wav", 0.5, 0.75, 0),
        ("/data/a.wav", 2.0, 1.123457, 1),
    ]


def test_input_lists_resolve_relative_to_the_file_and_mirror(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "l.txt").write_text("../a/x.wav\n# note\n\n../b/c/y.wav\n")
    got = read_list(tmp_path / "lists" / "l.txt")
    assert [(i.path.resolve(), i.relpath) for i in got] == [
        ((tmp_path / "a" / "x.wav").resolve(), "a/x.wav"),
        ((tmp_path / "b" / "c" / "y.wav").resolve(), "b/c/y.wav"),
    ]
    lines = [{"audio_filepath": "a/x.wav"}, {"audio_filepath": "a/x.wav", "offset": 1.5, "duration": 2}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    got = read_manifest(tmp_path / "m.jsonl")
    assert [(i.relpath, i.offset_s, i.duration_s) for i in got] == [
        ("x.wav", 0.0, None),
        ("x_000001500ms.wav", 1.5, 2.0),
    ]
    (tmp_path / "bad.jsonl").write_text('{"audio_filepath": "a.wav", "offset": -1}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1: offset must be a number >= 0"):
        read_manifest(tmp_path / "bad.jsonl")
    (tmp_path / "bad2.jsonl").write_text('{"path": "a.wav"}\n')
    with pytest.raises(ValueError, match=r"bad2.jsonl:1: expected a JSON object with an 'audio_filepath'"):
        read_manifest(tmp_path / "bad2.jsonl")


def test_options_rebuild_the_preset() -> None:
    base = presets.load("speech-16k")
    m = apply_to_manifest(base, DatasetOptions(cut="segments", rate=8000, channels="keep", pad_ms=10), preset=True)
    ids = [n["id"] for n in m["nodes"]]
    assert "mono" not in ids and {"from": "to_float", "to": "resample"} in m["connections"]
    assert next(n for n in m["nodes"] if n["id"] == "resample")["params"]["target_rate"] == 8000
    vad = next(n for n in m["nodes"] if n["id"] == "vad")["params"]
    assert vad["mode"] == "annotate" and vad["padding_ms"] == 10
    no_vad = apply_to_manifest(base, DatasetOptions(vad=False), preset=True)
    assert [n["node_type"] for n in no_vad["nodes"]][-1] == "AudioResampleNode"
    assert base == presets.load("speech-16k")  # the input is not modified
    with pytest.raises(ValueError, match="apply to the speech-16k preset"):
        apply_to_manifest(base, DatasetOptions(rate=8000), preset=False)
    with pytest.raises(ValueError, match="--format ogg cannot hold PCM_16"):
        check(DatasetOptions(subtype="PCM_16"), "ogg")


def test_run_batch_with_dataset_options_from_python(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 6) / 16000
    gate = ((t > 1) & (t < 2.5)) | ((t > 3.5) & (t < 5))
    x = 0.3 * gate * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 4 * t)) + 0.001 * rng.standard_normal(t.size)
    sf.write(tmp_path / "a.wav", x.astype(np.float32), 16000)
    options = DatasetOptions(cut="segments", manifests=("nemo",), labels=("rttm",))
    summary = run_batch(
        [tmp_path / "a.wav"], "speech-16k", tmp_path / "out", workers=1, progress="none", dataset=options
    )
    assert summary.ok == 1 and set(summary.written) == {"nemo"}
    rows = [json.loads(line) for line in (tmp_path / "out" / "nemo_manifest.jsonl").read_text().splitlines()]
    assert [Path(r["audio_filepath"]).name for r in rows] == ["a_0000.wav", "a_0001.wav"]
    assert (tmp_path / "out" / "a.rttm").read_text().count("SPEAKER") == 2


def test_an_input_without_speech_gives_no_manifest_row() -> None:
    record = {
        "cut": "edges",
        "input": {"path": "/data/quiet.wav", "sample_rate": 16000, "channels": 1},
        "output": {"path": "/out/quiet.wav", "format": "WAV", "subtype": "PCM_16", "sample_rate": 16000},
        "outputs": [{"path": "/out/quiet.wav", "size": 44, "frames": 0, "duration_s": 0.0, "start_s": 0, "end_s": 0}],
        "speech_segments": [],
    }
    assert utterances_from_sidecar(record) == []
    record["outputs"][0].update(frames=16000, duration_s=1.0, end_s=1.0)
    record["text"] = "a transcript from --from-manifest"
    (row,) = utterances_from_sidecar(record)
    assert (row.audio_filepath, row.duration, row.end_s, row.cut) == ("/out/quiet.wav", 1.0, 1.0, "edges")
    assert row.text == "a transcript from --from-manifest"  # the file holds the whole span: its text goes along


@pytest.mark.parametrize("cut", ["concat", "segments", "edges", "none"])
def test_a_silent_span_is_ok_in_every_cut_mode(tmp_path: Path, cut: str) -> None:
    from remotemedia.dataset import SpanInput

    sf.write(tmp_path / "quiet.wav", np.zeros(32000, np.float32), 16000)
    span = SpanInput(tmp_path / "quiet.wav", "quiet_span.wav", offset_s=0.5, duration_s=1.0)
    options = DatasetOptions(cut=cut, manifests=("nemo",), labels=("csv",))
    summary = run_batch([span], "speech-16k", tmp_path / "out", workers=1, progress="none", dataset=options)
    assert (summary.ok, summary.failed) == (1, 0), summary.failures
    sidecar = json.loads((tmp_path / "out" / "quiet_span.wav.json").read_text())
    assert sidecar["speech_segments"] == [] and sidecar["input"]["duration_s"] == 1.0
    assert (tmp_path / "out" / "nemo_manifest.jsonl").read_text() == ""
    assert (tmp_path / "out" / "quiet_span.segments.csv").read_text() == "start_s,end_s,duration_s,label\n"
    assert (tmp_path / "out" / "quiet_span.wav").exists() == (cut in ("concat", "edges"))


def test_an_input_listed_twice_is_processed_once(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "l.txt").write_text("a.wav\na.wav\n")
    summary = run_batch(
        read_list(tmp_path / "l.txt"),
        "speech-16k",
        tmp_path / "out",
        workers=1,
        progress="none",
        dataset=DatasetOptions(cut="none"),
    )
    assert (summary.files, summary.ok) == (1, 1)


def test_default_options_resume_a_run_made_without_them(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    first = run_batch([tmp_path / "a.wav"], "speech-16k", tmp_path / "out", workers=1, progress="none")
    assert first.ok == 1
    again = run_batch(
        [tmp_path / "a.wav"],
        "speech-16k",
        tmp_path / "out",
        workers=1,
        progress="none",
        resume=True,
        dataset=DatasetOptions(manifests=("nemo",)),
    )
    assert again.skipped == 1  # same work: nothing redone; the manifest comes from the sidecar
    other = run_batch(
        [tmp_path / "a.wav"],
        "speech-16k",
        tmp_path / "out",
        workers=1,
        progress="none",
        resume=True,
        dataset=DatasetOptions(cut="edges"),
    )
    assert (other.skipped, other.ok) == (0, 1)  # another cut: redone

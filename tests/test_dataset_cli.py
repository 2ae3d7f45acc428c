"""Dataset outputs through the real command line, on a generated collection.

The collection (tests/dataset_helpers.py): speech with long pauses (mono
16 kHz, stereo 44.1 kHz flac), 90 s of continuous speech with short pauses
(48 kHz), an 8 kHz file and, with PyAV, AAC in m4a. Every silence in the
sources is digital zero, so a cut "inside a pause" is checked on the
source audio itself.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import signal
import subprocess
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from batch_helpers import run_cli
from dataset_helpers import have_av, make_dataset_collection
from remotemedia.dataset.reader import open_input

SEGMENTS = [
    "in",
    "--cut",
    "segments",
    "--max-segment-s",
    "30",
    "--rate",
    "16000",
    *("--manifest", "nemo", "--manifest", "hf", "--manifest", "jsonl"),
    *("--labels", "rttm", "--labels", "audacity", "--labels", "csv"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dataset")
    make_dataset_collection(base / "in")
    return base


@pytest.fixture(scope="module")
def seg(root: Path) -> Path:
    done = run_cli(*SEGMENTS, "-o", "seg", "--workers", "2", cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "seg"


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def source_audio(path: str) -> tuple[np.ndarray, int]:
    """The whole source, mono float32, decoded as the batch job decodes it."""
    decoded = open_input(Path(path), 10)
    x = np.concatenate(list(decoded.blocks))
    return x.mean(axis=1), decoded.sample_rate


def by_source(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r["source"]].append(r)
    return {k: sorted(v, key=lambda r: r["start_s"]) for k, v in out.items()}


def test_segments_are_at_most_30_s_cut_inside_pauses_and_match_the_manifest(root: Path, seg: Path) -> None:
    rows = jsonl(seg / "nemo_manifest.jsonl")
    sources = by_source(rows)
    expected = 5 if have_av() else 4
    assert len(sources) == expected
    for r in rows:
        info = sf.info(r["audio_filepath"])
        assert info.subtype == "PCM_16" and info.samplerate == 16000 and info.channels == 1
        assert abs(info.frames / info.samplerate - r["duration"]) < 1e-6  # the manifest's duration is the file's
        assert r["duration"] <= 30.0 and r["offset"] == 0.0
        assert abs((r["end_s"] - r["start_s"]) - r["duration"]) < 1e-5
    long_rows = next(v for k, v in sources.items() if k.endswith("continuous.wav"))
    assert sum(r["duration"] for r in long_rows) > 75  # continuous speech: kept, in pieces
    cuts = 0
    for source, items in sources.items():
        x, rate = source_audio(source)
        run = [items[0]]  # pieces of one VAD segment: each one starts where the last ended
        for a, b in itertools.pairwise(items):
            assert a["end_s"] <= b["start_s"]
            if a["end_s"] != b["start_s"]:
                assert_cut_enough(run)
                run = [b]
                continue  # the VAD ended the segment: not a cut
            run.append(b)
            cuts += 1
            t = round(a["end_s"] * rate)
            around = x[max(0, t - rate // 100) : t + rate // 100]
            assert np.abs(around).max() < 0.02, (source, a["end_s"])  # inside a pause of the source
        assert_cut_enough(run)
    # the 90 s file has a VAD segment over 30 s (how many depends on the test
    # speech: espeak-ng's or the harmonic bursts without it), so there were cuts
    assert cuts >= 1


def assert_cut_enough(pieces: list[dict[str, Any]]) -> None:
    """A VAD segment of span S came out in at least ceil(S / 30 s) pieces."""
    span = pieces[-1]["end_s"] - pieces[0]["start_s"]
    assert len(pieces) >= math.ceil(span / 30.0 - 1e-9), (pieces[0]["source"], span, len(pieces))


def test_hf_audiofolder_loads_every_row_at_the_requested_rate(
    seg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # a local folder: nothing to fetch
    with warnings.catch_warnings():  # third-party import-time deprecations are not ours to fail on
        warnings.simplefilter("ignore")
        datasets = pytest.importorskip("datasets", reason="the 'datasets' package (test extra) is not installed")
        pytest.importorskip("librosa", reason="datasets decodes audio with librosa (test extra)")
    rows = jsonl(seg / "metadata.jsonl")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = datasets.load_dataset("audiofolder", data_dir=str(seg), split="train", cache_dir=str(tmp_path / "hf"))
        assert ds.num_rows == len(rows) == len(jsonl(seg / "nemo_manifest.jsonl"))
        assert {"audio", "source", "start_s", "end_s", "duration"} <= set(ds.column_names)
        for item in ds:
            audio = item["audio"]
            assert audio["sampling_rate"] == 16000
            assert abs(len(audio["array"]) / 16000 - item["duration"]) < 1e-6
            assert item["start_s"] < item["end_s"]


def source_duration(sidecar: dict[str, Any]) -> float:
    return float(sidecar["input"]["duration_s"])


def test_labels_parse_and_lie_inside_the_source(seg: Path) -> None:
    sidecars = sorted(seg.rglob("*.wav.json"))
    assert len(sidecars) == (5 if have_av() else 4)
    for sidecar_path in sidecars:
        sidecar = json.loads(sidecar_path.read_text())
        duration = source_duration(sidecar)
        stem = sidecar_path.name[: -len(".wav.json")]
        segments = [tuple(s) for s in sidecar["speech_segments"]]
        assert segments and all(round(t, 6) == t for s in segments for t in s)  # one precision
        rttm = (sidecar_path.parent / f"{stem}.rttm").read_text().splitlines()
        got = []
        for line in rttm:
            f = line.split()
            assert len(f) == 10 and f[0] == "SPEAKER" and f[2] == "1" and f[7] == "speech"
            onset, dur = float(f[3]), float(f[4])
            assert onset >= 0 and dur > 0 and onset + dur <= duration + 1e-6
            got.append((onset, onset + dur))
        np.testing.assert_allclose(got, segments, atol=2e-6)
        aud = (sidecar_path.parent / f"{stem}.audacity.txt").read_text().splitlines()
        spans = [tuple(map(float, line.split("\t")[:2])) for line in aud]
        assert all(len(line.split("\t")) == 3 for line in aud)
        assert all(0 <= a < b <= duration + 1e-6 for a, b in spans)
        np.testing.assert_allclose(spans, segments, atol=2e-6)
        with open(sidecar_path.parent / f"{stem}.segments.csv") as fh:
            table = list(csv.DictReader(fh))
        np.testing.assert_allclose([(float(r["start_s"]), float(r["end_s"])) for r in table], segments, atol=2e-6)


def test_edges_keeps_the_pauses_inside_and_keeps_channels(root: Path) -> None:
    args = ["in/talk", "-o", "edges", "--cut", "edges", "--rate", "8000", "--channels", "keep", "--workers", "1"]
    done = run_cli(*args, "--manifest", "nemo", cwd=root)
    assert done.returncode == 0, done.stderr
    for name, channels in (("pauses.wav", 1), ("pauses_stereo.wav", 2)):
        out = root / "edges" / name
        sidecar = json.loads(out.with_name(name + ".json").read_text())
        x, rate = sf.read(out, always_2d=True)
        info = sf.info(out)
        assert (rate, x.shape[1], info.subtype) == (8000, channels, "PCM_16")
        segments = sidecar["speech_segments"]
        assert len(segments) >= 3
        span = segments[-1][1] - segments[0][0]
        assert abs(x.shape[0] / rate - span) < 1e-6  # first start to last end, nothing removed inside
        speech = sum(b - a for a, b in segments)
        assert x.shape[0] / rate > speech + 2.0  # the pauses between segments are still there
        quiet = np.abs(x).max(axis=1) < 1e-3
        longest, run = 0, 0
        for q in quiet:
            run = run + 1 if q else 0
            longest = max(longest, run)
        assert longest / rate > 0.8  # an internal pause of the source, kept
    rows = jsonl(root / "edges" / "nemo_manifest.jsonl")
    assert len(rows) == 2 and all(r["offset"] == 0.0 for r in rows)


def test_none_writes_no_audio_and_the_manifest_points_into_the_sources(root: Path, seg: Path) -> None:
    args = ["in", "-o", "none", "--cut", "none", "--max-segment-s", "30", "--workers", "2"]
    done = run_cli(*args, "--manifest", "nemo", "--labels", "rttm", cwd=root)
    assert done.returncode == 0, done.stderr
    audio = [p for p in (root / "none").rglob("*") if p.suffix in (".wav", ".flac", ".m4a")]
    assert audio == []
    rows = jsonl(root / "none" / "nemo_manifest.jsonl")
    for r in rows:
        assert r["audio_filepath"] == r["source"] and r["offset"] == r["start_s"]
        assert abs(r["duration"] - (r["end_s"] - r["start_s"])) < 1e-6
    # the same segments as the run that wrote them as files
    spans = sorted((r["source"], r["start_s"], r["end_s"]) for r in rows)
    assert spans == sorted((r["source"], r["start_s"], r["end_s"]) for r in jsonl(seg / "nemo_manifest.jsonl"))


def normalised(out: Path) -> dict[str, str]:
    """Manifests and labels of a run with its output folder's name taken out."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.suffix in (".jsonl", ".rttm", ".txt", ".csv") and not p.name.startswith("_remotemedia"):
            files[p.relative_to(out).as_posix()] = p.read_text().replace(str(out.resolve()), "OUT")
    return files


def test_resume_after_a_kill_gives_the_manifests_of_a_clean_run(root: Path, seg: Path) -> None:
    cmd = [sys.executable, "-m", "remotemedia", "run", *SEGMENTS, "-o", "killed", "--workers", "1"]
    proc = subprocess.Popen(
        [*cmd, "--progress", "lines"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # kill as soon as the first file is done
        if line.startswith("[1/"):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert not (root / "killed" / "nemo_manifest.jsonl").exists()  # killed before the end
    done = run_cli(*SEGMENTS, "-o", "killed", "--workers", "1", "--resume", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["skipped"] >= 1
    assert normalised(root / "killed") == normalised(seg)
    again = run_cli(*SEGMENTS, "-o", "killed", "--workers", "1", "--resume", "--json", cwd=root)
    assert json.loads(again.stdout)["skipped"] == json.loads(again.stdout)["files"]
    assert normalised(root / "killed") == normalised(seg)


def test_concat_of_a_pyav_input_keeps_source_times(root: Path, seg: Path) -> None:
    if not have_av():
        pytest.skip("PyAV (test extra) is not installed: no m4a input")
    done = run_cli("in/phone/memo.m4a", "-o", "concat_m4a", "--workers", "1", cwd=root)
    assert done.returncode == 0, done.stderr
    sidecar = json.loads((root / "concat_m4a" / "memo.wav.json").read_text())
    segments = json.loads((seg / "phone" / "memo.wav.json").read_text())["speech_segments"]
    assert sidecar["input"]["decoder"] == "pyav" and sidecar["speech_segments"] == segments
    x, rate = sf.read(root / "concat_m4a" / "memo.wav")
    assert abs(x.size / rate - sum(b - a for a, b in segments)) < 1e-3  # the speech, back to back


def test_concat_default_is_16_bit_and_the_sidecar_says_so(root: Path) -> None:
    done = run_cli("in/phone/call.wav", "-o", "concat", "--workers", "1", cwd=root)
    assert done.returncode == 0, done.stderr
    out = root / "concat" / "call.wav"
    sidecar = json.loads((root / "concat" / "call.wav.json").read_text())
    assert sf.info(out).subtype == "PCM_16"
    assert (sidecar["cut"], sidecar["output"]["format"], sidecar["output"]["subtype"]) == ("concat", "WAV", "PCM_16")
    assert all(round(t, 6) == t for s in sidecar["speech_segments"] for t in s)
    float_run = run_cli("in/phone/call.wav", "-o", "float", "--subtype", "FLOAT", "--workers", "1", cwd=root)
    assert float_run.returncode == 0, float_run.stderr
    assert sf.info(root / "float" / "call.wav").subtype == "FLOAT"


def test_merge_up_to_s_joins_neighbours(root: Path, seg: Path) -> None:
    args = ["in/talk", "-o", "merged", "--cut", "segments", "--merge-up-to-s", "6", "--manifest", "nemo"]
    done = run_cli(*args, "--workers", "1", cwd=root)
    assert done.returncode == 0, done.stderr
    merged = by_source(jsonl(root / "merged" / "nemo_manifest.jsonl"))
    parts = by_source(jsonl(seg / "nemo_manifest.jsonl"))
    assert sum(map(len, merged.values())) < sum(len(parts[s]) for s in merged)
    for source, rows in merged.items():
        starts = [p["start_s"] for p in parts[source]]
        ends = [p["end_s"] for p in parts[source]]
        for r in rows:  # each file is a run of whole segments and the pauses between them
            assert r["start_s"] in starts and r["end_s"] in ends and r["duration"] <= 6.0 + 1e-6
            x, rate = sf.read(r["audio_filepath"])
            assert abs(x.size / rate - (r["end_s"] - r["start_s"])) < 1e-5


def test_from_list_and_from_manifest_spans(root: Path) -> None:
    (root / "list.txt").write_text("# two files\nin/talk/pauses.wav\n\nin/phone/call.wav\n")
    spans = [{"audio_filepath": "in/long/continuous.wav", "offset": 10.0, "duration": 20.0, "text": "x"}]
    (root / "spans.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    args = ["--from-list", "list.txt", "--from-manifest", "spans.jsonl", "-o", "listed", "--cut", "segments"]
    done = run_cli(*args, "--manifest", "nemo", "--workers", "1", cwd=root)
    assert done.returncode == 0, done.stderr
    rows = by_source(jsonl(root / "listed" / "nemo_manifest.jsonl"))
    assert len(rows) == 3
    long_rows = rows[str((root / "in" / "long" / "continuous.wav").resolve())]
    assert all(10.0 <= r["start_s"] < r["end_s"] <= 30.0 + 1e-6 for r in long_rows)
    assert sum(r["duration"] for r in long_rows) > 15
    assert Path(long_rows[0]["audio_filepath"]).name == "continuous_000010000ms_0000.wav"
    assert {r["text"] for r in long_rows} == {""}  # several segments: the span's transcript fits none of them
    edges = run_cli(
        "--from-manifest", "spans.jsonl", "-o", "spans_edges", "--cut", "edges", "--manifest", "nemo", cwd=root
    )
    assert edges.returncode == 0, edges.stderr
    (row,) = jsonl(root / "spans_edges" / "nemo_manifest.jsonl")
    assert row["text"] == "x" and 10.0 <= row["start_s"] < row["end_s"] <= 30.0 + 1e-6
    listed = sorted(p.relative_to(root / "listed").as_posix() for p in (root / "listed").rglob("*.wav.json"))
    # each file's outputs mirror its entries below their common folder
    assert listed == ["continuous_000010000ms.wav.json", "phone/call.wav.json", "talk/pauses.wav.json"]


def test_a_container_without_pyav_is_a_recorded_failure_naming_the_extra(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    (hide / "av").mkdir(parents=True)
    (hide / "av" / "__init__.py").write_text("raise ImportError('PyAV hidden for this test')\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "memo.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + os.urandom(500))
    pythonpath = os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])
    done = run_cli("in", "-o", "out", "--workers", "1", cwd=tmp_path, env={"PYTHONPATH": pythonpath})
    assert done.returncode == 1
    (failure,) = jsonl(tmp_path / "out" / "_remotemedia_failures.jsonl")
    assert failure["node"] == "read" and "pip install 'remotemedia[ffmpeg]'" in failure["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "flac", "--subtype", "FLOAT"], "--format flac cannot hold FLOAT"),
        (["--rate", "22050"], "supports 8000, 16000, 32000, 44100, 48000 Hz"),
        (["--cut", "none", "--manifest", "hf"], "--manifest hf needs audio files"),
        (["--max-segment-s", "0"], "--max-segment-s must be > 0"),
        (["--from-manifest", "missing.jsonl"], "missing.jsonl"),
    ],
)
def test_bad_options_exit_2_with_the_reason(tmp_path: Path, args: list[str], message: str) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    done = run_cli("a.wav", "-o", "out", *args, cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_pipeline_options_are_refused_with_a_manifest_file(tmp_path: Path) -> None:
    from remotemedia.batch import presets

    (tmp_path / "p.json").write_text(json.dumps(presets.load("speech-16k")))
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    done = run_cli("p.json", "a.wav", "-o", "out", "--rate", "8000", cwd=tmp_path)
    assert done.returncode == 2 and "--rate apply to the speech-16k preset" in done.stderr


def test_help_groups_the_options_with_defaults(tmp_path: Path) -> None:
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for text in (
        "output audio:",
        "segment length:",
        "voice activity detection",
        "manifests and labels",
        "--cut {concat,segments,edges,none}",
        "--subtype {PCM_16,PCM_24,FLOAT}",
        "(default: 30)",
        "(default 300)",
        "--no-vad",
        "--from-manifest",
    ):
        assert text in " ".join(done.stdout.split()), text


def test_no_vad_cuts_the_whole_input_into_pieces_at_any_rate(root: Path) -> None:
    args = ["in/long", "-o", "novad", "--no-vad", "--cut", "segments", "--rate", "22050", "--max-segment-s", "40"]
    done = run_cli(*args, "--manifest", "nemo", "--workers", "1", cwd=root)
    assert done.returncode == 0, done.stderr
    rows = jsonl(root / "novad" / "nemo_manifest.jsonl")
    assert [(r["start_s"], r["end_s"]) for r in rows] == [(0.0, 40.0), (40.0, 80.0), (80.0, 90.0)]
    for r in rows:
        info = sf.info(r["audio_filepath"])
        assert info.samplerate == 22050 and info.frames == round(r["duration"] * 22050)


def test_the_run_streams_the_segments_offline_speech_segments_gives(seg: Path, root: Path) -> None:
    import remotemedia

    x, rate = sf.read(root / "in" / "talk" / "pauses.wav", dtype="float32")  # 16 kHz mono: nothing to convert
    offline = remotemedia.speech_segments(x, rate, max_segment_s=30)
    sidecar = json.loads((seg / "talk" / "pauses.wav.json").read_text())
    assert sidecar["speech_segments"] == [[round(a, 6), round(b, 6)] for a, b in offline]


def test_a_rerun_with_other_lengths_leaves_only_its_own_files(root: Path) -> None:
    def run(max_s: str) -> tuple[set[str], set[str]]:
        args = ["in/long/continuous.wav", "-o", "rerun", "--cut", "segments", "--max-segment-s", max_s]
        done = run_cli(*args, "--resume", "--manifest", "nemo", "--workers", "1", cwd=root)
        assert done.returncode == 0, done.stderr
        listed = {Path(r["audio_filepath"]).name for r in jsonl(root / "rerun" / "nemo_manifest.jsonl")}
        return listed, {p.name for p in (root / "rerun").glob("*.wav")}

    many, files = run("8")
    assert many == files and len(many) >= 11  # 90 s in pieces of at most 8 s
    few, files = run("30")
    assert few == files and len(few) < len(many)  # the other run's extra pieces are gone
